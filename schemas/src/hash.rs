//! [`ContentHasher`]: SHA-256 over length-prefixed fields, the way crossview derives content
//! ids (config hashes, content-addressed frames, cache keys); [`SampleIdHasher`]: the same
//! fields under xxh3-128, for sample ids.

use sha2::{Digest, Sha256};

/// Hashes a sequence of typed fields unambiguously (each is length- or width-prefixed, so
/// `("ab", "c")` and `("a", "bc")` differ), under a domain tag.
///
/// ```
/// use crossview_schemas::ContentHasher;
/// let a = ContentHasher::new("demo").str("ab").str("c").finish_hex(8);
/// let b = ContentHasher::new("demo").str("a").str("bc").finish_hex(8);
/// assert_ne!(a, b);
/// assert_eq!(a.len(), 16);
/// ```
#[derive(Clone)]
pub struct ContentHasher(Sha256);

/// The typed fields both hashers take, each length- or width-prefixed; `$put` feeds raw bytes
/// to the digest. One encoding, written once for [`ContentHasher`] and [`SampleIdHasher`].
macro_rules! field_methods {
    ($put:ident) => {
        /// Adds bytes.
        pub fn bytes(mut self, b: &[u8]) -> Self {
            self.$put(&(b.len() as u64).to_le_bytes());
            self.$put(b);
            self
        }
        /// Adds a string.
        pub fn str(self, s: &str) -> Self {
            self.bytes(s.as_bytes())
        }
        /// Adds an integer.
        pub fn u64(mut self, v: u64) -> Self {
            self.$put(&v.to_le_bytes());
            self
        }
        /// Adds a list of integers, as one long body (see `long_bytes`): one call, not one
        /// digest update per integer, for lists of thousands (a shard's kept ranks).
        pub fn u64s(self, v: &[u64]) -> Self {
            let mut bytes = Vec::with_capacity(v.len() * 8);
            for x in v {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
            self.long_bytes(&bytes)
        }
        /// Adds a signed integer.
        pub fn i64(self, v: i64) -> Self {
            self.u64(v as u64)
        }
        /// Adds a float by its bits (so -0.0 and 0.0 differ; NaN payloads are kept).
        pub fn f64(self, v: f64) -> Self {
            self.u64(v.to_bits())
        }
        /// Adds a long string by its 128-bit xxh3 digest (see `long_bytes`).
        pub fn long_str(self, s: &str) -> Self {
            self.long_bytes(s.as_bytes())
        }
        /// Adds long bytes by their 128-bit xxh3 digest: for bodies (mask RLE counts, input
        /// files in scene fingerprints) whose bytes would dominate SHA-256's time; an
        /// accidental collision (about 2^-64 at a billion bodies) is as unlikely as any in the
        /// 128-bit ids made from it.
        pub fn long_bytes(self, b: &[u8]) -> Self {
            self.long_digest(b.len() as u64, xxhash_rust::xxh3::xxh3_128(b))
        }
        /// Adds a long body by its length and xxh3-128 digest, exactly as `long_bytes` adds
        /// the body itself (for bodies digested earlier and no longer at hand).
        pub fn long_digest(self, len: u64, digest: u128) -> Self {
            self.u64(len).u64(digest as u64).u64((digest >> 64) as u64)
        }
    };
}

impl ContentHasher {
    /// A hasher for one kind of content (the domain keeps kinds apart).
    pub fn new(domain: &str) -> Self {
        ContentHasher(Sha256::new()).str(domain)
    }
    fn put(&mut self, b: &[u8]) {
        self.0.update(b);
    }
    field_methods!(put);
    /// Adds bytes without a length prefix, for streaming a large body in parts; use only as
    /// the last field of a hash.
    pub fn update_raw(&mut self, b: &[u8]) {
        self.0.update(b);
    }
    /// The first 8 bytes of the digest as an integer (little-endian), for seeds.
    pub fn finish_u64(self) -> u64 {
        let digest = self.0.finalize();
        let mut b = [0u8; 8];
        b.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(b)
    }
    /// The first `n` bytes of the digest (at most 32) as lowercase hex.
    pub fn finish_hex(self, n: usize) -> String {
        let digest = self.0.finalize();
        lower_hex(&digest[..n.min(32)])
    }
}

/// [`ContentHasher`]'s fields under 128-bit xxh3 instead of SHA-256, for the one id made
/// millions of times per build (each sample's): SHA-256 was a twentieth of a paper-scale
/// build's CPU. The ids need to be stable and unique, not unforgeable; an accidental
/// collision among a billion samples has odds of about 2^-68.
///
/// ```
/// use crossview_schemas::SampleIdHasher;
/// let a = SampleIdHasher::new("demo").str("ab").str("c").finish_hex();
/// let b = SampleIdHasher::new("demo").str("a").str("bc").finish_hex();
/// assert_ne!(a, b);
/// assert_eq!(a.len(), 32);
/// ```
#[derive(Clone)]
pub struct SampleIdHasher(Vec<u8>);

impl SampleIdHasher {
    /// A hasher for one kind of content (the domain keeps kinds apart).
    pub fn new(domain: &str) -> Self {
        let mut buffer = SPARE_SAMPLE_BUFFER.take();
        buffer.clear();
        SampleIdHasher(buffer).str(domain)
    }
    // The fields are gathered and digested in one call at the end: the same digest as
    // streaming them (xxh3's streaming form is defined to agree), without the streaming
    // state's per-update work for a sample's dozens of small fields.
    fn put(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    field_methods!(put);
    /// The 128-bit digest as 32 lowercase hex digits.
    pub fn finish_hex(self) -> String {
        let id = lower_hex(&xxhash_rust::xxh3::xxh3_128(&self.0).to_be_bytes());
        SPARE_SAMPLE_BUFFER.set(self.0);
        id
    }
}

thread_local! {
    /// The last finished [`SampleIdHasher`]'s buffer, for the next one: a buffer per
    /// sample, allocated and freed millions of times per build, was a cost of its own.
    static SPARE_SAMPLE_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Bytes as lowercase hex, written through a stack buffer (`hex::encode` collects its
/// digits into a `String` one `char` at a time).
fn lower_hex(bytes: &[u8]) -> String {
    let mut digits = [0u8; 64];
    let Some(out) = digits.get_mut(..2 * bytes.len()) else {
        return hex::encode(bytes);
    };
    match hex::encode_to_slice(bytes, out) {
        Ok(()) => String::from_utf8(out.to_vec()).unwrap_or_else(|_| hex::encode(bytes)),
        Err(_) => hex::encode(bytes),
    }
}

/// The full SHA-256 of bytes as lowercase hex (file hashes in manifests).
pub fn sha256_hex(data: &[u8]) -> String {
    lower_hex(&Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits_are_those_of_the_hex_crate() {
        let bytes: Vec<u8> = (0..=40u8).map(|b| b.wrapping_mul(97)).collect();
        for n in 0..=bytes.len() {
            assert_eq!(lower_hex(&bytes[..n]), hex::encode(&bytes[..n]));
        }
    }

    #[test]
    fn a_sample_id_does_not_depend_on_the_ids_made_before_it() {
        let id = |text: &str| SampleIdHasher::new("t").str(text).finish_hex();
        let first = id("a");
        let other = id("a much longer text than the first");
        assert_eq!(id("a"), first);
        assert_ne!(other, first);
        // Made on a thread of its own, with no buffer left by another id.
        let fresh = std::thread::spawn(move || id("a")).join().unwrap();
        assert_eq!(fresh, first);
    }

    #[test]
    fn long_strings_are_told_apart_by_content_and_boundary() {
        let h = |a: &str, b: &str| {
            ContentHasher::new("t")
                .long_str(a)
                .long_str(b)
                .finish_hex(16)
        };
        assert_eq!(h("ab", "c"), h("ab", "c"));
        assert_ne!(h("ab", "c"), h("a", "bc"));
        assert_ne!(h("ab", "c"), h("ab", "d"));
        // A body digested earlier adds the same as the body.
        let body = "counts";
        assert_eq!(
            ContentHasher::new("t").long_str(body).finish_hex(16),
            ContentHasher::new("t")
                .long_digest(6, xxhash_rust::xxh3::xxh3_128(body.as_bytes()))
                .finish_hex(16)
        );
        // Not the same field as the string itself.
        assert_ne!(
            ContentHasher::new("t").long_str("x").finish_hex(16),
            ContentHasher::new("t").str("x").finish_hex(16)
        );
    }

    #[test]
    fn a_list_of_integers_is_its_little_endian_bytes_digested_as_one_body() {
        let mut encoded = Vec::new();
        for x in [1u64, 1 << 40, u64::MAX] {
            encoded.extend_from_slice(&x.to_le_bytes());
        }
        let by_hand = ContentHasher::new("t")
            .long_digest(24, xxhash_rust::xxh3::xxh3_128(&encoded))
            .finish_hex(16);
        assert_eq!(
            ContentHasher::new("t")
                .u64s(&[1, 1 << 40, u64::MAX])
                .finish_hex(16),
            by_hand
        );
        // The list's boundary counts: [1], [2] is not [1, 2], [].
        assert_ne!(
            ContentHasher::new("t").u64s(&[1]).u64s(&[2]).finish_hex(16),
            ContentHasher::new("t")
                .u64s(&[1, 2])
                .u64s(&[])
                .finish_hex(16)
        );
    }

    #[test]
    fn sample_ids_hash_the_same_fields_as_xxh3_of_their_encoding() {
        // The fields' bytes written out by hand: length-prefixed strings, little-endian words.
        let mut encoded = Vec::new();
        for s in ["d", "ab"] {
            encoded.extend_from_slice(&(s.len() as u64).to_le_bytes());
            encoded.extend_from_slice(s.as_bytes());
        }
        encoded.extend_from_slice(&7u64.to_le_bytes());
        let want = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&encoded));
        assert_eq!(SampleIdHasher::new("d").str("ab").u64(7).finish_hex(), want);
        assert_ne!(
            SampleIdHasher::new("d").str("ab").u64(7).finish_hex(),
            SampleIdHasher::new("d")
                .str("a")
                .str("b")
                .u64(7)
                .finish_hex()
        );
    }
}
