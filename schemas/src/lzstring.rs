//! LZ-string `compressToEncodedURIComponent` / `decompressFromEncodedURIComponent`, the wrapper
//! Ego-Exo4D puts around COCO counts strings (`encodedMask`): compression by the `lz-str`
//! crate, decompression by hand (see [`decompress_from_encoded_uri`] for why).

use crate::error::{Error, Result};

/// The URI-safe alphabet of lz-string (`keyStrUriSafe`), in value order.
const URI_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-$";

/// Marks an ASCII byte outside the alphabet in [`URI_VALUE`].
const NOT_IN_ALPHABET: u8 = u8::MAX;

/// Each ASCII byte's 6-bit value in [`URI_ALPHABET`]; a space counts as '+' (JS URI decoding
/// may have turned '+' into ' ', and the reference maps it back).
const URI_VALUE: [u8; 128] = {
    let mut table = [NOT_IN_ALPHABET; 128];
    let mut i = 0;
    while i < URI_ALPHABET.len() {
        table[URI_ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table[b' ' as usize] = table[b'+' as usize];
    table
};

/// The bits of an encoded stream, read as the reference decoder does: six per character,
/// highest first, and zeros past the end (where the JS `charAt` gives nothing).
/// Characters are loaded a word at a time, bit-reversed, so a read takes its bits at once
/// (reading them one by one was most of a mask's decode).
struct Bits<'a> {
    values: &'a [u8],
    /// Bits loaded and not yet read, the next one lowest.
    pending: u64,
    pending_len: u32,
    /// Characters loaded into `pending`.
    loaded: usize,
    /// Bits read so far.
    read_len: usize,
}

/// Each 6-bit value with its bits in reverse order.
const REVERSED6: [u8; 64] = {
    let mut table = [0u8; 64];
    let mut v = 0;
    while v < 64 {
        table[v] = ((v as u8).reverse_bits()) >> 2;
        v += 1;
    }
    table
};

impl<'a> Bits<'a> {
    fn new(values: &'a [u8]) -> Self {
        Bits {
            values,
            pending: 0,
            pending_len: 0,
            loaded: 0,
            read_len: 0,
        }
    }
    /// Index of the character after the current one (the reference's `data.index`).
    fn next(&self) -> usize {
        1 + self.read_len / 6
    }
    /// `n` (at most 32) bits, the first read as the lowest.
    fn read(&mut self, n: u32) -> u32 {
        while self.pending_len < n {
            let value = self.values.get(self.loaded).copied().unwrap_or(0);
            self.pending |= u64::from(REVERSED6[usize::from(value & 63)]) << self.pending_len;
            self.pending_len += 6;
            self.loaded += 1;
        }
        let out = (self.pending & ((1u64 << n) - 1)) as u32;
        self.pending >>= n;
        self.pending_len -= n;
        self.read_len += n as usize;
        out
    }
}

/// Decodes an LZ-string URI-component stream into the string it carries.
///
/// Written by hand after the reference JS `_decompress` (lz-string 1.4): the `lz-str` crate
/// keeps each dictionary entry as its own UTF-16 vector, which made decoding 40% of loading an
/// Ego-Exo4D tree. Here every entry is a range of the output (an LZW entry is always the
/// previous entry plus one unit, which the output holds contiguously). `lz-str` stays the
/// reference the tests compare with. Differences from that crate, both deliberate:
/// - characters outside the alphabet are an error (the crate skips them silently, which
///   turns a corrupt stream into a different, wrong mask);
/// - bits past the end read as zeros, as in the reference decoder, so a stream that ends
///   exactly on a symbol boundary decodes (formats/egoexo4d.md 5.2).
///
/// ```
/// use crossview_schemas::lzstring;
/// assert_eq!(lzstring::decompress_from_encoded_uri("MwJgLEA").unwrap(), "324");
/// ```
pub fn decompress_from_encoded_uri(encoded: &str) -> Result<String> {
    LzDecoder::default().decode(encoded).map(str::to_string)
}

/// Decodes LZ-string URI-component streams one after another, reusing its buffers (a mask's
/// stream is a few dozen characters, and allocating them per stream was a large part of
/// decoding it).
#[derive(Default)]
pub struct LzDecoder {
    values: Vec<u8>,
    dict: Vec<(usize, usize)>,
    bytes: Vec<u8>,
    wide: Vec<u16>,
    text: String,
}

impl LzDecoder {
    /// The string `encoded` carries, as [`decompress_from_encoded_uri`] decodes it.
    pub fn decode(&mut self, encoded: &str) -> Result<&str> {
        if encoded.is_empty() {
            return Err(Error::LzString {
                reason: "empty stream".into(),
            });
        }
        // The alphabet is ASCII: a byte outside it (or any byte of a wider character) is
        // an error, named by character on that rare path.
        self.values.clear();
        for &b in encoded.as_bytes() {
            let value = URI_VALUE
                .get(usize::from(b))
                .copied()
                .unwrap_or(NOT_IN_ALPHABET);
            if value == NOT_IN_ALPHABET {
                return Err(not_in_alphabet(encoded));
            }
            self.values.push(value);
        }
        let corrupt = || Error::LzString {
            reason: "truncated or inconsistent dictionary codes".into(),
        };
        // COCO counts are ASCII: decoded as bytes, unless a literal is wider.
        match decode_units(&self.values, &mut self.dict, &mut self.bytes) {
            Ok(()) => {
                return std::str::from_utf8(&self.bytes)
                    .map_err(|_| Error::Internal("ASCII is UTF-8".into()));
            }
            Err(Stop::Corrupt) => return Err(corrupt()),
            Err(Stop::Wide) => {
                decode_units(&self.values, &mut self.dict, &mut self.wide)
                    .map_err(|_| corrupt())?;
            }
        }
        self.text = String::from_utf16(&self.wide).map_err(|_| Error::LzString {
            reason: "decoded data is not valid UTF-16".into(),
        })?;
        Ok(&self.text)
    }
}

/// The error for the first character of `encoded` outside the URI alphabet.
fn not_in_alphabet(encoded: &str) -> Error {
    let (at, ch) = encoded
        .chars()
        .enumerate()
        .find(|&(_, ch)| !ch.is_ascii() || URI_VALUE[ch as usize] == NOT_IN_ALPHABET)
        .unwrap_or((0, '?'));
    Error::LzString {
        reason: format!("character {ch:?} at position {at} is not in the URI alphabet"),
    }
}

/// Why a decode stopped short.
enum Stop {
    /// The stream is truncated or inconsistent.
    Corrupt,
    /// A literal does not fit the unit type.
    Wide,
}

/// What a stream decodes into: UTF-16 units, or bytes while every literal is ASCII.
trait Unit: Copy {
    /// The unit of a literal's value, if it fits.
    fn literal(value: u32) -> Option<Self>;
}

impl Unit for u16 {
    fn literal(value: u32) -> Option<Self> {
        u16::try_from(value).ok()
    }
}

impl Unit for u8 {
    fn literal(value: u32) -> Option<Self> {
        u8::try_from(value).ok().filter(u8::is_ascii)
    }
}

/// The units an LZ-string bit stream decodes to, into `out` (cleared first); `dict` is
/// scratch.
fn decode_units<U: Unit>(
    values: &[u8],
    dict: &mut Vec<(usize, usize)>,
    out: &mut Vec<U>,
) -> std::result::Result<(), Stop> {
    let mut bits = Bits::new(values);
    out.clear();
    out.reserve(values.len() * 4);
    // Dictionary entries as (start, len) in `out`; codes 0, 1 and 2 are not entries.
    dict.clear();
    dict.reserve(2 * values.len() + 8);
    dict.extend([(0, 0); 3]);
    let first = match bits.read(2) {
        0 => bits.read(8),
        1 => bits.read(16),
        2 => return Ok(()), // the end code: an empty string
        _ => return Err(Stop::Corrupt),
    };
    out.push(U::literal(first).ok_or(Stop::Wide)?);
    dict.push((0, 1));
    // The previous entry, as (start, len) in `out`.
    let mut w = (0usize, 1usize);
    let mut width = 3u32;
    let mut enlarge_in = 4u64;
    loop {
        // The reference returns "" here: the stream ended without its end code.
        // A code wider than 31 bits would need gigabytes of input; refuse rather than wrap.
        if bits.next() > values.len() || width > 31 {
            return Err(Stop::Corrupt);
        }
        let code = bits.read(width) as usize;
        let entry_len = match code {
            0 | 1 => {
                // A literal unit: a new one-unit entry, which is also this step's output.
                let unit =
                    U::literal(bits.read(if code == 0 { 8 } else { 16 })).ok_or(Stop::Wide)?;
                dict.push((out.len(), 1));
                out.push(unit);
                enlarge_in -= 1;
                if enlarge_in == 0 {
                    enlarge_in = 1 << width;
                    width += 1;
                }
                1
            }
            2 => return Ok(()),
            _ => match dict.get(code) {
                Some(&(start, len)) => {
                    out.extend_from_within(start..start + len);
                    len
                }
                // The entry being defined by this very step: w plus its first unit.
                None if code == dict.len() => {
                    out.extend_from_within(w.0..w.0 + w.1);
                    out.push(out[w.0]);
                    w.1 + 1
                }
                None => return Err(Stop::Corrupt),
            },
        };
        // w + entry[0] lies contiguously in `out`: the entry was written right after w.
        dict.push((w.0, w.1 + 1));
        enlarge_in -= 1;
        w = (out.len() - entry_len, entry_len);
        if enlarge_in == 0 {
            enlarge_in = 1 << width;
            width += 1;
        }
    }
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
    fn bits_are_read_as_the_reference_reads_them_one_by_one() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for _ in 0..200 {
            let values: Vec<u8> = (0..rng.random_range(0..40))
                .map(|_| rng.random_range(0..64))
                .collect();
            // Bit k is bit 5 - k % 6 of character k / 6, and zero past the end.
            let bit = |k: usize| values.get(k / 6).map_or(0, |v| (v >> (5 - k % 6)) & 1);
            let mut bits = Bits::new(&values);
            let mut k = 0;
            while k < values.len() * 6 + 40 {
                let n = rng.random_range(1..=31);
                let want = (0..n).fold(0u32, |acc, i| acc | u32::from(bit(k + i as usize)) << i);
                assert_eq!(bits.read(n), want, "{n} bits at {k} of {values:?}");
                k += n as usize;
                assert_eq!(bits.next(), 1 + k / 6);
            }
        }
    }

    #[test]
    fn rejects_corrupt_streams() {
        assert!(decompress_from_encoded_uri("").is_err());
        assert!(decompress_from_encoded_uri("MwJg!EA").is_err());
        assert!(decompress_from_encoded_uri("M").is_err());
    }

    #[test]
    fn exactly_the_uri_alphabet_and_space_are_accepted() {
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-$ ";
        for b in 0u8..=255 {
            let ch = char::from(b);
            let got = decompress_from_encoded_uri(&format!("MwJg{ch}EA"));
            let rejected =
                matches!(&got, Err(Error::LzString { reason }) if reason.contains("URI alphabet"));
            assert_eq!(rejected, !alphabet.contains(ch), "{ch:?}");
        }
    }

    /// The `lz-str` crate's decoding (with its end-of-stream padding), as the reference.
    fn reference(encoded: &str) -> Option<String> {
        let wide = lz_str::decompress_from_encoded_uri_component(&format!("{encoded}A"))?;
        String::from_utf16(&wide).ok()
    }

    #[test]
    fn agrees_with_the_lz_str_crate_on_valid_and_cut_streams() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        // One decoder for every stream, wide and narrow, whole and cut: what it kept from
        // the last stream must not show in the next.
        let mut reused = LzDecoder::default();
        for _ in 0..400 {
            let len = rng.random_range(0..600);
            // Long runs of few symbols grow long dictionary entries; wide units take 16-bit literals.
            let s: String = (0..len)
                .map(|_| match rng.random_range(0..10) {
                    0 => char::from_u32(rng.random_range(0x80..0xD7FF)).unwrap(),
                    1 => char::from_u32(rng.random_range(0x80..0x100)).unwrap(),
                    2..=3 => '0',
                    _ => rng.random_range(48u8..112) as char,
                })
                .collect();
            let enc = compress_to_encoded_uri(&s);
            assert_eq!(decompress_from_encoded_uri(&enc).ok(), Some(s.clone()));
            assert_eq!(reused.decode(&enc).ok(), Some(s.as_str()));
            assert_eq!(reference(&enc), Some(s));
            // Where both decode a cut stream, they agree (the crate pads one symbol only, so
            // it fails on some that read zeros further, as the JS reference does).
            let cut = &enc[..rng.random_range(1..=enc.len())];
            assert_eq!(
                reused.decode(cut).map(str::to_string).ok(),
                decompress_from_encoded_uri(cut).ok()
            );
            if let (Ok(got), Some(want)) = (decompress_from_encoded_uri(cut), reference(cut)) {
                assert_eq!(got, want, "{cut}");
            }
        }
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
