//! A reader of a strict subset of JSON for the hottest typed parses (EgoHumans' COCO entries,
//! Ego-Exo4D's takes and pose files): [`Cursor`] reads strings, numbers and objects, skips the rest.
//!
//! Written by hand because serde_json's typed parse was most of those loaders' time: about
//! 200 instructions per keypoint number, a third of them its generic visitor plumbing. The
//! subset is chosen so that whatever the cursor accepts, serde_json parses to the same value:
//! every step returns `None` where a text leaves the subset (an escape in a string, a repeated
//! field, a number serde_json would refuse, a value nested too deep, anything not JSON), and
//! the caller then parses the text with serde_json, which also gives the error message.
//! Numbers are rounded as serde_json rounds them with `float_roundtrip` (correctly). The
//! tests hold the two parsers side by side.

use super::json_stream::Rest;

/// How deep [`Cursor::skip`] follows nested values before it gives up (serde_json's limit
/// is 128); one bit of a `u64` per level.
const MAX_DEPTH: usize = 64;

/// Integers of at most this many digits are exact in `u64` arithmetic and read directly.
const SHORT_DIGITS: usize = 18;

/// Decimals of at most this many digits are exact as `f64` integers (10^15 < 2^53).
const EXACT_DIGITS: usize = 15;

/// The most numbers [`Cursor::f64_array`]'s own loop reads (COCO's 51 keypoints fit).
const SHORT_ARRAY: usize = 64;

/// The powers of ten a decimal of at most [`EXACT_DIGITS`] digits is divided by, each exact.
const POW10: [f64; EXACT_DIGITS + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// A position in a JSON text, or in a stream's read (which may stop short of the value, and
/// need not be UTF-8).
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    /// The same text, when it is known to be UTF-8.
    text: Option<&'a str>,
    /// Whether the bytes may stop short of the value read (a stream's read).
    open_ended: bool,
    at: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `text`.
    pub(crate) fn new(text: &'a str) -> Self {
        Cursor {
            bytes: text.as_bytes(),
            text: Some(text),
            open_ended: false,
            at: 0,
        }
    }

    /// A cursor at the start of a stream's read ([`Rest`]), which may run past the value
    /// read or stop short of it. A number or literal running to its end is not read: it
    /// may go on. Where the read is not known to be UTF-8, a string handed out is checked,
    /// and [`read_from_start`] checks the whole value's bytes.
    pub(crate) fn over_rest(rest: Rest<'a>) -> Self {
        Cursor {
            bytes: rest.bytes,
            text: rest.text,
            open_ended: true,
            at: 0,
        }
    }

    /// How far the cursor has read.
    pub(crate) fn position(&self) -> usize {
        self.at
    }

    #[inline(always)]
    fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The text of `range`, which lies on character boundaries of a UTF-8 text.
    fn slice(&self, range: std::ops::Range<usize>) -> Option<&'a str> {
        match self.text {
            Some(text) => text.get(range),
            None => std::str::from_utf8(self.bytes.get(range)?).ok(),
        }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    /// Skips JSON whitespace (the four bytes serde_json skips).
    #[inline(always)]
    fn whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    /// Whitespace, then `byte`.
    fn eat(&mut self, byte: u8) -> Option<()> {
        self.whitespace();
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// The end of the text: nothing but whitespace is left.
    pub(crate) fn end(mut self) -> Option<()> {
        self.whitespace();
        (self.at == self.bytes.len()).then_some(())
    }

    /// A string without escapes or control characters (serde_json refuses the latter).
    pub(crate) fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let rest = &self.bytes()[start..];
        let len = first_string_special(rest)?;
        if rest[len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        // A quote is one byte of UTF-8, so both ends lie on character boundaries.
        self.slice(start..start + len)
    }

    /// Scans the number at the cursor by JSON's grammar and moves past it: where it starts,
    /// and its value when it is an integer of at most [`SHORT_DIGITS`] digits (whether it is
    /// negative, and its magnitude).
    #[inline(always)]
    fn number(&mut self) -> Option<(usize, Option<(bool, u64)>)> {
        self.whitespace();
        let b = self.bytes();
        let start = self.at;
        let negative = b.get(start) == Some(&b'-');
        let first = start + usize::from(negative);
        let mut i = first;
        // Wraps only past SHORT_DIGITS digits, where the magnitude is not used.
        let mut magnitude = 0u64;
        while let Some(&d) = b.get(i) {
            let digit = d.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            magnitude = magnitude.wrapping_mul(10).wrapping_add(u64::from(digit));
            i += 1;
        }
        let digits = i - first;
        // No digit, or a leading zero followed by a digit: not JSON.
        if digits == 0 || (digits > 1 && b[first] == b'0') {
            return None;
        }
        let mut integer = true;
        if b.get(i) == Some(&b'.') {
            integer = false;
            i = Self::digits_after(b, i + 1)?;
        }
        if let Some(b'e' | b'E') = b.get(i) {
            integer = false;
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            i = Self::digits_after(b, i)?;
        }
        self.check_not_cut(i)?;
        self.at = i;
        let short = (integer && digits <= SHORT_DIGITS).then_some((negative, magnitude));
        Some((start, short))
    }

    /// The end of the digits from `i`, of which there must be one at least.
    fn digits_after(b: &[u8], i: usize) -> Option<usize> {
        let n = b
            .get(i..)?
            .iter()
            .take_while(|d| d.is_ascii_digit())
            .count();
        (n > 0).then_some(i + n)
    }

    /// A number as `f64`, as serde_json reads one into an `f64`. Inlined into loops over
    /// numbers: a short integer or decimal followed by a delimiter (most numbers) is read in
    /// one pass.
    #[inline(always)]
    pub(crate) fn f64(&mut self) -> Option<f64> {
        self.whitespace();
        let b = self.bytes();
        let negative = b.get(self.at) == Some(&b'-');
        let first = self.at + usize::from(negative);
        let mut i = first;
        // The digits before and after the point as one integer.
        let (magnitude, digits) = digits_onto(b, &mut i, 0);
        let delimited = |at: usize| match b.get(at) {
            None => !self.open_ended,
            Some(c) => matches!(c, b',' | b']' | b'}' | b' ' | b'\n' | b'\r' | b'\t'),
        };
        let leading_zero_ok = digits == 1 || b.get(first) != Some(&b'0');
        if (1..=SHORT_DIGITS).contains(&digits) && leading_zero_ok {
            if delimited(i) {
                self.at = i;
                // Under 10^18, so exact in i64 and converted in one instruction. serde_json
                // negates the integer, core the float: the same for both signs of zero.
                let x = magnitude as i64 as f64;
                return Some(if negative { -x } else { x });
            }
            if b.get(i) == Some(&b'.') {
                i += 1;
                let (magnitude, decimals) = fraction_digits_onto(b, &mut i, magnitude);
                if decimals >= 1 && digits + decimals <= EXACT_DIGITS && delimited(i) {
                    self.at = i;
                    return Some(exact_decimal(negative, magnitude, decimals));
                }
            }
        }
        self.f64_in_full()
    }

    /// A number that is not a short integer, or not JSON.
    #[cold]
    #[inline(never)]
    fn f64_in_full(&mut self) -> Option<f64> {
        match self.number()? {
            (_, Some((negative, magnitude))) => {
                let x = magnitude as f64;
                Some(if negative { -x } else { x })
            }
            // Decimals, exponents and long integers, correctly rounded by core's parser:
            // so does serde_json with `float_roundtrip`, which the workspace asks for. Past
            // f64's range serde_json refuses the number; so does the subset.
            (start, None) => {
                let x = self.slice(start..self.at)?.parse::<f64>().ok()?;
                x.is_finite().then_some(x)
            }
        }
    }

    /// An integer that fits `i64`. serde_json refuses a decimal or an exponent there, and
    /// `-0`, which it reads as the float -0.0.
    pub(crate) fn i64(&mut self) -> Option<i64> {
        let (_, Some((negative, magnitude))) = self.number()? else {
            return None;
        };
        let magnitude = i64::try_from(magnitude).ok()?;
        match (negative, magnitude) {
            (true, 0) => None,
            (true, m) => Some(-m),
            (false, m) => Some(m),
        }
    }

    /// A non-negative integer (serde_json refuses any sign there, `-0` included).
    pub(crate) fn u64(&mut self) -> Option<u64> {
        let (_, Some((false, magnitude))) = self.number()? else {
            return None;
        };
        Some(magnitude)
    }

    /// The next byte that is not whitespace, not consumed.
    pub(crate) fn peek_value(&mut self) -> Option<u8> {
        self.whitespace();
        self.peek()
    }

    /// Skips any value as serde_json's `deserialize_any` reads one for a visitor that
    /// keeps nothing of it: a number is parsed (one past f64's range leaves the subset, as
    /// serde_json refuses it), values inside arrays and objects are only checked.
    pub(crate) fn skip_any(&mut self) -> Option<()> {
        self.whitespace();
        match self.peek()? {
            b'-' | b'0'..=b'9' => self.f64().map(drop),
            _ => self.skip(),
        }
    }

    /// Any value, kept when it is a non-negative integer (what `Value::as_u64` keeps);
    /// a number that is not a short integer leaves the subset.
    pub(crate) fn any_unsigned(&mut self) -> Option<Option<u64>> {
        self.whitespace();
        match self.peek()? {
            b'-' | b'0'..=b'9' => match self.number()? {
                (_, Some((false, n))) => Some(Some(n)),
                // Negative (`-0` too: serde_json reads it as the float -0.0).
                (_, Some((true, _))) => Some(None),
                (_, None) => None,
            },
            _ => self.skip().map(|()| None),
        }
    }

    /// Any value, kept when it is a string.
    pub(crate) fn any_str(&mut self) -> Option<Option<&'a str>> {
        self.whitespace();
        match self.peek()? {
            b'"' => self.string().map(Some),
            _ => self.skip_any().map(|()| None),
        }
    }

    /// `null` as `Some(None)`, else what `value` reads (an `Option` field of serde's).
    pub(crate) fn nullable<T>(
        &mut self,
        value: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<Option<T>> {
        self.whitespace();
        if self.peek()? == b'n' {
            return self.literal("null").map(|()| None);
        }
        value(self).map(Some)
    }

    /// An array: `element` reads each element in turn.
    #[inline(always)]
    pub(crate) fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        self.whitespace();
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            element(self)?;
            self.whitespace();
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An array of numbers, each handed to `each` as an `f64`. An array of short unsigned
    /// integers separated by bare commas (COCO's keypoints and boxes) is read by a loop of
    /// its own; any other array, or one that runs to the end of a stream's read, is read
    /// again from its start as [`Cursor::f64_array_in_full`] reads it.
    pub(crate) fn f64_array(&mut self, mut each: impl FnMut(f64)) -> Option<()> {
        let start = self.at;
        let mut values = [0.0; SHORT_ARRAY];
        if let Some((n, end)) = self.short_integers(&mut values) {
            self.at = end;
            values[..n].iter().for_each(|&x| each(x));
            return Some(());
        }
        self.at = start;
        self.f64_array_in_full(each)
    }

    /// [`Cursor::f64_array`] number by number, as [`Cursor::f64`] reads each.
    fn f64_array_in_full(&mut self, mut each: impl FnMut(f64)) -> Option<()> {
        self.array(|c| c.f64().map(&mut each))
    }

    /// The array at the cursor, into `values`, when it is 1 to [`SHORT_ARRAY`] integers of
    /// at most [`SHORT_DIGITS`] digits (no sign, no leading zero) with nothing but a comma
    /// between them: how many, and where the array ends. The cursor is left past the `[`.
    fn short_integers(&mut self, values: &mut [f64; SHORT_ARRAY]) -> Option<(usize, usize)> {
        self.eat(b'[')?;
        let b = self.bytes();
        let mut i = self.at;
        let mut n = 0;
        loop {
            let first = i;
            // `digits_onto`'s loop, written out: calling it here (inlined, the same loop)
            // took 2% more of EgoHumans' instructions and 3% more of its time, measured.
            let mut magnitude = 0u64;
            while let Some(&d) = b.get(i) {
                let digit = d.wrapping_sub(b'0');
                if digit > 9 {
                    break;
                }
                magnitude = magnitude.wrapping_mul(10).wrapping_add(u64::from(digit));
                i += 1;
            }
            let digits = i - first;
            if digits == 0 || digits > SHORT_DIGITS || (digits > 1 && b[first] == b'0') {
                return None;
            }
            // Under 10^18: exact in i64, as `Cursor::f64` converts it.
            *values.get_mut(n)? = magnitude as i64 as f64;
            n += 1;
            match b.get(i)? {
                b',' => i += 1,
                b']' => return Some((n, i + 1)),
                _ => return None,
            }
        }
    }

    /// An array of exactly `N` numbers (serde's `[f64; N]`).
    pub(crate) fn f64s<const N: usize>(&mut self) -> Option<[f64; N]> {
        let (mut out, mut n) = ([0.0; N], 0);
        self.array(|c| {
            *out.get_mut(n)? = c.f64()?;
            n += 1;
            Some(())
        })?;
        (n == N).then_some(out)
    }

    /// An array of exactly `R` arrays of exactly `C` numbers (serde's `[[f64; C]; R]`).
    pub(crate) fn f64_rows<const R: usize, const C: usize>(&mut self) -> Option<[[f64; C]; R]> {
        let (mut out, mut n) = ([[0.0; C]; R], 0);
        self.array(|c| {
            *out.get_mut(n)? = c.f64s::<C>()?;
            n += 1;
            Some(())
        })?;
        (n == R).then_some(out)
    }

    /// An object: `member` reads the value of each key (a plain string) in turn.
    pub(crate) fn object(
        &mut self,
        mut member: impl FnMut(&'a str, &mut Self) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        self.whitespace();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            member(key, self)?;
            self.whitespace();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Skips one value of any kind, checking its syntax as serde_json does when it ignores a
    /// value (numbers by grammar, not range). One loop over the tokens, the open containers
    /// kept as bits (recursing through [`Cursor::object`] cost twice as much).
    pub(crate) fn skip(&mut self) -> Option<()> {
        self.skip_parsing::<false>()
    }

    /// Skips one value as serde_json reads one into a `Value`: as [`Cursor::skip`], with
    /// every number parsed (one past f64's range leaves the subset: serde_json refuses it).
    pub(crate) fn skip_in_value(&mut self) -> Option<()> {
        self.skip_parsing::<true>()
    }

    /// Any value inside a `Value`, kept when it is a number (what `Value::as_f64` keeps).
    pub(crate) fn value_f64(&mut self) -> Option<Option<f64>> {
        match self.peek_value()? {
            b'-' | b'0'..=b'9' => self.f64().map(Some),
            _ => self.skip_in_value().map(|()| None),
        }
    }

    /// Any value inside a `Value`, kept when it is a non-negative integer (what
    /// `Value::as_u64` keeps); a number that is not a short integer leaves the subset.
    pub(crate) fn value_u64(&mut self) -> Option<Option<u64>> {
        match self.peek_value()? {
            b'-' | b'0'..=b'9' => self.any_unsigned(),
            _ => self.skip_in_value().map(|()| None),
        }
    }

    /// Any value inside a `Value`, kept when it is a string (what `Value::as_str` keeps).
    pub(crate) fn value_str(&mut self) -> Option<Option<&'a str>> {
        match self.peek_value()? {
            b'"' => self.string().map(Some),
            _ => self.skip_in_value().map(|()| None),
        }
    }

    /// Any value inside a `Value`, kept when it is `true` or `false` (`Value::as_bool`).
    pub(crate) fn value_bool(&mut self) -> Option<Option<bool>> {
        match self.peek_value()? {
            b't' => self.literal("true").map(|()| Some(true)),
            b'f' => self.literal("false").map(|()| Some(false)),
            _ => self.skip_in_value().map(|()| None),
        }
    }

    /// [`Cursor::skip`], with numbers parsed when `PARSE_NUMBERS`.
    fn skip_parsing<const PARSE_NUMBERS: bool>(&mut self) -> Option<()> {
        // Bit d of `objects` is set when the container open at depth d is an object.
        let (mut objects, mut depth) = (0u64, 0usize);
        loop {
            // A value.
            self.whitespace();
            match self.peek()? {
                open @ (b'{' | b'[') => {
                    self.at += 1;
                    self.whitespace();
                    let close = if open == b'{' { b'}' } else { b']' };
                    if self.peek()? == close {
                        self.at += 1;
                    } else {
                        if depth == MAX_DEPTH {
                            return None;
                        }
                        objects = (objects & !(1 << depth)) | (u64::from(open == b'{') << depth);
                        depth += 1;
                        if open == b'{' {
                            self.key_and_colon()?;
                        }
                        continue;
                    }
                }
                b'"' => self.skip_string()?,
                b't' => self.literal("true")?,
                b'f' => self.literal("false")?,
                b'n' => self.literal("null")?,
                _ if PARSE_NUMBERS => drop(self.f64()?),
                _ => drop(self.number()?),
            }
            // After a value: the containers it closes, then a comma or the end.
            loop {
                if depth == 0 {
                    return Some(());
                }
                let in_object = objects >> (depth - 1) & 1 == 1;
                self.whitespace();
                match (self.peek()?, in_object) {
                    (b',', _) => {
                        self.at += 1;
                        if in_object {
                            self.key_and_colon()?;
                        }
                        break;
                    }
                    (b'}', true) | (b']', false) => {
                        self.at += 1;
                        depth -= 1;
                    }
                    _ => return None,
                }
            }
        }
    }

    /// A member's key (a plain string) and its colon, skipped.
    fn key_and_colon(&mut self) -> Option<()> {
        self.whitespace();
        if self.peek()? != b'"' {
            return None;
        }
        self.skip_string()?;
        self.eat(b':')
    }

    /// A plain string (as [`Cursor::string`] reads one), skipped.
    fn skip_string(&mut self) -> Option<()> {
        let rest = self.bytes().get(self.at + 1..)?;
        let len = first_string_special(rest)?;
        (rest[len] == b'"').then(|| self.at += len + 2)
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.at + word.len();
        self.check_not_cut(end)?;
        (self.bytes().get(self.at..end)? == word.as_bytes()).then(|| self.at = end)
    }

    /// A number or literal ending at `end`. Over bytes that may stop short of the value
    /// ([`Cursor::over_rest`]) it must be followed by what ends a scalar (a stream's scan
    /// takes a scalar to run to one): at their end it may go on past them.
    fn check_not_cut(&self, end: usize) -> Option<()> {
        let ended = matches!(
            self.bytes.get(end),
            Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
        );
        (!self.open_ended || ended).then_some(())
    }
}

/// The decimal `±magnitude / 10^decimals` of at most [`EXACT_DIGITS`] digits. Exact over
/// exact, rounded once by the division: correctly rounded, as serde_json (float_roundtrip)
/// and core round (Clinger's fast path). The sign last: the same for both signs of zero.
#[inline(always)]
fn exact_decimal(negative: bool, magnitude: u64, decimals: usize) -> f64 {
    let x = magnitude as i64 as f64 / POW10[decimals];
    if negative { -x } else { x }
}

/// A number token read as core's `str::parse::<f64>` reads it; the plain form
/// `-?digits(.digits)?` of at most [`EXACT_DIGITS`] digits without the general parser.
pub(crate) fn parse_f64(token: &str) -> Option<f64> {
    let b = token.as_bytes();
    let negative = b.first() == Some(&b'-');
    let mut i = usize::from(negative);
    let (mut magnitude, digits) = digits_onto(b, &mut i, 0);
    let mut decimals = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        (magnitude, decimals) = fraction_digits_onto(b, &mut i, magnitude);
    }
    let plain = i == b.len() && digits >= 1 && b.get(i - 1) != Some(&b'.');
    if plain && digits + decimals <= EXACT_DIGITS {
        return Some(exact_decimal(negative, magnitude, decimals));
    }
    token.parse().ok()
}

/// The digits of `b` from `i` on appended to `magnitude` (wrapping past 19 digits, where
/// the caller does not use it), `i` moved past them, and how many there were.
#[inline(always)]
fn digits_onto(b: &[u8], i: &mut usize, mut magnitude: u64) -> (u64, usize) {
    let from = *i;
    while let Some(&d) = b.get(*i) {
        let digit = d.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        magnitude = magnitude.wrapping_mul(10).wrapping_add(u64::from(digit));
        *i += 1;
    }
    (magnitude, *i - from)
}

/// [`digits_onto`] taking eight digits at a time while they last, for the digits after a
/// decimal point: often ten or more (pose matrices, calibration files), where one at a time
/// each step waits on the last multiply. Integer parts, mostly a few digits, keep the plain
/// loop: there the check for eight digits cost more than it saved.
#[inline(always)]
fn fraction_digits_onto(b: &[u8], i: &mut usize, mut magnitude: u64) -> (u64, usize) {
    let from = *i;
    while let Some(word) = b.get(*i..).and_then(|r| r.first_chunk::<8>()) {
        let Some(value) = eight_digits(u64::from_le_bytes(*word)) else {
            break;
        };
        // Wrapping, as eight steps of the plain loop would.
        magnitude = magnitude.wrapping_mul(100_000_000).wrapping_add(value);
        *i += 8;
    }
    let (magnitude, _) = digits_onto(b, i, magnitude);
    (magnitude, *i - from)
}

/// The value of eight ASCII digits, the first in the lowest byte; `None` unless all eight
/// are digits. Pairs, then quads, then the eight are combined by multiplies within the word
/// (the SWAR method of fast_float and simdjson, written out here).
#[inline(always)]
fn eight_digits(word: u64) -> Option<u64> {
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    // A byte is a digit when its high nibble is 3 and it stays so with 6 added.
    let digits =
        (word & HIGH_NIBBLES) | ((word.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES) >> 4);
    if digits != 0x3333_3333_3333_3333 {
        return None;
    }
    let v = word - 0x3030_3030_3030_3030;
    // Each 16-bit lane: its first digit times 10 plus its second.
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    // Lanes paired into 4-digit values, and those into the 8-digit value in the high half.
    let pairs = (v & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32));
    let quads = ((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32));
    Some(pairs.wrapping_add(quads) >> 32)
}

/// Where the first quote, backslash or control character of `b` is. Bytes are taken eight at
/// a time: the lowest marked byte of a word is exact (a borrow runs only upwards from a
/// marked byte).
fn first_string_special(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut from = 0;
    while let Some(word) = b.get(from..).and_then(|r| r.first_chunk::<8>()) {
        let w = u64::from_le_bytes(*word);
        let marked = zero_bytes(w ^ (ONES * u64::from(b'"')))
            | zero_bytes(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
        if marked != 0 {
            return Some(from + (marked.trailing_zeros() / 8) as usize);
        }
        from += 8;
    }
    let tail = b.get(from..)?;
    tail.iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|at| from + at)
}

/// The value `read` reads when it is the whole of `text` (whitespace around it aside).
pub(crate) fn read_whole<'a, T>(
    text: &'a str,
    read: impl FnOnce(&mut Cursor<'a>) -> Option<T>,
) -> Option<T> {
    let mut c = Cursor::new(text);
    let value = read(&mut c)?;
    c.end()?;
    Some(value)
}

/// The value `read` reads from the start of a stream's read ([`Cursor::over_rest`]), and
/// its text, when it was read whole and is UTF-8.
pub(crate) fn read_from_start<'a, T>(
    rest: Rest<'a>,
    read: impl FnOnce(&mut Cursor<'a>) -> Option<T>,
) -> Option<(T, &'a str)> {
    let mut c = Cursor::over_rest(rest);
    let value = read(&mut c)?;
    let end = c.position();
    let text = match rest.text {
        Some(text) => text.get(..end)?,
        None => std::str::from_utf8(rest.bytes.get(..end)?).ok()?,
    };
    Some((value, text))
}

/// Sets a field read from an object once: a second occurrence leaves the subset (serde_json
/// refuses a duplicate field).
pub(crate) fn set_once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value?);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// A value read by the cursor and by serde_json: numbers as `f64` bits, the rest as
    /// serde_json's `Value`.
    fn read_as_cursor(text: &str) -> Option<Value> {
        read_whole(text, read_value)
    }

    fn read_value(c: &mut Cursor<'_>) -> Option<Value> {
        c.whitespace();
        Some(match c.peek()? {
            b'"' => Value::String(c.string()?.to_string()),
            b'{' => {
                let mut map = serde_json::Map::new();
                c.object(|k, c| {
                    let v = read_value(c)?;
                    map.insert(k.to_string(), v);
                    Some(())
                })?;
                map.into()
            }
            b'[' => {
                // Arrays of numbers through f64_array; others are skipped whole.
                let start = c.at;
                let mut numbers = Vec::new();
                if c.f64_array(|x| numbers.push(x)).is_some() {
                    Value::Array(numbers.into_iter().map(f64_value).collect())
                } else {
                    c.at = start;
                    c.skip()?;
                    serde_json::from_str::<Value>(c.slice(start..c.at)?).ok()?
                }
            }
            b't' | b'f' | b'n' => {
                let start = c.at;
                c.skip()?;
                serde_json::from_str::<Value>(c.slice(start..c.at)?).ok()?
            }
            _ => f64_value(c.f64()?),
        })
    }

    fn f64_value(x: f64) -> Value {
        Value::String(format!("f64:{:016x}", x.to_bits()))
    }

    /// serde_json's reading, numbers as `f64` bits like [`read_as_cursor`]: each number
    /// through serde_json's own `f64` parse, as a typed parse into `f64` reads it.
    fn read_as_serde(text: &str) -> Option<Value> {
        fn walk(v: Value) -> Option<Value> {
            Some(match v {
                Value::Number(n) => f64_value(serde_json::from_str::<f64>(&n.to_string()).ok()?),
                Value::Array(a) => Value::Array(a.into_iter().map(walk).collect::<Option<_>>()?),
                Value::Object(m) => Value::Object(
                    m.into_iter()
                        .map(|(k, x)| Some((k, walk(x)?)))
                        .collect::<Option<_>>()?,
                ),
                other => other,
            })
        }
        walk(serde_json::from_str(text).ok()?)
    }

    #[test]
    fn numbers_read_as_serde_json_reads_them_into_f64() {
        let cases = [
            "0",
            "-0",
            "7",
            "-7",
            "123456789012345678",
            "-123456789012345678",
            "1234567890123456789",
            "99999999999999999999",
            "0.1",
            "-0.0",
            "1e3",
            "1E-3",
            "2.5e+2",
            "17976931348623157e292",
            "1e999",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "+1",
            "-01",
            "0x10",
            "1.5e",
            "4.35",
            "9007199254740993",
            "18446744073709551616",
        ];
        for text in cases {
            let ours = read_whole(text, Cursor::f64);
            let theirs = serde_json::from_str::<f64>(text).ok();
            if let Some(x) = ours {
                assert_eq!(
                    Some(x.to_bits()),
                    theirs.map(f64::to_bits),
                    "{text}: cursor read {x}, serde_json {theirs:?}"
                );
            } else {
                // Outside the subset is fine only where serde_json refuses too, or for
                // nothing here (every JSON number is in the subset).
                assert!(
                    theirs.is_none(),
                    "{text}: serde_json reads {theirs:?}, the cursor nothing"
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]
        /// Every JSON number, long or short, near the ends of f64's range or not, reads to
        /// the same f64 as serde_json reads it, or to nothing where serde_json refuses it.
        #[test]
        fn any_number_reads_as_serde_json_reads_it(
            text in "-?(0|[1-9][0-9]{0,24})(\\.[0-9]{1,24})?([eE][+-]?[0-9]{1,3})?"
        ) {
            let ours = read_whole(&text, Cursor::f64).map(f64::to_bits);
            let theirs = serde_json::from_str::<f64>(&text).ok().map(f64::to_bits);
            proptest::prop_assert_eq!(ours, theirs, "{}", text);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]
        /// Digits taken eight at a time make what one at a time makes, whatever the bytes
        /// around them (those next to the digits in value, ':' and '/', and bytes that carry
        /// when 6 is added), wrapping alike past 19 digits.
        #[test]
        fn digits_read_eight_at_a_time_as_one_at_a_time(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    6 => proptest::sample::select(b"0123456789".to_vec()),
                    1 => proptest::sample::select(vec![b'/', b':', b'.', 0xfa, 0xff, 0x39 + 0x80]),
                    1 => proptest::num::u8::ANY,
                ],
                0..48,
            ),
            start in proptest::num::usize::ANY,
            magnitude in proptest::num::u64::ANY,
        ) {
            let start = start % (bytes.len() + 1);
            let (mut one, mut at) = (magnitude, start);
            while let Some(d) = bytes.get(at).filter(|d| d.is_ascii_digit()) {
                one = one.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                at += 1;
            }
            let mut i = start;
            let eight = fraction_digits_onto(&bytes, &mut i, magnitude);
            proptest::prop_assert_eq!(eight, (one, at - start));
            proptest::prop_assert_eq!(i, at);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// Arrays of numbers read alike by the short-integer loop and number by number:
        /// the same numbers, the same end, the same refusal, whole or cut short in a
        /// stream's read (where a number running to the end may go on).
        #[test]
        fn number_arrays_read_alike_either_way(
            numbers in proptest::collection::vec(
                proptest::prop_oneof![
                    8 => "(0|[1-9][0-9]{0,3})",
                    1 => "-?(0|[0-9]{1,20})(\\.[0-9]{1,3})?([eE]-?[0-9])?",
                    1 => proptest::strategy::Strategy::prop_map(
                        proptest::sample::select(vec!["", "x", "null", "1.", "00"]),
                        str::to_string,
                    ),
                ],
                0..70,
            ),
            separators in proptest::collection::vec(
                proptest::sample::select(vec![",", ",", ",", ", ", " ,", ""]), 70),
            close in proptest::sample::select(vec!["]", "]", " ]", "", "],"]),
            cut in proptest::num::usize::ANY,
        ) {
            let mut text = String::from("[");
            for (k, n) in numbers.iter().enumerate() {
                if k > 0 {
                    text.push_str(separators[k]);
                }
                text.push_str(n);
            }
            text.push_str(close);
            let read = |c: &mut Cursor<'_>, fast: bool| {
                let mut out = Vec::new();
                let done = if fast {
                    c.f64_array(|x| out.push(x.to_bits()))
                } else {
                    c.f64_array_in_full(|x| out.push(x.to_bits()))
                };
                done.map(|()| (out, c.position()))
            };
            let whole = |fast| read(&mut Cursor::new(&text), fast);
            proptest::prop_assert_eq!(whole(true), whole(false), "{}", text);
            let cut = cut % (text.len() + 1);
            let part = |fast| {
                let rest = Rest { bytes: &text.as_bytes()[..cut], text: text.get(..cut) };
                read(&mut Cursor::over_rest(rest), fast)
            };
            proptest::prop_assert_eq!(part(true), part(false), "{} cut at {}", text, cut);
        }
    }

    /// JSON-like text: values nested a few levels, then one byte changed, inserted or
    /// dropped at random (so that much of it is not JSON), never a backslash.
    fn json_like() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            Just("false".to_string()),
            "-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,3})?",
            "\"[a-z \u{e9}\u{1}]{0,6}\"",
        ];
        let value = leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(", "))),
                prop::collection::vec(("[a-z]{0,3}", inner), 0..4).prop_map(|m| {
                    let members: Vec<String> =
                        m.iter().map(|(k, v)| format!("\"{k}\" :{v}")).collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        });
        let edit = prop_oneof![
            3 => Just(None),
            1 => (any::<usize>(), prop::sample::select(b"{}[],:\"0-.e ntf".to_vec()), 0u8..3)
                .prop_map(Some),
        ];
        (value, edit).prop_map(|(text, edit)| {
            let mut bytes = text.into_bytes();
            if let Some((at, byte, how)) = edit {
                let at = at % (bytes.len() + 1);
                match how {
                    0 => bytes.insert(at, byte),
                    1 if at < bytes.len() => bytes[at] = byte,
                    _ if at < bytes.len() => drop(bytes.remove(at)),
                    _ => {}
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        /// Skipping accepts exactly what serde_json accepts when it ignores a value (for
        /// text without escapes, nested within the cursor's depth).
        #[test]
        fn skipping_accepts_what_serde_json_ignoring_accepts(text in json_like()) {
            let ours = read_whole(&text, Cursor::skip).is_some();
            let theirs = serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok();
            proptest::prop_assert_eq!(ours, theirs, "{}", text);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]
        /// Number tokens of text files read as core's parser reads them, bit for bit.
        #[test]
        fn a_token_reads_as_core_reads_it(
            text in "[+-]?[0-9]{0,17}(\\.[0-9]{0,17})?([eE][+-]?[0-9]{1,3})?"
        ) {
            let ours = parse_f64(&text).map(f64::to_bits);
            let core = text.parse::<f64>().ok().map(f64::to_bits);
            proptest::prop_assert_eq!(ours, core, "{}", text);
        }
    }

    #[test]
    fn integers_read_as_serde_json_reads_them() {
        for text in [
            "0",
            "-0",
            "42",
            "-42",
            "9223372036854775807",
            "-9223372036854775807",
            "9223372036854775808",
            "1.0",
            "1e2",
            "-1",
            "18446744073709551615",
        ] {
            let ours = read_whole(text, Cursor::i64);
            // Long integers leave the subset: serde_json may still read them.
            if let Some(x) = ours {
                assert_eq!(
                    Some(x),
                    serde_json::from_str::<i64>(text).ok(),
                    "{text} as i64"
                );
            }
            let ours = read_whole(text, Cursor::u64);
            if let Some(x) = ours {
                assert_eq!(
                    Some(x),
                    serde_json::from_str::<u64>(text).ok(),
                    "{text} as u64"
                );
            }
        }
        // Short ones stay in the subset.
        assert_eq!(Cursor::new("-42").i64(), Some(-42));
        assert_eq!(Cursor::new("-0").u64(), None);
        assert_eq!(Cursor::new("-0").i64(), None);
        assert_eq!(Cursor::new("-1").u64(), None);
        assert_eq!(Cursor::new("1.0").i64(), None);
    }

    #[test]
    fn what_the_cursor_reads_serde_json_reads_alike() {
        let texts = [
            r#"{"a": [1, 2.5, -3e2], "b": "x", "c": {"d": [true, false, null, []]}}"#,
            r#" { "a" : [ ] , "b" : "" } "#,
            r#"{"a": [1, 2,]}"#,
            r#"{"a": 1,}"#,
            r#"{"a" 1}"#,
            r#"{"a": "tab	here"}"#,
            r#"{"a": "esc\"aped"}"#,
            r#"{"a": tru}"#,
            r#"{"a": [1 2]}"#,
            r#"{"a": 1} x"#,
            r#"{"a": [[[[]]]], "b": {"c": {}}}"#,
            r#"{"a": "naïve ✓"}"#,
            "[1, 2, 3]",
            r#"{"a": 01}"#,
            r#"{"a": -}"#,
            r#"{"a": 1e400}"#,
            r#"{"a": [1e400]}"#,
            r#"{"a": {"b": 1e400}}"#,
            "",
            "{",
            r#"{"a": [1, 2"#,
        ];
        for text in texts {
            let ours = read_as_cursor(text);
            if let Some(v) = &ours {
                assert_eq!(Some(v.clone()), read_as_serde(text), "{text}");
            }
        }
        // The subset covers the plain cases.
        assert!(read_as_cursor(texts[0]).is_some());
        assert!(read_as_cursor(texts[1]).is_some());
        assert!(read_as_cursor(texts[11]).is_some());
        // And leaves what is not JSON, or needs unescaping, to serde_json.
        for i in [2, 3, 4, 5, 6, 7, 8, 9, 13, 14, 18, 19, 20] {
            assert!(read_as_cursor(texts[i]).is_none(), "{}", texts[i]);
        }
    }

    #[test]
    fn skipping_checks_syntax_as_serde_json_ignoring_does() {
        let texts = [
            "[1, {\"a\": [null, true]}, \"s\", -0.5e-3]",
            "[1, {\"a\": [nul, true]}]",
            "[1, {\"a\" [null]}]",
            "[1e999]",
            "[\"\u{1}\"]",
            "[1,]",
            "{\"a\": 1 \"b\": 2}",
            "[01]",
            "[-]",
            "[1.]",
        ];
        for text in texts {
            let ours = read_whole(text, Cursor::skip);
            let theirs = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
            assert_eq!(ours.is_some(), theirs, "{text}");
        }
        // Too deep leaves the subset, however valid.
        let nested = |n: usize| format!("{}0{}", "[{\"a\": ".repeat(n), "}]".repeat(n));
        let within = nested(MAX_DEPTH / 2);
        assert!(Cursor::new(&within).skip().is_some());
        assert!(serde_json::from_str::<serde::de::IgnoredAny>(&within).is_ok());
        assert!(Cursor::new(&nested(MAX_DEPTH / 2 + 1)).skip().is_none());
    }

    #[test]
    fn string_specials_are_found_where_a_byte_scan_finds_them() {
        let by_bytes = |b: &[u8]| b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        // Every special byte at every place, after every other kind of byte (a borrow from
        // one byte must not mark another), in texts longer and shorter than a word.
        let fillers = [
            b'a', 0x7f, 0x80, 0xff, 0x21, 0x1f, b'"', b'\\', 0x00, 0x20, 0x5c, 0xdc,
        ];
        for len in 0..20 {
            for at in 0..=len {
                for &filler in &fillers {
                    for &special in &[b'"', b'\\', 0x00, 0x1f, 0x0a, b'a'] {
                        let mut text = vec![b'x'; len];
                        for (i, c) in text.iter_mut().enumerate() {
                            if i < at {
                                *c = if filler == b'"' || filler == b'\\' || filler < 0x20 {
                                    b'y'
                                } else {
                                    filler
                                };
                            }
                        }
                        if at < len {
                            text[at] = special;
                            if at + 1 < len {
                                text[at + 1] = filler;
                            }
                        }
                        assert_eq!(first_string_special(&text), by_bytes(&text), "{text:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn set_once_refuses_a_second_value() {
        let mut slot = None;
        assert_eq!(set_once(&mut slot, Some(1)), Some(()));
        assert_eq!(set_once(&mut slot, Some(2)), None);
        assert_eq!(slot, Some(1));
        let mut empty: Option<i32> = None;
        assert_eq!(set_once(&mut empty, None), None);
    }
}
