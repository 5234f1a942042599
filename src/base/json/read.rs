//! Reading a document in place: members of an object, items of an array, and the values they
//! hold, as raw text. No tree, no recursion: containers are skipped by counting brackets.

use super::{hex4, scan_literal, scan_number, scan_string, skip_ws};
use crate::prelude::*;

/// The members of a JSON object, as (key's raw text without quotes, value's raw text). Reading
/// a response this way needs no tree and no recursion; a malformed object simply ends early.
pub struct Members<'a>(Walk<'a>);

/// The members of the object `b` (nothing if it is not one).
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
    field_at(obj, key.as_bytes())
}

/// [`field`] with the key as bytes.
#[cfg_attr(target_arch = "wasm32", inline(never))]
pub(crate) fn field_at<'a>(obj: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    members(obj).find(|(k, _)| same(k, key)).map(|(_, v)| v)
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

/// The elements of the array `b`.
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
        n = crate::base::num::push_digit(n, u64::from(c - b'0'))?;
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
    crate::base::text::string(out)
}
