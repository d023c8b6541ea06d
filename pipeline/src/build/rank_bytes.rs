//! Ranks per answer slot stored as little-endian bytes (serde `with` module for
//! `Vec<Vec<u64>>`): the first-pass cache and the exchange between processes carry them so.
//!
//! A rebuild loads every scene's ranks (about 9 M at paper scale) from the first-pass cache;
//! read element by element, as serde reads a `Vec<u64>`, they were most of that load. As
//! bytes they are copied out in bulk.

use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeSeq as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One slot's ranks, written as bytes.
struct AsBytes<'a>(&'a [u64]);

impl Serialize for AsBytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = self.0.iter().flat_map(|r| r.to_le_bytes()).collect();
        s.serialize_bytes(&bytes)
    }
}

/// One slot's ranks, read from bytes.
struct FromBytes(Vec<u64>);

impl<'de> Deserialize<'de> for FromBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Ranks;
        impl Visitor<'_> for Ranks {
            type Value = FromBytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("ranks as little-endian u64 bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<FromBytes, E> {
                if !bytes.len().is_multiple_of(8) {
                    return Err(E::invalid_length(bytes.len(), &self));
                }
                Ok(FromBytes(
                    bytes
                        .chunks_exact(8)
                        .map(|b| {
                            let mut word = [0u8; 8];
                            word.copy_from_slice(b);
                            u64::from_le_bytes(word)
                        })
                        .collect(),
                ))
            }
        }
        d.deserialize_bytes(Ranks)
    }
}

/// Serializes each slot's ranks as bytes.
pub fn serialize<S: Serializer>(slots: &[Vec<u64>], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(slots.len()))?;
    for ranks in slots {
        seq.serialize_element(&AsBytes(ranks))?;
    }
    seq.end()
}

/// Reads what [`serialize`] wrote.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u64>>, D::Error> {
    struct Slots;
    impl<'de> Visitor<'de> for Slots {
        type Value = Vec<Vec<u64>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a sequence of rank byte strings")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut slots = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
            while let Some(FromBytes(ranks)) = seq.next_element()? {
                slots.push(ranks);
            }
            Ok(slots)
        }
    }
    d.deserialize_seq(Slots)
}

#[cfg(test)]
mod tests {
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Slots(#[serde(with = "super")] Vec<Vec<u64>>);

    #[test]
    fn ranks_round_trip_through_bincode_as_their_bytes() {
        let slots = Slots(vec![
            vec![],
            vec![1, u64::MAX, 0x0102_0304_0506_0708],
            vec![7],
        ]);
        let bytes = bincode::serialize(&slots).unwrap();
        // Slot count, then per slot a byte length and the little-endian ranks.
        let mut expected = 3u64.to_le_bytes().to_vec();
        for ranks in &slots.0 {
            expected.extend((8 * ranks.len() as u64).to_le_bytes());
            for r in ranks {
                expected.extend(r.to_le_bytes());
            }
        }
        assert_eq!(bytes, expected);
        assert_eq!(bincode::deserialize::<Slots>(&bytes).unwrap(), slots);
        // A length that is not whole ranks is an error, not a short read.
        let mut bad = 1u64.to_le_bytes().to_vec();
        bad.extend(3u64.to_le_bytes());
        bad.extend([1, 2, 3]);
        assert!(bincode::deserialize::<Slots>(&bad).is_err());
    }
}
