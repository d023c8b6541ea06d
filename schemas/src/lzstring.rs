//! LZ-string `compressToEncodedURIComponent` / `decompressFromEncodedURIComponent`, the wrapper
//! Ego-Exo4D puts around COCO counts strings (`encodedMask`), through the `lz-str` crate.

use crate::error::{Error, Result};

/// The URI-safe alphabet of lz-string (`keyStrUriSafe`), in value order.
const URI_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-$";

/// Decodes an LZ-string URI-component stream into the string it carries.
///
/// Two things are done here on top of `lz-str`, both because the crate gets them wrong
/// for our inputs:
/// - characters outside the alphabet are an error (the crate skips them silently, which
///   turns a corrupt stream into a different, wrong mask);
/// - a zero symbol is appended: the decoder reads one symbol ahead and fails on a stream
///   that ends exactly on a symbol boundary, where the reference JS decoder reads zeros
///   (formats/egoexo4d.md 5.2). Bits after the end code are never interpreted.
///
/// ```
/// use crossview_schemas::lzstring;
/// assert_eq!(lzstring::decompress_from_encoded_uri("MwJgLEA").unwrap(), "324");
/// ```
pub fn decompress_from_encoded_uri(encoded: &str) -> Result<String> {
    if encoded.is_empty() {
        return Err(Error::LzString {
            reason: "empty stream".into(),
        });
    }
    let mut padded = String::with_capacity(encoded.len() + 1);
    for (at, ch) in encoded.chars().enumerate() {
        // JS URI decoding may have turned '+' into ' '; the reference maps it back.
        let ch = if ch == ' ' { '+' } else { ch };
        if !ch.is_ascii() || !URI_ALPHABET.contains(&(ch as u8)) {
            return Err(Error::LzString {
                reason: format!("character {ch:?} at position {at} is not in the URI alphabet"),
            });
        }
        padded.push(ch);
    }
    padded.push('A');
    let wide =
        lz_str::decompress_from_encoded_uri_component(&padded).ok_or_else(|| Error::LzString {
            reason: "truncated or inconsistent dictionary codes".into(),
        })?;
    String::from_utf16(&wide).map_err(|_| Error::LzString {
        reason: "decoded data is not valid UTF-16".into(),
    })
}

/// Compresses a string the way `compressToEncodedURIComponent` does.
///
/// ```
/// use crossview_schemas::lzstring;
/// let s = "m^Wc0>[[1e0]O:J4I8";
/// assert_eq!(lzstring::decompress_from_encoded_uri(&lzstring::compress_to_encoded_uri(s)).unwrap(), s);
/// ```
pub fn compress_to_encoded_uri(text: &str) -> String {
    lz_str::compress_to_encoded_uri_component(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The tiny golden vectors of formats/egoexo4d.md 5.3.
    #[test]
    fn golden_tiny_vectors() {
        assert_eq!(decompress_from_encoded_uri("MwJgLEA").unwrap(), "324");
        assert_eq!(decompress_from_encoded_uri("AwFiA").unwrap(), "04");
        // A space stands for '+', as in the reference decoder.
        let with_plus = compress_to_encoded_uri("~~~~~~~~~~~~~~~~");
        assert!(with_plus.contains('+') || !with_plus.is_empty());
        assert_eq!(
            decompress_from_encoded_uri(&with_plus.replace('+', " ")).unwrap(),
            "~~~~~~~~~~~~~~~~"
        );
    }

    #[test]
    fn rejects_corrupt_streams() {
        assert!(decompress_from_encoded_uri("").is_err());
        assert!(decompress_from_encoded_uri("MwJg!EA").is_err());
        assert!(decompress_from_encoded_uri("M").is_err());
    }

    #[test]
    fn round_trips_random_strings() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..500 {
            let len = rng.random_range(1..400);
            // COCO counts strings use ASCII 48..=111; add a wider range too.
            let s: String = (0..len)
                .map(|_| {
                    if rng.random_bool(0.8) {
                        rng.random_range(48u8..112) as char
                    } else {
                        rng.random_range(32u8..127) as char
                    }
                })
                .collect();
            let enc = compress_to_encoded_uri(&s);
            assert_eq!(decompress_from_encoded_uri(&enc).unwrap(), s, "{enc}");
        }
    }
}
