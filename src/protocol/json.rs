//! The JSON the engine needs, written here because the crate has no dependencies (wasm size).
//!
//! Three tools, each for one job:
//! - [`scan_object`] validates caller-supplied JSON text (already `JSON.stringify`'d by the
//!   bindings) without building anything, and measures what the soft caps need. It is iterative,
//!   so hostile nesting cannot overflow the stack; nesting beyond [`HARD_DEPTH`] is refused.
//! - [`members`], [`field`], [`items`], [`uint`], [`string`] read a response body in place, as
//!   iterators over raw text: no tree, no recursion (containers are skipped by counting
//!   brackets), little code.
//! - [`write_str`] escapes a string into JSON.
//!
//! Numbers are kept as text and only read back as non-negative integers: responses carry counts,
//! indexes and byte limits, and a float parser would cost wasm size for nothing.

use crate::prelude::*;

/// Nesting beyond this is refused outright: an object this deep is a bug in the caller, and the
/// bound keeps the scanner's container stack a fixed 128 bytes.
pub const HARD_DEPTH: usize = 128;

/// Why a text is not the JSON object we need, with the byte offset where the scan stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanError {
    pub at: usize,
    pub what: &'static str,
}

impl ScanError {
    /// The message, built without `core::fmt` (see `report::say`).
    pub fn message(&self) -> String {
        let at = self.at as u64;
        crate::core::report::say("{0} at byte {4}", self.what, "", "", "", at, 0)
    }
}

/// What the soft caps are judged on.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ObjectStats {
    /// Keys of the top-level object.
    pub keys: usize,
    /// Deepest nesting; the top-level object itself is depth 1.
    pub depth: usize,
    /// Raw bytes of the largest top-level value.
    pub max_value_bytes: usize,
    /// Characters of the longest string value anywhere (keys excluded).
    pub max_string_chars: usize,
}

fn err(at: usize, what: &'static str) -> ScanError {
    ScanError { at, what }
}

#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i) {
        if c > b' ' {
            break;
        }
        if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
            i += 1;
        } else {
            break;
        }
    }
    i
}

#[cfg(not(target_arch = "wasm32"))]
const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// High bit set in the bytes of `w` below 0x20, `"` or `\\` (the classic SWAR zero-byte
/// tests; 0 when there are none).
#[cfg(not(target_arch = "wasm32"))]
fn attention(w: u64) -> u64 {
    let has_zero = |v: u64| v.wrapping_sub(LOW_BITS) & !v & HIGH_BITS;
    let below_space = w.wrapping_sub(LOW_BITS * 0x20) & !w & HIGH_BITS;
    below_space
        | has_zero(w ^ (LOW_BITS * u64::from(b'"')))
        | has_zero(w ^ (LOW_BITS * u64::from(b'\\')))
}

/// Scans a string whose opening quote is at `i`; returns (index after the closing quote, chars).
// Inlined natively for speed; in wasm, where size is the budget, one shared copy.
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
pub(crate) fn scan_string(b: &[u8], mut i: usize) -> Result<(usize, usize), ScanError> {
    let start = i;
    i += 1;
    // Counted as if every byte and every escape were one character; continuation bytes of
    // UTF-8 (10xxxxxx) are subtracted at the end, only for strings that have any.
    let mut chars = 0usize;
    let mut high = 0u64;
    loop {
        // Fast path, eight bytes at a time up to the first quote, backslash or control byte.
        // Native only: in wasm its word tests cost about 240 bytes of gzip, and the strings there
        // (the property values of one event at a time) are short.
        #[cfg(not(target_arch = "wasm32"))]
        while let Some(chunk) = b.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let w = u64::from_le_bytes(word);
            // Little-endian: the lowest flagged byte is the first in memory, and the zero-byte
            // tests never flag a false byte below a true one.
            let plain = (attention(w).trailing_zeros() / 8) as usize;
            high |= w & HIGH_BITS;
            chars += plain;
            i += plain;
            if plain < 8 {
                break;
            }
        }
        while let Some(&c) = b.get(i) {
            if c == b'"' || c == b'\\' || c < 0x20 {
                break;
            }
            high |= u64::from(c);
            chars += 1;
            i += 1;
        }
        match b.get(i) {
            None => return Err(err(start, "unterminated string")),
            Some(b'"') => {
                if high & HIGH_BITS != 0 {
                    let raw = b.get(start + 1..i).unwrap_or(&[]);
                    chars -= raw.len() - lead_bytes(raw);
                }
                return Ok((i + 1, chars));
            }
            Some(b'\\') => {
                match b.get(i + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                    Some(b'u') => {
                        if hex4(b, i + 2).is_none() {
                            return Err(err(i, "bad \\u escape"));
                        }
                        i += 6;
                    }
                    _ => return Err(err(i, "bad escape")),
                }
                chars += 1;
            }
            Some(_) => return Err(err(i, "control character in string")),
        }
    }
}

fn scan_digits(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

#[inline]
fn scan_number(b: &[u8], mut i: usize) -> Result<usize, ScanError> {
    let start = i;
    if matches!(b.get(i), Some(b'-')) {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = scan_digits(b, i),
        _ => return Err(err(start, "bad number")),
    }
    if matches!(b.get(i), Some(b'.')) {
        let j = scan_digits(b, i + 1);
        if j == i + 1 {
            return Err(err(i, "bad number"));
        }
        i = j;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let j = scan_digits(b, i);
        if j == i {
            return Err(err(i, "bad number"));
        }
        i = j;
    }
    Ok(i)
}

fn scan_literal(b: &[u8], i: usize) -> Result<usize, ScanError> {
    // The literals start with different letters: the first one picks the only candidate.
    let lit: &[u8] = match b.get(i) {
        Some(b't') => b"true",
        Some(b'f') => b"false",
        _ => b"null",
    };
    if b.get(i..i + lit.len()).is_some_and(|t| same(t, lit)) {
        return Ok(i + lit.len());
    }
    Err(err(i, "unexpected character"))
}

/// Validates that `b` is exactly one JSON object (surrounding whitespace allowed) and measures it.
pub fn scan_object(b: &[u8]) -> Result<ObjectStats, ScanError> {
    // One exit for every error: each `return Err(..)` wrote the error's three words on its own
    // (wasm size).
    let e = 'fail: {
        let mut stats = ObjectStats::default();
        let mut i = skip_ws(b, 0);
        if !matches!(b.get(i), Some(b'{')) {
            break 'fail err(i, "not an object");
        }
        // Flag d of `objects` says whether the container at depth d is an object (else an array).
        let mut objects = Flags([false; HARD_DEPTH]);
        objects.set(0, true);
        let mut depth = 1usize;
        stats.depth = 1;
        i += 1;
        let mut value_start = 0usize;
        // Each pass reads one value (after a key, or in an array) or closes containers.
        let mut expect_key = true;
        let mut first = true;
        loop {
            i = skip_ws(b, i);
            if expect_key {
                match b.get(i) {
                    Some(b'}') if first => {
                        i += 1;
                        depth -= 1;
                    }
                    Some(b'"') => {
                        i = match scan_string(b, i) {
                            Ok((j, _)) => j,
                            Err(e) => break 'fail e,
                        };
                        i = skip_ws(b, i);
                        if !matches!(b.get(i), Some(b':')) {
                            break 'fail err(i, "expected ':'");
                        }
                        i = skip_ws(b, i + 1);
                        if depth == 1 {
                            stats.keys += 1;
                            value_start = i;
                        }
                        expect_key = false;
                        first = false;
                        continue;
                    }
                    _ => break 'fail err(i, "expected a key"),
                }
            } else {
                let in_array = !objects.get(depth - 1);
                if in_array && first && matches!(b.get(i), Some(b']')) {
                    i += 1;
                    depth -= 1;
                } else {
                    match b.get(i) {
                        Some(b'{' | b'[') => {
                            if depth >= HARD_DEPTH {
                                break 'fail err(i, "nested too deeply");
                            }
                            let is_obj = matches!(b.get(i), Some(b'{'));
                            objects.set(depth, is_obj);
                            depth += 1;
                            stats.depth = stats.depth.max(depth);
                            i += 1;
                            expect_key = is_obj;
                            first = true;
                            continue;
                        }
                        Some(b'"') => {
                            let (j, chars) = match scan_string(b, i) {
                                Ok(r) => r,
                                Err(e) => break 'fail e,
                            };
                            stats.max_string_chars = stats.max_string_chars.max(chars);
                            i = j;
                        }
                        Some(b'-' | b'0'..=b'9') => match scan_number(b, i) {
                            Ok(j) => i = j,
                            Err(e) => break 'fail e,
                        },
                        _ => match scan_literal(b, i) {
                            Ok(j) => i = j,
                            Err(e) => break 'fail e,
                        },
                    }
                }
            }
            // A value (or a container) just ended at depth `depth`; close what ends here.
            loop {
                if depth == 0 {
                    if skip_ws(b, i) != b.len() {
                        break 'fail err(i, "trailing characters");
                    }
                    return Ok(stats);
                }
                if depth == 1 {
                    stats.max_value_bytes =
                        stats.max_value_bytes.max(i.saturating_sub(value_start));
                }
                i = skip_ws(b, i);
                let in_object = objects.get(depth - 1);
                match (b.get(i), in_object) {
                    (Some(b','), obj) => {
                        i += 1;
                        expect_key = obj;
                        first = false;
                        break;
                    }
                    (Some(b'}'), true) | (Some(b']'), false) => {
                        i += 1;
                        depth -= 1;
                    }
                    _ => break 'fail err(i, "expected ',' or a closing bracket"),
                }
            }
        }
    };
    Err(e)
}

/// One flag per nesting level, a byte each: plain loads and stores (packed bits cost shifts and
/// masks, and `u128` shifts are compiler-rt calls in wasm).
struct Flags([bool; HARD_DEPTH]);

impl Flags {
    fn get(&self, i: usize) -> bool {
        self.0.get(i).copied().unwrap_or(false)
    }
    fn set(&mut self, i: usize, on: bool) {
        if let Some(f) = self.0.get_mut(i) {
            *f = on;
        }
    }
}

/// The members of a JSON object, as (key's raw text without quotes, value's raw text). Reading
/// a response this way needs no tree and no recursion; a malformed object simply ends early.
pub struct Members<'a>(Walk<'a>);

pub fn members(b: &[u8]) -> Members<'_> {
    Members(Walk::new(b, b'{'))
}

impl<'a> Iterator for Members<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next()
    }
}

/// `a == b`, out of line with the slices as scalar arguments: comparing `&[u8]`s with `==` went
/// through a library call taking both by reference through memory (wasm size).
#[cfg_attr(target_arch = "wasm32", inline(never))]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a == b
}

/// The raw value of `key` in an object.
pub fn field<'a>(obj: &'a [u8], key: &str) -> Option<&'a [u8]> {
    members(obj)
        .find(|(k, _)| same(k, key.as_bytes()))
        .map(|(_, v)| v)
}

/// The raw value of `key` in an object, or `{}` when it has none: neither [`members`] nor
/// [`items`] yields anything from that.
#[cfg_attr(target_arch = "wasm32", inline(never))]
pub(crate) fn field_or_empty<'a>(obj: &'a [u8], key: &str) -> &'a [u8] {
    field(obj, key).unwrap_or(b"{}")
}

/// The text of the string member `key` of an object.
#[cfg_attr(target_arch = "wasm32", inline(never))]
pub(crate) fn string_field(obj: &[u8], key: &str) -> Option<String> {
    field(obj, key).and_then(string)
}

/// The value of the non-negative integer member `key` of an object.
#[cfg_attr(target_arch = "wasm32", inline(never))]
pub(crate) fn uint_field(obj: &[u8], key: &str) -> Option<u64> {
    field(obj, key).and_then(uint)
}

/// The elements of a JSON array, as raw text; nothing if `b` is not an array.
pub struct Items<'a>(Walk<'a>);

pub fn items(b: &[u8]) -> Items<'_> {
    Items(Walk::new(b, b'['))
}

impl<'a> Iterator for Items<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        self.0.next().map(|(_, v)| v)
    }
}

/// One walker for both containers (one copy of the code in the wasm): objects yield
/// (key, value), arrays (empty key, value).
struct Walk<'a> {
    b: &'a [u8],
    i: usize,
    open: bool,
    object: bool,
}

impl<'a> Walk<'a> {
    fn new(b: &'a [u8], bracket: u8) -> Self {
        let i = skip_ws(b, 0);
        let open = matches!(b.get(i), Some(&c) if c == bracket);
        Walk {
            b,
            i: i + 1,
            open,
            object: bracket == b'{',
        }
    }

    fn next(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        let item = self.step();
        self.open &= item.is_some();
        item
    }

    fn step(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        if !self.open {
            return None;
        }
        let b = self.b;
        let mut i = skip_ws(b, self.i);
        let mut key: &[u8] = &[];
        if self.object {
            if !matches!(b.get(i), Some(b'"')) {
                return None;
            }
            let (kend, _) = scan_string(b, i).ok()?;
            key = b.get(i + 1..kend - 1)?;
            i = skip_ws(b, kend);
            if !matches!(b.get(i), Some(b':')) {
                return None;
            }
            i = skip_ws(b, i + 1);
        }
        // An empty array ends here too: `]` does not start a value.
        let vend = skip_value(b, i)?;
        let value = b.get(i..vend)?;
        i = skip_ws(b, vend);
        match (b.get(i), self.object) {
            (Some(b','), _) => self.i = i + 1,
            // A closing brace ends an object after this member; an array ends after any element
            // not followed by a comma.
            (Some(b'}'), true) | (_, false) => self.open = false,
            _ => return None,
        }
        Some((key, value))
    }
}

/// A non-negative integer literal (counts, indexes, byte limits); anything else is `None`.
pub fn uint(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in v {
        if !c.is_ascii_digit() {
            return None;
        }
        n = crate::core::backoff::push_digit(n, u64::from(c - b'0'))?;
    }
    Some(n)
}

/// The text of a string literal (quotes included in `v`).
pub fn string(v: &[u8]) -> Option<String> {
    let (end, _) = scan_string(v, 0).ok()?;
    if end != v.len() {
        return None;
    }
    unescape(v.get(1..end - 1)?)
}

/// End of the value starting at `i`, scanning containers iteratively by bracket counting (strings
/// are skipped properly, so brackets inside them do not count).
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => scan_string(b, i).ok().map(|r| r.0),
        b'-' | b'0'..=b'9' => scan_number(b, i).ok(),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = scan_string(b, j).ok()?.0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => scan_literal(b, i).ok(),
    }
}

/// Writes `s` as a JSON string, quotes included.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    write_str_with(out, "", s);
}

/// Writes `prefix` (plain text, not escaped) then `s` as one JSON string, quotes included.
#[cfg_attr(target_arch = "wasm32", inline(never))]
pub fn write_str_with(out: &mut Vec<u8>, prefix: &str, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    out.extend_from_slice(prefix.as_bytes());
    let b = s.as_bytes();
    let (mut run, mut i) = (0, 0);
    while let Some(&c) = b.get(i) {
        i += 1;
        // The letter of a two-character escape; 0 for a control byte without one (`\u00XX`).
        let letter = match c {
            b'"' | b'\\' => c,
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0..=0x1f => 0,
            _ => continue,
        };
        out.extend_from_slice(b.get(run..i - 1).unwrap_or_default());
        out.push(b'\\');
        if letter == 0 {
            out.extend_from_slice(b"u00");
            out.push(HEX[usize::from(c >> 4)]);
            out.push(HEX[usize::from(c & 15)]);
        } else {
            out.push(letter);
        }
        run = i;
    }
    out.extend_from_slice(b.get(run..).unwrap_or_default());
    out.push(b'"');
}

// The two below are index loops: at opt-level z the iterator versions kept their iterator in
// memory, a stack frame and a load and store per byte (wasm size).

/// Characters of UTF-8 text (bytes that do not continue a character), without `str::chars`.
pub fn char_count(s: &str) -> usize {
    lead_bytes(s.as_bytes())
}

/// Bytes of `b` that start a UTF-8 character (are not 10xxxxxx).
fn lead_bytes(b: &[u8]) -> usize {
    let (mut i, mut n) = (0, 0);
    while let Some(&c) = b.get(i) {
        n += usize::from(c & 0xC0 != 0x80);
        i += 1;
    }
    n
}

/// True when `s` needs no escaping, so its raw bytes are its JSON form (messageIds must be).
pub fn is_plain(s: &str) -> bool {
    let (b, mut i) = (s.as_bytes(), 0);
    while let Some(&c) = b.get(i) {
        if c < 0x20 || c == b'"' || c == b'\\' {
            return false;
        }
        i += 1;
    }
    true
}

/// The value of the four hex digits at `i` (a `\u` escape), if they are there.
fn hex4(b: &[u8], i: usize) -> Option<u32> {
    let mut n = 0;
    for &c in b.get(i..i + 4)? {
        n = n * 16 + char::from(c).to_digit(16)?;
    }
    Some(n)
}

/// Decodes the inside of a string literal (between its quotes); lone surrogates become U+FFFD.
pub fn unescape(raw: &[u8]) -> Option<String> {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut j = 0;
    while let Some(&c) = raw.get(j) {
        if c != b'\\' {
            out.push(c);
            j += 1;
            continue;
        }
        let simple = match *raw.get(j + 1)? {
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => 0,
            other => other,
        };
        if simple != 0 {
            out.push(simple);
            j += 2;
            continue;
        }
        let mut cp = hex4(raw, j + 2)?;
        j += 6;
        if (0xD800..0xDC00).contains(&cp) && matches!(raw.get(j..j + 2), Some(b"\\u")) {
            if let Some(lo @ 0xDC00..=0xDFFF) = hex4(raw, j + 2) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                j += 6;
            }
        }
        if (0xD800..0xE000).contains(&cp) {
            cp = 0xFFFD;
        }
        // UTF-8 by hand: `char::encode_utf8` carries a formatted panic into the wasm.
        let (lead, mut tail): (u8, u32) = match cp {
            0..=0x7F => (0, 0),
            0x80..=0x7FF => (0xC0, 1),
            0x800..=0xFFFF => (0xE0, 2),
            _ => (0xF0, 3),
        };
        out.push(lead | (cp >> (6 * tail)) as u8);
        while tail > 0 {
            tail -= 1;
            out.push(0x80 | (cp >> (6 * tail)) as u8 & 0x3F);
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_valid_objects_and_measures_them() {
        let s = scan_object(br#" {"a": 1, "b": [true, {"c": "h\u00e9llo"}], "d": null} "#).unwrap();
        assert_eq!(s.keys, 3);
        assert_eq!(s.depth, 3);
        assert_eq!(s.max_string_chars, 5);
        assert_eq!(s.max_value_bytes, r#"[true, {"c": "h\u00e9llo"}]"#.len());
        assert_eq!(scan_object(b"{}").unwrap().keys, 0);
        assert_eq!(
            scan_object("{\"k\":\"日本\"}".as_bytes())
                .unwrap()
                .max_string_chars,
            2
        );
        assert!(scan_object(br#"{"a":[],"b":{},"c":-0.5e+3}"#).is_ok());
    }

    #[test]
    fn rejects_what_is_not_one_object() {
        for bad in [
            &b"[]"[..],
            b"\"s\"",
            b"",
            b"{",
            b"{\"a\"}",
            b"{\"a\":}",
            b"{\"a\":1,}",
            b"{\"a\":1}{",
            b"{\"a\":01}",
            b"{\"a\":1.}",
            b"{\"a\":tru}",
            b"{\"a\":\"\x01\"}",
            b"{\"a\":\"\\x\"}",
            b"{\"a\":[1,]}",
            b"{\"a\":[1}",
            b"{\"a\":{]}",
            b"{'a':1}",
        ] {
            assert!(
                scan_object(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn refuses_hostile_nesting_without_recursing() {
        let mut s = String::from("{\"a\":");
        s.push_str(&"[".repeat(100_000));
        assert_eq!(
            scan_object(s.as_bytes()).unwrap_err().what,
            "nested too deeply"
        );
        let ok = format!("{{\"a\":{}{}}}", "[".repeat(126), "]".repeat(126));
        assert_eq!(scan_object(ok.as_bytes()).unwrap().depth, 127);
        assert_eq!(
            members(s.as_bytes()).count(),
            0,
            "an unterminated value ends the members"
        );
    }

    #[test]
    fn escapes_round_trip() {
        let original = "a\"b\\c\nd\u{1}e\u{1F600}é/";
        let mut out = Vec::new();
        write_str(&mut out, original);
        assert_eq!(string(&out).as_deref(), Some(original));
        assert_eq!(
            string(br#""\ud83d\ude00 \ud800x""#).as_deref(),
            Some("\u{1F600} \u{FFFD}x")
        );
        assert_eq!(string(br#""a" "#), None);
    }

    #[test]
    fn reads_response_shapes_in_place() {
        let v: &[u8] =
            br#"{"success":false,"failed":1,"errors":[{"index":3,"error":"x"}],"n":-1,"f":1.5}"#;
        assert_eq!(field(v, "failed").and_then(uint), Some(1));
        let first = items(field(v, "errors").unwrap()).next().unwrap();
        assert_eq!(field(first, "index").and_then(uint), Some(3));
        assert_eq!(field(first, "error").and_then(string).as_deref(), Some("x"));
        assert_eq!(field(v, "n").and_then(uint), None);
        assert_eq!(field(v, "f").and_then(uint), None);
        assert_eq!(field(v, "missing"), None);
        assert_eq!(uint(b"99999999999999999999999"), None);
        assert_eq!(items(b"[]").count(), 0);
        assert_eq!(items(b"{}").count(), 0);
        assert_eq!(
            items(b" [1, \"],\" ,[2]] ").collect::<Vec<_>>(),
            vec![&b"1"[..], b"\"],\"", b"[2]"]
        );
    }

    #[test]
    fn splits_top_level_members() {
        let m: Vec<_> = members(br#"{"a":{"b":"}"},"c":[1,"]"],"d":"x"}"#).collect();
        let keys: Vec<&[u8]> = m.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, vec![&b"a"[..], b"c", b"d"]);
        assert_eq!(m[0].1, br#"{"b":"}"}"#);
        assert_eq!(m[1].1, br#"[1,"]"]"#);
        assert_eq!(members(b"{}").count(), 0);
        assert_eq!(members(b"[1]").count(), 0);
    }
}
