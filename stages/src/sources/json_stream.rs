//! Streaming a large JSON file piece by piece, so memory holds one piece at a time, not the
//! file: the entries of one top-level object ([`stream_entries`]: MessyTable's `scenes`,
//! Ego-Exo4D's `annotations`), or the elements of top-level arrays ([`stream_arrays`]:
//! EgoHumans' COCO `images` and `annotations`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Read;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{Error, Result};

/// Top-level values kept (raw) for the entry handler, by key.
pub type Captured = BTreeMap<String, Box<RawValue>>;

/// Handles one entry: its key, its raw JSON, and the captured top-level values.
pub type EntryHandler<'a> = &'a mut dyn FnMut(String, &RawValue, &Captured) -> Result<()>;

/// How a stream ended.
#[derive(Debug)]
pub enum StreamEnd {
    /// The whole file was read.
    Complete,
    /// The file broke off or is not JSON: the entries before the error were handled.
    Malformed(serde_json::Error),
    /// Entries waited for top-level keys that never came; they were not handled.
    Missing {
        /// The keys that were never found.
        keys: Vec<String>,
        /// How many entries were left unhandled.
        entries: usize,
    },
}

struct State<'a> {
    wanted: Vec<String>,
    captured: RefCell<Captured>,
    deferred: RefCell<Vec<(String, Box<RawValue>)>>,
    handle: RefCell<EntryHandler<'a>>,
    stop: RefCell<Option<Error>>,
}

impl State<'_> {
    fn ready(&self) -> bool {
        let c = self.captured.borrow();
        self.wanted.iter().all(|k| c.contains_key(k))
    }

    fn entry(&self, key: String, raw: Box<RawValue>) -> bool {
        if !self.ready() {
            self.deferred.borrow_mut().push((key, raw));
            return true;
        }
        let captured = self.captured.borrow();
        if let Err(e) = (self.handle.borrow_mut())(key, &raw, &captured) {
            *self.stop.borrow_mut() = Some(e);
            return false;
        }
        true
    }
}

struct Top<'s, 'a> {
    state: &'s State<'a>,
    entries_key: &'s str,
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a JSON object with `{}`", self.entries_key)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == self.entries_key {
                map.next_value_seed(Entries(self.state))?;
            } else if self.state.wanted.contains(&key) {
                let raw: Box<RawValue> = map.next_value()?;
                self.state.captured.borrow_mut().insert(key, raw);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct Entries<'s, 'a>(&'s State<'a>);

impl<'de> DeserializeSeed<'de> for Entries<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object of entries")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some((key, raw)) = map.next_entry::<String, Box<RawValue>>()? {
            if !self.0.entry(key, raw) {
                return Err(serde::de::Error::custom("stopped by the entry handler"));
            }
        }
        Ok(())
    }
}

/// Streams the entries of the object under top-level key `entries_key`, calling `handle`
/// once per entry with the top-level values named in `capture`. Entries that come before
/// those values (JSON objects are unordered) are kept until they arrive. An error from
/// `handle` stops the stream and is returned.
pub fn stream_entries(
    reader: impl Read,
    entries_key: &str,
    capture: &[&str],
    handle: EntryHandler<'_>,
) -> Result<StreamEnd> {
    let state = State {
        wanted: capture.iter().map(|s| s.to_string()).collect(),
        captured: RefCell::new(BTreeMap::new()),
        deferred: RefCell::new(Vec::new()),
        handle: RefCell::new(handle),
        stop: RefCell::new(None),
    };
    let mut de =
        serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1 << 20, reader));
    let parsed = de
        .deserialize_map(Top {
            state: &state,
            entries_key,
        })
        .and_then(|()| de.end());
    if let Some(e) = state.stop.borrow_mut().take() {
        return Err(e);
    }
    let deferred = std::mem::take(&mut *state.deferred.borrow_mut());
    if !deferred.is_empty() {
        if state.ready() {
            let captured = state.captured.borrow();
            let mut handle = state.handle.borrow_mut();
            for (key, raw) in deferred {
                handle(key, &raw, &captured)?;
            }
        } else {
            let captured = state.captured.borrow();
            let keys = state
                .wanted
                .iter()
                .filter(|k| !captured.contains_key(*k))
                .cloned()
                .collect();
            return Ok(StreamEnd::Missing {
                keys,
                entries: deferred.len(),
            });
        }
    }
    Ok(match parsed {
        Ok(()) => StreamEnd::Complete,
        Err(e) => StreamEnd::Malformed(e),
    })
}

/// Handles one array element: the array's top-level key, the element's index, its raw JSON.
pub type ElementHandler<'a> = &'a mut dyn FnMut(&str, usize, &RawValue) -> Result<()>;

struct Arrays<'s, 'a> {
    keys: &'s [&'s str],
    handle: &'s RefCell<ElementHandler<'a>>,
    stop: &'s RefCell<Option<Error>>,
}

impl<'de> Visitor<'de> for Arrays<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a JSON object with arrays {:?}", self.keys)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match self.keys.iter().find(|k| **k == key) {
                Some(k) => map.next_value_seed(Elements {
                    key: k,
                    handle: self.handle,
                    stop: self.stop,
                })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct Elements<'s, 'a> {
    key: &'s str,
    handle: &'s RefCell<ElementHandler<'a>>,
    stop: &'s RefCell<Option<Error>>,
}

impl<'de> DeserializeSeed<'de> for Elements<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Elements<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "an array under `{}`", self.key)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<(), A::Error> {
        let mut index = 0;
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            if let Err(e) = (self.handle.borrow_mut())(self.key, index, &raw) {
                *self.stop.borrow_mut() = Some(e);
                return Err(serde::de::Error::custom("stopped by the element handler"));
            }
            index += 1;
        }
        Ok(())
    }
}

/// Streams the elements of the arrays under the top-level keys `keys` (in the file's order,
/// whichever key comes first), calling `handle` once per element. Other keys are skipped
/// unread. An error from `handle` stops the stream and is returned; a file that breaks off
/// ends `Malformed`, after the elements before the break.
pub fn stream_arrays(
    reader: impl Read,
    keys: &[&str],
    handle: ElementHandler<'_>,
) -> Result<StreamEnd> {
    let handle = RefCell::new(handle);
    let stop = RefCell::new(None);
    let mut de =
        serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1 << 20, reader));
    let parsed = de
        .deserialize_map(Arrays {
            keys,
            handle: &handle,
            stop: &stop,
        })
        .and_then(|()| de.end());
    if let Some(e) = stop.into_inner() {
        return Err(e);
    }
    Ok(match parsed {
        Ok(()) => StreamEnd::Complete,
        Err(e) => StreamEnd::Malformed(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_elements_stream_in_file_order_and_a_break_keeps_those_before() {
        let json =
            r#"{"info": {"v": [1, 2]}, "annotations": [{"a": 1}, {"b": [2]}], "images": [3]}"#;
        let mut seen = Vec::new();
        let end = stream_arrays(
            json.as_bytes(),
            &["images", "annotations"],
            &mut |k, i, raw| {
                seen.push(format!("{k}[{i}]={}", raw.get()));
                Ok(())
            },
        )
        .unwrap();
        assert!(matches!(end, StreamEnd::Complete));
        assert_eq!(
            seen,
            vec![
                r#"annotations[0]={"a": 1}"#,
                r#"annotations[1]={"b": [2]}"#,
                "images[0]=3"
            ]
        );
        let mut seen = 0;
        let end = stream_arrays(
            r#"{"images": [1, 2, {"#.as_bytes(),
            &["images"],
            &mut |_, _, _| {
                seen += 1;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, 2);
        assert!(matches!(end, StreamEnd::Malformed(_)));
        // Not an array where one is expected.
        let end = stream_arrays(
            r#"{"images": {}}"#.as_bytes(),
            &["images"],
            &mut |_, _, _| Ok(()),
        )
        .unwrap();
        assert!(matches!(end, StreamEnd::Malformed(_)));
    }

    fn collect(json: &str, capture: &[&str]) -> (Vec<(String, String, usize)>, StreamEnd) {
        let mut seen = Vec::new();
        let end = stream_entries(json.as_bytes(), "items", capture, &mut |k, raw, cap| {
            seen.push((k, raw.get().to_string(), cap.len()));
            Ok(())
        })
        .unwrap();
        (seen, end)
    }

    #[test]
    fn entries_stream_with_captured_values_in_either_order() {
        let (seen, end) = collect(
            r#"{"meta": {"a": 1}, "items": {"x": [1], "y": {"z": 2}}}"#,
            &["meta"],
        );
        assert!(matches!(end, StreamEnd::Complete));
        assert_eq!(
            seen,
            vec![
                ("x".into(), "[1]".into(), 1),
                ("y".into(), r#"{"z": 2}"#.into(), 1)
            ]
        );
        // Entries before the captured key wait for it.
        let (seen, end) = collect(r#"{"items": {"x": 1}, "other": 5, "meta": 0}"#, &["meta"]);
        assert!(matches!(end, StreamEnd::Complete));
        assert_eq!(seen.len(), 1);
        let (seen, end) = collect(r#"{"items": {"x": 1}}"#, &["meta"]);
        assert!(seen.is_empty());
        assert!(matches!(end, StreamEnd::Missing { entries: 1, .. }));
    }

    #[test]
    fn a_broken_file_keeps_the_entries_before_the_break() {
        let (seen, end) = collect(r#"{"items": {"x": 1, "y": [1, 2"#, &[]);
        assert_eq!(seen.len(), 1);
        let StreamEnd::Malformed(e) = end else {
            panic!("{end:?}")
        };
        assert_eq!(e.line(), 1);
    }
}
