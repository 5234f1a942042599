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
//!
//! The scanner (here) is what every other reader stands on; `read.rs` walks a document in place
//! and `write.rs` produces JSON text.

use crate::prelude::*;

mod read;
mod write;
pub use read::*;
pub use write::*;

/// Nesting beyond this is refused outright: an object this deep is a bug in the caller, and the
/// bound keeps the scanner's container stack a fixed 128 bytes.
pub const HARD_DEPTH: usize = 128;

/// Why a text is not the JSON object we need, with the byte offset where the scan stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanError {
    /// Byte offset where the scan stopped.
    pub at: usize,
    /// What was wrong there.
    pub what: &'static str,
}

impl ScanError {
    /// The message, built without `core::fmt` (see [`say`](crate::base::text::say)).
    pub fn message(&self) -> String {
        let at = self.at as u64;
        crate::base::text::say("{0} at byte {4}", self.what, "", "", "", at, 0)
    }
}

/// Writes `message()`, so formatting one never goes through `core::fmt`'s machinery.
impl core::fmt::Display for ScanError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
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
pub(super) fn skip_ws(b: &[u8], mut i: usize) -> usize {
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
pub(super) fn scan_number(b: &[u8], mut i: usize) -> Result<usize, ScanError> {
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

pub(super) fn scan_literal(b: &[u8], i: usize) -> Result<usize, ScanError> {
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

/// Bytes of `b` that start a UTF-8 character (are not 10xxxxxx).
pub(super) fn lead_bytes(b: &[u8]) -> usize {
    let (mut i, mut n) = (0, 0);
    while let Some(&c) = b.get(i) {
        n += usize::from(c & 0xC0 != 0x80);
        i += 1;
    }
    n
}

/// The value of the four hex digits at `i` (a `\u` escape), if they are there.
pub(super) fn hex4(b: &[u8], i: usize) -> Option<u32> {
    let mut n = 0;
    for &c in b.get(i..i + 4)? {
        n = n * 16 + char::from(c).to_digit(16)?;
    }
    Some(n)
}

/// Trims JSON whitespace (raw objects are spliced without their surrounding blanks).
pub fn trim_ws(mut b: &[u8]) -> &[u8] {
    let blank = |c: &u8| matches!(c, b' ' | b'\n' | b'\r' | b'\t');
    while let [first, rest @ ..] = b {
        if !blank(first) {
            break;
        }
        b = rest;
    }
    while let [rest @ .., last] = b {
        if !blank(last) {
            break;
        }
        b = rest;
    }
    b
}

#[cfg(test)]
mod tests;
