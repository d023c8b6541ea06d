//! Streaming a large JSON file piece by piece, so memory holds one piece at a time, not the
//! file: the entries of one top-level object ([`stream_entries`]: MessyTable's `scenes`,
//! Ego-Exo4D's `annotations`), or the elements of top-level arrays ([`stream_arrays`]:
//! EgoHumans' COCO `images` and `annotations`).
//!
//! The file is read in large chunks and each piece is parsed from a slice (serde_json's
//! reader-based parsing goes byte by byte and is several times slower); only the top-level
//! punctuation between pieces is read by hand, since serde_json cannot resume a document
//! across chunks.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::value::RawValue;

use crate::error::{Error, Result};

/// Top-level values kept (raw) for the entry handler, by key.
pub type Captured = BTreeMap<String, Box<RawValue>>;

/// Handles one entry: its key, its raw JSON, and the captured top-level values.
pub type EntryHandler<'a> = &'a mut dyn FnMut(String, &RawValue, &Captured) -> Result<()>;

/// Handles one array element: the array's top-level key, the element's index, its raw JSON.
pub type ElementHandler<'a> = &'a mut dyn FnMut(&str, usize, &RawValue) -> Result<()>;

/// Where and why a file stops being JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonBreak {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (bytes).
    pub column: usize,
    /// What was wrong.
    pub reason: String,
}

impl std::fmt::Display for JsonBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.reason, self.line, self.column
        )
    }
}

/// How a stream ended.
#[derive(Debug)]
pub enum StreamEnd {
    /// The whole file was read.
    Complete,
    /// The file broke off or is not JSON: the entries before the error were handled.
    Malformed(JsonBreak),
    /// Entries waited for top-level keys that never came; they were not handled.
    Missing {
        /// The keys that were never found.
        keys: Vec<String>,
        /// How many entries were left unhandled.
        entries: usize,
    },
}

/// Why a walk stopped early: the file is broken, or a handler failed.
enum Halt {
    Broken(JsonBreak),
    Handler(Error),
}

type Walk<T> = std::result::Result<T, Halt>;

/// First read size; a piece larger than the buffer doubles it.
const CHUNK: usize = 1 << 20;

/// A JSON file read in chunks: `buf[pos..filled]` is read and not yet consumed.
struct Chunked<R> {
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    eof: bool,
    /// Lines before `buf[0]`, and how far into its line `buf[0]` is.
    lines_before: usize,
    column_before: usize,
}

impl<R: Read> Chunked<R> {
    fn new(reader: R) -> Self {
        Chunked {
            reader,
            buf: vec![0; CHUNK],
            pos: 0,
            filled: 0,
            eof: false,
            lines_before: 0,
            column_before: 0,
        }
    }

    /// The line and column of `buf[at]`.
    fn place(&self, at: usize) -> (usize, usize) {
        let before = &self.buf[..at.min(self.filled)];
        match memchr::memrchr(b'\n', before) {
            Some(nl) => (
                self.lines_before + 1 + memchr::memchr_iter(b'\n', before).count(),
                at - nl,
            ),
            None => (self.lines_before + 1, self.column_before + at + 1),
        }
    }

    fn broken(&self, at: usize, reason: impl Into<String>) -> Halt {
        let (line, column) = self.place(at);
        Halt::Broken(JsonBreak {
            line,
            column,
            reason: reason.into(),
        })
    }

    /// Drops what was consumed and reads more (growing the buffer when a piece fills it);
    /// false at the end of the file.
    fn refill(&mut self) -> Walk<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            let gone = &self.buf[..self.pos];
            let newlines = memchr::memchr_iter(b'\n', gone).count();
            match memchr::memrchr(b'\n', gone) {
                Some(nl) => {
                    self.lines_before += newlines;
                    self.column_before = self.pos - nl - 1;
                }
                None => self.column_before += self.pos,
            }
            self.buf.copy_within(self.pos..self.filled, 0);
            self.filled -= self.pos;
            self.pos = 0;
        }
        if self.filled == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.filled += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.broken(self.filled, format!("read failed: {e}"))),
            }
        }
    }

    /// The next byte that is not whitespace, not consumed (`None` at the end of the file).
    fn peek(&mut self) -> Walk<Option<u8>> {
        loop {
            while self.pos < self.filled {
                match self.buf[self.pos] {
                    b' ' | b'\n' | b'\r' | b'\t' => self.pos += 1,
                    b => return Ok(Some(b)),
                }
            }
            if !self.refill()? {
                return Ok(None);
            }
        }
    }

    /// Consumes `byte` (after whitespace), or the file is broken.
    fn expect(&mut self, byte: u8, what: &str) -> Walk<()> {
        match self.peek()? {
            Some(b) if b == byte => {
                self.pos += 1;
                Ok(())
            }
            Some(b) => {
                Err(self.broken(self.pos, format!("expected {what}, found `{}`", b as char)))
            }
            None => Err(self.broken(self.pos, format!("EOF while expecting {what}"))),
        }
    }

    /// Parses the next value from the buffer and hands it to `f` (reading more when the
    /// value runs past what is read).
    fn value<T>(&mut self, f: impl FnOnce(&RawValue) -> Walk<T>) -> Walk<T> {
        if self.peek()?.is_none() {
            return Err(self.broken(self.pos, "EOF while parsing a value"));
        }
        // Where the last parse failed: a failure that stays put once more is read is real;
        // one that moves came from the piece being cut off (`-` of `-5` fails as a number).
        let mut failed_at: Option<(usize, usize)> = None;
        loop {
            let slice = &self.buf[self.pos..self.filled];
            let mut values = serde_json::Deserializer::from_slice(slice).into_iter::<&RawValue>();
            let parsed = values.next();
            let end = values.byte_offset();
            match parsed {
                // A value that ends where the chunk ends may go on (a number) in the next one.
                Some(Ok(_)) if end == slice.len() && !self.eof => {}
                Some(Ok(raw)) => {
                    let out = f(raw);
                    self.pos += end;
                    return out;
                }
                Some(Err(e)) => {
                    let (line, column) = self.place(self.pos);
                    let line_in = e.line().max(1);
                    let at = (
                        line + line_in - 1,
                        if line_in == 1 {
                            column + e.column().saturating_sub(1)
                        } else {
                            e.column()
                        },
                    );
                    if self.eof || (failed_at == Some(at) && !e.is_eof()) {
                        return Err(Halt::Broken(JsonBreak {
                            line: at.0,
                            column: at.1,
                            reason: strip_place(&e),
                        }));
                    }
                    failed_at = Some(at);
                }
                None => return Err(self.broken(self.filled, "EOF while parsing a value")),
            }
            // At the end of the file, the last parse above runs once more with `eof` set.
            self.refill()?;
        }
    }

    /// A string key and its colon.
    fn key(&mut self) -> Walk<String> {
        if self.peek()? != Some(b'"') {
            let at = self.pos;
            return Err(self.broken(at, "expected a key string"));
        }
        let key = self.value(|raw| {
            serde_json::from_str::<String>(raw.get()).map_err(|e| {
                Halt::Broken(JsonBreak {
                    line: 0,
                    column: 0,
                    reason: e.to_string(),
                })
            })
        })?;
        self.expect(b':', "`:`")?;
        Ok(key)
    }

    /// Walks the members of an object whose `{` is next, calling `f` with each key (`f`
    /// consumes the value).
    fn members(&mut self, mut f: impl FnMut(&mut Self, String) -> Walk<()>) -> Walk<()> {
        self.sequence((b'{', b'}'), "an object", |input, _| {
            let key = input.key()?;
            f(input, key)
        })
    }

    /// Walks the elements of an array whose `[` is next, calling `f` with each index.
    fn elements(&mut self, f: impl FnMut(&mut Self, usize) -> Walk<()>) -> Walk<()> {
        self.sequence((b'[', b']'), "an array", f)
    }

    /// The comma-separated items between `open` and `close`, each read by `item`.
    fn sequence(
        &mut self,
        (open, close): (u8, u8),
        what: &str,
        mut item: impl FnMut(&mut Self, usize) -> Walk<()>,
    ) -> Walk<()> {
        self.expect(open, what)?;
        if self.peek()? == Some(close) {
            self.pos += 1;
            return Ok(());
        }
        let mut index = 0;
        loop {
            item(self, index)?;
            index += 1;
            match self.peek()? {
                Some(b',') => self.pos += 1,
                Some(b) if b == close => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => {
                    let expected = format!("expected `,` or `{}`", close as char);
                    return Err(self.broken(self.pos, expected));
                }
            }
        }
    }

    /// Skips the next value.
    fn skip(&mut self) -> Walk<()> {
        self.value(|_| Ok(()))
    }

    /// After the top-level value: nothing but whitespace.
    fn end(&mut self) -> Walk<()> {
        match self.peek()? {
            None => Ok(()),
            Some(_) => Err(self.broken(self.pos, "trailing characters")),
        }
    }
}

/// A serde_json error's message without its " at line L column C" (the place is given
/// separately, counted in the whole file).
fn strip_place(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
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
    let mut captured: Captured = BTreeMap::new();
    let mut deferred: Vec<(String, Box<RawValue>)> = Vec::new();
    let ready = |c: &Captured| capture.iter().all(|k| c.contains_key(*k));
    let mut input = Chunked::new(reader);
    let walked = input
        .members(|input, key| {
            if key == entries_key {
                input.members(|input, name| {
                    input.value(|raw| {
                        if ready(&captured) {
                            handle(name, raw, &captured).map_err(Halt::Handler)
                        } else {
                            deferred.push((name, raw.to_owned()));
                            Ok(())
                        }
                    })
                })
            } else if capture.contains(&key.as_str()) {
                let raw = input.value(|raw| Ok(raw.to_owned()))?;
                captured.insert(key, raw);
                Ok(())
            } else {
                input.skip()
            }
        })
        .and_then(|()| input.end());
    let broken = match walked {
        Ok(()) => None,
        Err(Halt::Handler(e)) => return Err(e),
        Err(Halt::Broken(b)) => Some(b),
    };
    if !deferred.is_empty() {
        if ready(&captured) {
            for (key, raw) in deferred {
                handle(key, &raw, &captured)?;
            }
        } else {
            let keys = capture
                .iter()
                .filter(|k| !captured.contains_key(**k))
                .map(|k| k.to_string())
                .collect();
            return Ok(StreamEnd::Missing {
                keys,
                entries: deferred.len(),
            });
        }
    }
    Ok(broken.map_or(StreamEnd::Complete, StreamEnd::Malformed))
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
    let mut input = Chunked::new(reader);
    let walked = input
        .members(|input, key| match keys.iter().find(|k| **k == key) {
            Some(k) => input.elements(|input, index| {
                input.value(|raw| handle(k, index, raw).map_err(Halt::Handler))
            }),
            None => input.skip(),
        })
        .and_then(|()| input.end());
    match walked {
        Ok(()) => Ok(StreamEnd::Complete),
        Err(Halt::Handler(e)) => Err(e),
        Err(Halt::Broken(b)) => Ok(StreamEnd::Malformed(b)),
    }
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
        assert_eq!(e.line, 1);
    }

    /// A reader that hands out the bytes a few at a time, so pieces cross every read.
    struct Trickle<'a> {
        bytes: &'a [u8],
        sizes: std::iter::Cycle<std::vec::IntoIter<usize>>,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self
                .sizes
                .next()
                .unwrap_or(1)
                .min(out.len())
                .min(self.bytes.len());
            out[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    fn trickle(bytes: &[u8], sizes: Vec<usize>) -> Trickle<'_> {
        Trickle {
            bytes,
            sizes: sizes.into_iter().cycle(),
        }
    }

    #[test]
    fn numbers_and_strings_cut_between_reads_come_out_whole() {
        let json = br#"{"n": 12345678, "images": [1234, -5.5e3, "a\"b", {"k": [1, 2]}, true, null], "tail": 98765}"#;
        for size in 1..9 {
            let mut seen = Vec::new();
            let end = stream_arrays(trickle(json, vec![size]), &["images"], &mut |_, _, raw| {
                seen.push(raw.get().to_string());
                Ok(())
            })
            .unwrap();
            assert!(matches!(end, StreamEnd::Complete), "{end:?}");
            assert_eq!(
                seen,
                vec![
                    "1234",
                    "-5.5e3",
                    r#""a\"b""#,
                    r#"{"k": [1, 2]}"#,
                    "true",
                    "null"
                ],
                "reads of {size} bytes"
            );
        }
    }

    #[test]
    fn where_a_file_breaks_is_counted_in_the_whole_file() {
        // The reference: serde_json's own line and column for the whole document.
        let docs = [
            "{\"items\": {\"x\": 1,\n  \"y\": [1,\n 2 x]}}",
            "{\"items\": {\"x\": 1}\n, \"z\": tru }",
            "{\"items\": {\"x\": 1}}\n\n  trailing",
            "{\"items\": {\"x\"\n 1}}",
        ];
        for doc in docs {
            let reference = serde_json::from_str::<serde::de::IgnoredAny>(doc).unwrap_err();
            for size in [1, 3, 64] {
                let mut seen = 0;
                let end = stream_entries(
                    trickle(doc.as_bytes(), vec![size]),
                    "items",
                    &[],
                    &mut |_, _, _| {
                        seen += 1;
                        Ok(())
                    },
                )
                .unwrap();
                let StreamEnd::Malformed(b) = end else {
                    panic!("{doc}: {end:?}")
                };
                assert_eq!(
                    (b.line, b.column),
                    (reference.line(), reference.column()),
                    "{doc} in reads of {size}: {b}"
                );
            }
        }
    }

    proptest::proptest! {
        /// Any JSON value's top-level array elements stream out exactly as serde_json reads
        /// them from the whole text, whatever the read sizes.
        #[test]
        fn elements_match_serde_json_on_the_whole_text(
            values in proptest::collection::vec(json_value(), 0..12),
            sizes in proptest::collection::vec(1usize..40, 1..6),
            pretty in proptest::bool::ANY,
        ) {
            let doc = serde_json::json!({"before": values.clone(), "images": values.clone(), "after": 1});
            let text = if pretty { serde_json::to_string_pretty(&doc) } else { serde_json::to_string(&doc) }.unwrap();
            let mut seen = Vec::new();
            let end = stream_arrays(trickle(text.as_bytes(), sizes), &["images"], &mut |_, i, raw| {
                seen.push((i, serde_json::from_str::<serde_json::Value>(raw.get()).unwrap()));
                Ok(())
            }).unwrap();
            proptest::prop_assert!(matches!(end, StreamEnd::Complete));
            let expected: Vec<(usize, serde_json::Value)> = values.into_iter().enumerate().collect();
            proptest::prop_assert_eq!(seen, expected);
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            (-1e6f64..1e6).prop_map(serde_json::Value::from),
            "[ -~\\n\"é]{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("[a-z\"]{0,4}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
