//! Streaming a large JSON file piece by piece, so memory holds one piece at a time, not the
//! file: the entries of one top-level object ([`stream_entries`]: MessyTable's `scenes`;
//! [`stream_entry_values`]: Ego-Exo4D's `annotations`), or the elements of top-level arrays
//! ([`stream_array_elements`]: EgoHumans' COCO `images` and `annotations`).
//!
//! The file is read in large chunks. A piece's end is found by a structural scan written by
//! hand (brackets and strings only, no validation: serde_json cannot resume a document
//! across chunks, and its own scan validates, which doubled the cost of every piece its
//! handler parses anyway). A piece is valid JSON once its handler parsed it whole through
//! [`Piece::parse`]; the stream checks any other piece with serde_json, so a broken file
//! stops at the same place, with serde_json's line and column, as before, unless the handler
//! takes the check on itself ([`Piece::checked_later`], placing a break with [`break_at`]).
//! The `_values`/`_elements` forms first offer each value from where it starts, to a handler
//! that parses it anyway: one it takes whole needs no scan for its end.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::value::RawValue;

use crate::error::{Error, Result};

/// Top-level values kept (raw) for the entry handler, by key.
pub type Captured = BTreeMap<String, Box<RawValue>>;

/// Handles one entry: its key, its piece of JSON, and the captured top-level values.
pub type EntryHandler<'a> = &'a mut dyn FnMut(String, &Piece<'_>, &Captured) -> Result<()>;

/// Handles one array element: the array's top-level key, the element's index, its piece.
pub type ElementHandler<'a> = &'a mut dyn FnMut(&str, usize, &Piece<'_>) -> Result<()>;

/// One value of the stream: its text, found by the structural scan and not yet known to be
/// JSON. Parsing it with [`Piece::parse`] settles that; a piece its handler did not parse
/// whole is checked by the stream after the handler returns.
pub struct Piece<'a> {
    text: &'a str,
    /// Where the piece starts in its file, when it came from one (see [`break_at`]).
    offset: Option<u64>,
    state: std::cell::RefCell<Checked>,
}

/// What is known of a piece's syntax.
enum Checked {
    Unknown,
    Valid,
    /// Not JSON; where is found again by the stream, in the context of the file.
    Broken,
    /// Its handler checks it later itself (see [`Piece::checked_later`]).
    Later,
}

/// Why a piece did not parse as the type asked for.
#[derive(Debug)]
pub enum PieceError {
    /// It is not JSON: the stream stops at it, as at any break in the file, and reports
    /// where; the handler should leave it alone.
    Broken,
    /// It is JSON, not of the type (the message says why): the piece's own problem.
    Data(serde_json::Error),
}

impl<'a> Piece<'a> {
    /// A piece of text not yet known to be JSON.
    pub fn new(text: &'a str) -> Self {
        Piece {
            text,
            offset: None,
            state: std::cell::RefCell::new(Checked::Unknown),
        }
    }

    /// The piece's text as it is in the file.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// Where the piece starts in its file (bytes), when it came from one.
    pub fn offset(&self) -> Option<u64> {
        self.offset
    }

    /// Leaves the check of this piece to its handler, which keeps it to parse later (on
    /// other threads) and knows some pieces valid without parsing. A piece the handler then
    /// finds not JSON ends what it reads of the file there, as a break would, at the place
    /// [`break_at`] finds from the piece's offset.
    pub fn checked_later(&self) {
        let mut state = self.state.borrow_mut();
        if matches!(*state, Checked::Unknown) {
            *state = Checked::Later;
        }
    }

    /// Parses the piece as `T`. A piece that does not parse is checked for syntax before it
    /// is called data's fault (serde_json stops at the first error).
    pub fn parse<T: serde::Deserialize<'a>>(&self) -> std::result::Result<T, PieceError> {
        match serde_json::from_str::<T>(self.text) {
            Ok(v) => {
                *self.state.borrow_mut() = Checked::Valid;
                Ok(v)
            }
            // Syntax as serde_json ignores a value decides (a number out of range is a
            // syntax error to a parse into numbers, fine to a parse that skips it).
            Err(e) => match self.check() {
                Ok(()) => Err(PieceError::Data(e)),
                Err(()) => Err(PieceError::Broken),
            },
        }
    }

    /// Parses the piece as `T`, first with `subset`: a reader of a subset of JSON that gives
    /// what serde_json would parse the text as, or `None` where the text leaves its subset
    /// (see `json_subset`). There the piece is parsed as [`Piece::parse`] parses it.
    pub fn parse_with_subset<T: serde::Deserialize<'a>>(
        &self,
        subset: impl FnOnce(&'a str) -> Option<T>,
    ) -> std::result::Result<T, PieceError> {
        match subset(self.text) {
            Some(v) => {
                *self.state.borrow_mut() = Checked::Valid;
                Ok(v)
            }
            None => self.parse(),
        }
    }

    /// Whether the piece is JSON, for a handler that keeps pieces to parse later: one
    /// that is not must be left alone (the stream stops at it).
    pub fn is_json(&self) -> bool {
        self.check().is_ok()
    }

    /// Checks the piece's syntax (once); `Err` when it is not JSON.
    fn check(&self) -> std::result::Result<(), ()> {
        let mut state = self.state.borrow_mut();
        if matches!(*state, Checked::Unknown) {
            *state = match serde_json::from_str::<serde::de::IgnoredAny>(self.text) {
                Ok(_) => Checked::Valid,
                Err(_) => Checked::Broken,
            };
        }
        match *state {
            Checked::Broken => Err(()),
            Checked::Unknown | Checked::Valid | Checked::Later => Ok(()),
        }
    }
}

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

/// First read size; a piece larger than the buffer doubles it. Unit tests read in small
/// chunks, so that their small documents are cut between reads as a large file is.
#[cfg(not(test))]
const CHUNK: usize = 1 << 20;
#[cfg(test)]
const CHUNK: usize = 64;

/// What a [`Chunked`] holds of its file: the bytes read and not yet dropped, as text when
/// they are UTF-8 (the usual case). They are checked once per read, so that a value offered
/// from its start needs no check of its own.
enum Held {
    Bytes(Vec<u8>),
    Text(String),
}

impl Held {
    fn bytes(&self) -> &[u8] {
        match self {
            Held::Bytes(b) => b,
            Held::Text(t) => t.as_bytes(),
        }
    }

    fn text(&self) -> Option<&str> {
        match self {
            Held::Bytes(_) => None,
            Held::Text(t) => Some(t),
        }
    }
}

/// A JSON file read in chunks: `held[pos..]` is read and not yet consumed.
struct Chunked<R> {
    reader: R,
    held: Held,
    /// How many bytes a read fills `held` up to (doubled when one piece fills it).
    size: usize,
    pos: usize,
    eof: bool,
    /// Lines before `buf[0]`, and how far into its line `buf[0]` is.
    lines_before: usize,
    column_before: usize,
    /// Bytes of the file before `buf[0]`.
    offset_before: u64,
}

impl<R: Read> Chunked<R> {
    fn new(reader: R) -> Self {
        Chunked {
            reader,
            held: Held::Bytes(Vec::new()),
            size: CHUNK,
            pos: 0,
            eof: false,
            lines_before: 0,
            column_before: 0,
            offset_before: 0,
        }
    }

    /// The bytes read and not yet dropped.
    fn buf(&self) -> &[u8] {
        self.held.bytes()
    }

    /// How many bytes are read and not yet dropped.
    fn filled(&self) -> usize {
        self.buf().len()
    }

    /// The line and column of `buf[at]`.
    fn place(&self, at: usize) -> (usize, usize) {
        let before = &self.buf()[..at.min(self.filled())];
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
            let gone = &self.buf()[..self.pos];
            let newlines = memchr::memchr_iter(b'\n', gone).count();
            match memchr::memrchr(b'\n', gone) {
                Some(nl) => {
                    self.lines_before += newlines;
                    self.column_before = self.pos - nl - 1;
                }
                None => self.column_before += self.pos,
            }
            self.offset_before += self.pos as u64;
        }
        let mut buf = match std::mem::replace(&mut self.held, Held::Bytes(Vec::new())) {
            Held::Bytes(b) => b,
            Held::Text(t) => t.into_bytes(),
        };
        buf.drain(..self.pos);
        self.pos = 0;
        if buf.len() >= self.size {
            self.size *= 2;
        }
        // Read into the vector's spare room (a file's read does not zero it first, which
        // writing zeros over a megabyte per read cost), up to the buffer's size. The room is
        // reserved exactly: left to grow the vector itself, `read_to_end` doubles it once
        // full, which raised a loader's peak memory by half.
        let room = (self.size - buf.len()) as u64;
        buf.reserve_exact(room as usize);
        let read = (&mut self.reader).take(room).read_to_end(&mut buf);
        // The bytes kept from the last read are checked again: a value cut by the read.
        self.held = match String::from_utf8(buf) {
            Ok(text) => Held::Text(text),
            Err(e) => Held::Bytes(e.into_bytes()),
        };
        match read {
            Ok(0) => {
                self.eof = true;
                Ok(false)
            }
            Ok(_) => Ok(true),
            Err(e) => Err(self.broken(self.filled(), format!("read failed: {e}"))),
        }
    }

    /// The next byte that is not whitespace, not consumed (`None` at the end of the file).
    fn peek(&mut self) -> Walk<Option<u8>> {
        loop {
            while let Some(&b) = self.buf().get(self.pos) {
                match b {
                    b' ' | b'\n' | b'\r' | b'\t' => self.pos += 1,
                    _ => return Ok(Some(b)),
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

    /// Hands the next value to `f` as a [`Piece`] (reading more when the value runs past
    /// what is read), then checks the piece unless `f` parsed it whole.
    fn value<T>(&mut self, f: impl FnOnce(&Piece<'_>) -> Walk<T>) -> Walk<T> {
        if self.peek()?.is_none() {
            return Err(self.broken(self.pos, "EOF while parsing a value"));
        }
        let end = loop {
            match value_end(&self.buf()[self.pos..], self.eof) {
                Some(end) => break end,
                None if self.eof => {
                    // Cut off: serde_json names what is missing and where the file ends.
                    return Err(self.piece_break(self.filled()));
                }
                None => {
                    self.refill()?;
                }
            }
        };
        let range = self.pos..self.pos + end;
        let text = match self.held.text().and_then(|t| t.get(range.clone())) {
            Some(text) => text,
            None => match std::str::from_utf8(&self.buf()[range]) {
                Ok(text) => text,
                Err(e) => return Err(self.broken(self.pos + e.valid_up_to(), "invalid UTF-8")),
            },
        };
        let piece = Piece {
            offset: Some(self.offset_before + self.pos as u64),
            ..Piece::new(text)
        };
        let out = f(&piece);
        if matches!(out, Err(Halt::Handler(_))) {
            return out;
        }
        if piece.check().is_err() {
            return Err(self.piece_break(self.pos + end));
        }
        self.pos += end;
        out
    }

    /// Offers the next value to `read` from where it starts ([`Element::Start`]); what `read`
    /// takes whole is consumed, anything else goes the way of [`Chunked::value`].
    fn element(&mut self, read: &mut dyn FnMut(Element<'_>) -> Walk<Option<usize>>) -> Walk<()> {
        if self.peek()?.is_none() {
            return Err(self.broken(self.pos, "EOF while parsing a value"));
        }
        let rest = Rest {
            bytes: &self.buf()[self.pos..],
            text: self.held.text().and_then(|t| t.get(self.pos..)),
        };
        if let Some(taken) = read(Element::Start(rest))? {
            // Never past what was offered.
            self.pos += taken.min(rest.bytes.len());
            return Ok(());
        }
        self.value(|piece| read(Element::Piece(piece)).map(drop))
    }

    /// Where the piece at `pos` (ending before `end`) stops being JSON, in the whole file:
    /// serde_json reads on from the piece's start, so it reports what it would have in
    /// the whole document.
    fn piece_break(&self, end: usize) -> Halt {
        match break_in(&self.buf()[self.pos..], self.place(self.pos)) {
            Some(b) => Halt::Broken(b),
            None => self.broken(end, "not JSON"),
        }
    }

    /// A string key and its colon.
    fn key(&mut self) -> Walk<String> {
        if self.peek()? != Some(b'"') {
            let at = self.pos;
            return Err(self.broken(at, "expected a key string"));
        }
        // A key that is not a string breaks the file where serde_json says (in `value`).
        let key = self.value(|piece| Ok(piece.parse::<String>().unwrap_or_default()))?;
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

/// Where the JSON value at the start of `b` ends (exclusive), by its structure alone:
/// strings skipped to their closing quote, brackets counted, a scalar ending at the next
/// delimiter. `None` when `b` ends first (`at_eof`: nothing more will come). Written by hand
/// because no crate scans a value's extent without parsing it (see the module comment).
fn value_end(b: &[u8], at_eof: bool) -> Option<usize> {
    match *b.first()? {
        b'{' | b'[' | b'"' => structure_end(b),
        _ => match b
            .iter()
            .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
        {
            Some(end) => Some(end),
            // A scalar running to the end of what is read may go on in the next read.
            None if at_eof => Some(b.len()),
            None => None,
        },
    }
}

/// The end of the string, object or array at the start of `b`. Bytes are taken eight at a
/// time: a word without a quote, backslash or bracket (most of them, in number-heavy text)
/// costs a few operations; the special bytes of a word are then visited in order.
fn structure_end(b: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    // The byte after a backslash in a string is skipped, whatever it is.
    let mut escaped_until = 0;
    let mut word_start = 0;
    while word_start < b.len() {
        let rest = &b[word_start..];
        let (word, width) = match rest.first_chunk::<8>() {
            Some(w) => (u64::from_le_bytes(*w), 8),
            None => {
                // The tail, padded with zero bytes (never special).
                let mut w = [0u8; 8];
                w[..rest.len()].copy_from_slice(rest);
                (u64::from_le_bytes(w), rest.len())
            }
        };
        let mut special = special_bytes(word);
        while special != 0 {
            let at = word_start + (special.trailing_zeros() / 8) as usize;
            special &= special - 1;
            if at < escaped_until {
                continue;
            }
            match (in_string, b[at]) {
                (true, b'"') => {
                    in_string = false;
                    if depth == 0 {
                        return Some(at + 1);
                    }
                }
                (true, b'\\') => escaped_until = at + 2,
                (false, b'"') => in_string = true,
                (false, b'{' | b'[') => depth += 1,
                (false, b'}' | b']') => {
                    // An unmatched close is not JSON; the piece check says where.
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Some(at + 1);
                    }
                }
                _ => {}
            }
        }
        word_start += width;
    }
    None
}

/// The bytes of `word` that are a quote, a backslash or a bracket, each marked by its high
/// bit. Exact per byte (no borrow runs between bytes). OR-ing 0x20 folds `[` into `{` and
/// `]` into `}` and nothing else into either.
fn special_bytes(word: u64) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const ONES: u64 = 0x0101_0101_0101_0101;
    let zero_bytes = |x: u64| !(((x & LOW7) + LOW7) | x | LOW7);
    let folded = word | (ONES * 0x20);
    zero_bytes(word ^ (ONES * u64::from(b'"')))
        | zero_bytes(word ^ (ONES * u64::from(b'\\')))
        | zero_bytes(folded ^ (ONES * u64::from(b'{')))
        | zero_bytes(folded ^ (ONES * u64::from(b'}')))
}

/// Where the text `rest`, which starts at (line, column) of its file, stops being JSON as
/// serde_json reads its first value (`None`: it does not).
fn break_in(rest: &[u8], (line, column): (usize, usize)) -> Option<JsonBreak> {
    let mut values =
        serde_json::Deserializer::from_slice(rest).into_iter::<serde::de::IgnoredAny>();
    let Some(Err(e)) = values.next() else {
        return None;
    };
    let line_in = e.line().max(1);
    Some(JsonBreak {
        line: line + line_in - 1,
        column: if line_in == 1 {
            column + e.column().saturating_sub(1)
        } else {
            e.column()
        },
        reason: strip_place(&e),
    })
}

/// Where a file whose whole text is `file` breaks, for a piece at byte `offset` that its
/// handler found not JSON (see [`Piece::checked_later`]): what the stream reports for a
/// piece it checks itself.
pub fn break_at(file: &[u8], offset: u64) -> JsonBreak {
    let at = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(file.len());
    let before = &file[..at];
    let place = match memchr::memrchr(b'\n', before) {
        Some(nl) => (
            2 + memchr::memchr_iter(b'\n', &before[..nl]).count(),
            at - nl,
        ),
        None => (1, at + 1),
    };
    break_in(&file[at..], place).unwrap_or(JsonBreak {
        line: place.0,
        column: place.1,
        reason: "not JSON".into(),
    })
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
    stream_entry_values(
        reader,
        entries_key,
        capture,
        &mut |name, value, captured| match value {
            Element::Start(_) => Ok(None),
            Element::Piece(piece) => handle(name.to_string(), piece, captured).map(|()| None),
        },
    )
}

/// Handles one entry as [`ElementReader`] handles an array element: its key, its value
/// (first from where it starts), and the captured top-level values.
pub type EntryReader<'a> = &'a mut dyn FnMut(&str, Element<'_>, &Captured) -> Result<Option<usize>>;

/// [`stream_entries`] with each entry's value offered first from where it starts, as
/// [`stream_array_elements`] offers elements. An entry kept for captured values that come
/// after it is offered as a piece alone.
pub fn stream_entry_values(
    reader: impl Read,
    entries_key: &str,
    capture: &[&str],
    read: EntryReader<'_>,
) -> Result<StreamEnd> {
    let mut captured: Captured = BTreeMap::new();
    let mut deferred: Vec<(String, String)> = Vec::new();
    let ready = |c: &Captured| capture.iter().all(|k| c.contains_key(*k));
    let mut input = Chunked::new(reader);
    let walked = input
        .members(|input, key| {
            if key == entries_key {
                input.members(|input, name| {
                    if ready(&captured) {
                        input.element(&mut |value| {
                            read(&name, value, &captured).map_err(Halt::Handler)
                        })
                    } else {
                        input.value(|piece| {
                            // Kept only if JSON: a broken one stops the stream here.
                            if piece.is_json() {
                                deferred.push((name, piece.text().to_owned()));
                            }
                            Ok(())
                        })
                    }
                })
            } else if capture.contains(&key.as_str()) {
                let raw = input.value(|piece| {
                    // Not JSON: `value` reports where, after this closure.
                    Ok(RawValue::from_string(piece.text().to_owned()).ok())
                })?;
                if let Some(raw) = raw {
                    captured.insert(key, raw);
                }
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
            for (key, text) in deferred {
                read(&key, Element::Piece(&Piece::new(&text)), &captured)?;
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
    stream_array_elements(reader, keys, &mut |key, index, element| match element {
        Element::Start(_) => Ok(None),
        Element::Piece(piece) => handle(key, index, piece).map(|()| None),
    })
}

/// An array element, or an entry's value, as [`stream_array_elements`] and
/// [`stream_entry_values`] offer it.
pub enum Element<'a> {
    /// The value from its start to the end of what is read: it may end before the value
    /// does, or run on past it.
    Start(Rest<'a>),
    /// The value found whole, as [`stream_arrays`] and [`stream_entries`] hand it over.
    Piece(&'a Piece<'a>),
}

/// What [`Element::Start`] offers: the bytes from a value's start to the end of what is
/// read, and the same as text when they are known to be UTF-8.
#[derive(Clone, Copy)]
pub struct Rest<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) text: Option<&'a str>,
}

/// Handles one array element: its array's key, its index, and the element, first as
/// [`Element::Start`]. A handler that reads a whole element from there (parsing it through,
/// so that it knows it valid JSON and UTF-8) handles it and says how many bytes it took;
/// `None` (nothing of the element handled) has the stream find the element's end and offer it
/// again as [`Element::Piece`], whose answer is ignored. A number or literal is whole only
/// when followed by what ends a scalar (`,`, `]`, `}`, whitespace): at the end of the bytes
/// it may go on (`json_subset`'s cursor over bytes keeps to this).
pub type ElementReader<'a> = &'a mut dyn FnMut(&str, usize, Element<'_>) -> Result<Option<usize>>;

/// [`stream_arrays`] with elements offered first from where they start, so that a handler
/// that parses them anyway spares the stream its scan for their end.
pub fn stream_array_elements(
    reader: impl Read,
    keys: &[&str],
    read: ElementReader<'_>,
) -> Result<StreamEnd> {
    let mut input = Chunked::new(reader);
    let walked = input
        .members(|input, key| match keys.iter().find(|k| **k == key) {
            Some(k) => input.elements(|input, index| {
                input.element(&mut |element| read(k, index, element).map_err(Halt::Handler))
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
    use super::super::json_subset::{Cursor, read_from_start};
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
                seen.push(format!("{k}[{i}]={}", raw.text()));
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
            seen.push((k, raw.text().to_string(), cap.len()));
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
                seen.push(raw.text().to_string());
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
            // A handler that leaves its pieces unparsed, and one that parses them.
            for parses in [false, true] {
                for size in [1, 3, 64] {
                    let end = stream_entries(
                        trickle(doc.as_bytes(), vec![size]),
                        "items",
                        &[],
                        &mut |_, piece, _| {
                            if parses {
                                let parsed = piece.parse::<serde_json::Value>();
                                assert!(!matches!(parsed, Err(PieceError::Data(_))));
                            }
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
                        "{doc} in reads of {size}, parsed {parses}: {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_piece_of_the_wrong_type_is_data_unless_it_is_not_json_at_all() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Pair {
            a: u32,
            b: Vec<u32>,
        }
        assert!(Piece::new(r#"{"a": 1, "b": [2]}"#).parse::<Pair>().is_ok());
        assert!(matches!(
            Piece::new(r#"{"a": "1", "b": [2]}"#).parse::<Pair>(),
            Err(PieceError::Data(_))
        ));
        // serde_json stops at the type error; the syntax error behind it still counts.
        assert!(matches!(
            Piece::new(r#"{"a": "1", "b": [2,,]}"#).parse::<Pair>(),
            Err(PieceError::Broken)
        ));
        assert!(matches!(
            Piece::new(r#"{"a": 1, "b": [2"#).parse::<Pair>(),
            Err(PieceError::Broken)
        ));
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
                seen.push((i, raw.parse::<serde_json::Value>().unwrap()));
                Ok(())
            }).unwrap();
            proptest::prop_assert!(matches!(end, StreamEnd::Complete));
            let expected: Vec<(usize, serde_json::Value)> = values.into_iter().enumerate().collect();
            proptest::prop_assert_eq!(seen, expected);
        }
    }

    proptest::proptest! {
        /// A document with one byte changed streams to the end exactly when serde_json reads
        /// the whole text, and breaks on the same line when it does not: the structural scan
        /// plus the checks of unparsed pieces miss nothing serde_json would see.
        #[test]
        fn a_damaged_document_breaks_exactly_where_serde_json_does(
            values in proptest::collection::vec(json_value(), 1..8),
            at in proptest::num::usize::ANY,
            byte in proptest::sample::select(b"{}[]\",:\\ x1-.e\n\xff".to_vec()),
            size in 1usize..40,
            parses in proptest::bool::ANY,
            pretty in proptest::bool::ANY,
        ) {
            let doc = serde_json::json!({"skipped": values.clone(), "images": values});
            let mut text = if pretty { serde_json::to_string_pretty(&doc) } else { serde_json::to_string(&doc) }
                .unwrap()
                .into_bytes();
            // Inside the arrays: where the stream expects an object or an array by shape,
            // serde_json may read another document (`1` and trailing characters).
            let first = text.iter().position(|&b| b == b'[').unwrap();
            let last = text.iter().rposition(|&b| b == b']').unwrap();
            let at = first + 1 + at % (last - first - 1).max(1);
            text[at] = byte;
            // JSON text is UTF-8 (serde_json skips strings unchecked when it ignores them).
            let reference = match std::str::from_utf8(&text) {
                Ok(t) => serde_json::from_str::<serde::de::IgnoredAny>(t).map_err(|e| e.line()),
                Err(e) => Err(1 + text[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count()),
            };
            let end = stream_arrays(trickle(&text, vec![size]), &["images"], &mut |_, _, piece| {
                if parses {
                    let _ = piece.parse::<serde_json::Value>();
                }
                Ok(())
            }).unwrap();
            match (&reference, &end) {
                (Ok(_), StreamEnd::Complete) => {}
                (Err(line), StreamEnd::Malformed(b)) => proptest::prop_assert_eq!(*line, b.line, "{:?} in {}", b, String::from_utf8_lossy(&text)),
                _ => proptest::prop_assert!(false, "{:?} vs {end:?} for {}", reference, String::from_utf8_lossy(&text)),
            }
        }
    }

    /// What a subset-reading handler makes of an element: its text, and the bytes it took
    /// when it read the element whole from its start (skipping it through, so knowing it
    /// JSON); a start it declines has no text yet.
    fn seen_by_reader(element: Element<'_>) -> (Option<String>, Option<usize>) {
        match element {
            Element::Start(rest) => match read_from_start(rest, Cursor::skip) {
                Some(((), text)) => (Some(text.to_string()), Some(text.len())),
                None => (None, None),
            },
            Element::Piece(p) => {
                let _ = p.parse::<serde_json::Value>();
                (Some(p.text().to_string()), None)
            }
        }
    }

    /// Whether two streams ended alike: both whole, broken on the same line, or missing
    /// captured values for as many entries.
    fn ended_alike(a: &StreamEnd, b: &StreamEnd) -> bool {
        match (a, b) {
            (StreamEnd::Complete, StreamEnd::Complete) => true,
            (StreamEnd::Malformed(a), StreamEnd::Malformed(b)) => a.line == b.line,
            (StreamEnd::Missing { entries: a, .. }, StreamEnd::Missing { entries: b, .. }) => {
                a == b
            }
            _ => false,
        }
    }

    /// Reads the "images" elements as a subset-reading handler does: what each element's
    /// text was, and how the stream ended.
    fn read_from_starts(text: &[u8], size: usize) -> (Vec<(usize, String)>, StreamEnd) {
        let mut seen = Vec::new();
        let end = stream_array_elements(trickle(text, vec![size]), &["images"], &mut |_, i, e| {
            let (text, taken) = seen_by_reader(e);
            seen.extend(text.map(|t| (i, t)));
            Ok(taken)
        })
        .unwrap();
        (seen, end)
    }

    proptest::proptest! {
        /// Elements read whole from their start (by whatever read size, so often cut short)
        /// are the elements the stream finds, and a damaged document ends as it does for
        /// [`stream_arrays`]: at the same line, after the same elements.
        #[test]
        fn elements_read_from_their_start_are_the_elements_found(
            values in proptest::collection::vec(json_value(), 1..8),
            at in proptest::num::usize::ANY,
            byte in proptest::sample::select(b"{}[]\",:\\ x1-.e\n\xff".to_vec()),
            damage in proptest::bool::ANY,
            size in 1usize..40,
            pretty in proptest::bool::ANY,
        ) {
            let doc = serde_json::json!({"skipped": values.clone(), "images": values});
            let mut text = if pretty { serde_json::to_string_pretty(&doc) } else { serde_json::to_string(&doc) }
                .unwrap()
                .into_bytes();
            if damage {
                let first = text.iter().position(|&b| b == b'[').unwrap();
                let last = text.iter().rposition(|&b| b == b']').unwrap();
                let at = first + 1 + at % (last - first - 1).max(1);
                text[at] = byte;
            }
            let (ours, our_end) = read_from_starts(&text, size);
            let mut pieces = Vec::new();
            let end = stream_arrays(trickle(&text, vec![size]), &["images"], &mut |_, i, p| {
                let _ = p.parse::<serde_json::Value>();
                pieces.push((i, p.text().to_string()));
                Ok(())
            }).unwrap();
            proptest::prop_assert_eq!(&ours, &pieces, "{}", String::from_utf8_lossy(&text));
            proptest::prop_assert!(ended_alike(&our_end, &end), "{our_end:?} vs {end:?} for {}", String::from_utf8_lossy(&text));
        }
    }

    proptest::proptest! {
        /// Entries read whole from their value's start are the entries the stream finds, in
        /// order, with or without captured values (kept entries come as pieces), and a
        /// damaged document ends as it does for [`stream_entries`].
        #[test]
        fn entries_read_from_their_start_are_the_entries_found(
            values in proptest::collection::vec(json_value(), 1..8),
            at in proptest::num::usize::ANY,
            byte in proptest::sample::select(b"{}[]\",:\\ x1-.e\n\xff".to_vec()),
            damage in proptest::bool::ANY,
            size in 1usize..40,
            capture in proptest::bool::ANY,
        ) {
            let items: serde_json::Map<String, serde_json::Value> =
                values.into_iter().enumerate().map(|(i, v)| (format!("k{i}"), v)).collect();
            // Undamaged, the entries are the items, each with the captured value.
            let expected: Vec<(String, String, usize)> = items
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::to_string(v).unwrap(), usize::from(capture)))
                .collect();
            let doc = serde_json::json!({"items": items, "meta": [1, 2]});
            let mut text = serde_json::to_string(&doc).unwrap().into_bytes();
            if damage {
                let first = text.iter().position(|&b| b == b'{').unwrap() + 1;
                let first = first + text[first..].iter().position(|&b| b == b'{').unwrap();
                let at = first + 1 + at % (text.len() - first - 12).max(1);
                text[at] = byte;
            }
            let captures: &[&str] = if capture { &["meta"] } else { &[] };
            let mut ours = Vec::new();
            let our_end = stream_entry_values(trickle(&text, vec![size]), "items", captures, &mut |k, v, cap| {
                let (text, taken) = seen_by_reader(v);
                ours.extend(text.map(|t| (k.to_string(), t, cap.len())));
                Ok(taken)
            }).unwrap();
            let mut pieces = Vec::new();
            let end = stream_entries(trickle(&text, vec![size]), "items", captures, &mut |k, p, cap| {
                let _ = p.parse::<serde_json::Value>();
                pieces.push((k, p.text().to_string(), cap.len()));
                Ok(())
            }).unwrap();
            proptest::prop_assert_eq!(&ours, &pieces, "{}", String::from_utf8_lossy(&text));
            if !damage {
                proptest::prop_assert_eq!(&ours, &expected);
            }
            proptest::prop_assert!(ended_alike(&our_end, &end), "{our_end:?} vs {end:?} for {}", String::from_utf8_lossy(&text));
        }
    }

    /// The reference for [`structure_end`]: one byte at a time.
    fn structure_end_bytewise(b: &[u8]) -> Option<usize> {
        let (mut depth, mut in_string, mut i) = (0usize, false, 0);
        while let Some(&c) = b.get(i) {
            match (in_string, c) {
                (true, b'"') => in_string = false,
                (true, b'\\') => i += 1,
                (false, b'"') => in_string = true,
                (false, b'{' | b'[') => depth += 1,
                (false, b'}' | b']') => depth = depth.saturating_sub(1),
                _ => {}
            }
            i += 1;
            if depth == 0 && !in_string {
                return Some(i);
            }
        }
        None
    }

    proptest::proptest! {
        /// The word-at-a-time scan ends every value where the byte-at-a-time one does.
        #[test]
        fn the_word_scan_ends_values_where_the_byte_scan_does(
            open in proptest::sample::select(b"{[\"".to_vec()),
            rest in proptest::collection::vec(proptest::sample::select(b"{}[]\"\\a1 ,:\x00\x02\x5b\x7d\xc3\xa9\xff".to_vec()), 0..80),
        ) {
            let mut b = vec![open];
            b.extend(rest);
            proptest::prop_assert_eq!(structure_end(&b), structure_end_bytewise(&b));
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
