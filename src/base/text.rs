//! Messages without `core::fmt`: every message type's `message()` fills a template with [`say`].

use crate::prelude::*;

/// `template` with each `{i}` (one digit) replaced: `{0}` to `{3}` by the texts `s0` to `s3`,
/// `{4}` and `{5}` by the numbers `n4` and `n5` in decimal. Messages are assembled by pushing
/// bytes, so `core::fmt` (its formatter, padding and integer machinery) stays out of the wasm,
/// and a message's fixed text is one string of data instead of code per fragment. The arguments
/// are scalars rather than a slice of text-or-number pieces, which every call site built in
/// memory (wasm size). Each message type's `Display` writes its `message()`.
pub fn say(template: &str, s0: &str, s1: &str, s2: &str, s3: &str, n4: u64, n5: u64) -> String {
    let texts = [s0, s1, s2, s3];
    // Assembled as bytes (slicing a str checks char boundaries; bytes need no checks). A hole
    // is `{`, one byte and `}`: the byte before a `}` cannot start a longer character, so every
    // cut is at a character boundary, and the text is UTF-8 without checking it again.
    let mut out = Vec::new();
    let b = template.as_bytes();
    let (mut start, mut i) = (0, 0);
    while let Some(&c) = b.get(i) {
        if c != b'{' || b.get(i + 2) != Some(&b'}') {
            i += 1;
            continue;
        }
        out.extend_from_slice(b.get(start..i).unwrap_or_default());
        let d = b
            .get(i + 1)
            .map_or(0, |d| usize::from(d.wrapping_sub(b'0')));
        match d {
            0..=3 => out.extend_from_slice(texts.get(d).copied().unwrap_or_default().as_bytes()),
            4 => super::num::push_u64(&mut out, n4),
            5 => super::num::push_u64(&mut out, n5),
            _ => {}
        }
        i += 3;
        start = i;
    }
    out.extend_from_slice(b.get(start..).unwrap_or_default());
    // SAFETY: the pieces are whole characters of UTF-8 texts, and numbers are ASCII digits.
    unsafe { String::from_utf8_unchecked(out) }
}

/// Whether `b` is UTF-8 (RFC 3629: no overlong forms, surrogates or code points past U+10FFFF),
/// as `core::str::from_utf8` decides, in a fraction of its wasm: core's checks a word of ASCII
/// at a time and reads a 256-byte table (about 0.9 KB of wasm together, for texts that are
/// short here).
pub fn is_utf8(b: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        i += 1;
        // The continuation bytes a lead byte announces, and the least code point that needs them.
        let (n, least) = match c {
            0..=0x7F => continue,
            0xC0..=0xDF => (1, 0x80),
            0xE0..=0xEF => (2, 0x800),
            0xF0..=0xF7 => (3, 0x10000),
            _ => return false,
        };
        let mut cp = u32::from(c & (0x3F >> n));
        for _ in 0..n {
            match b.get(i) {
                Some(&t) if t & 0xC0 == 0x80 => cp = cp << 6 | u32::from(t & 0x3F),
                _ => return false,
            }
            i += 1;
        }
        if cp < least || cp > 0x10FFFF || (0xD800..0xE000).contains(&cp) {
            return false;
        }
    }
    true
}

/// `b` as a `String`, if it is UTF-8 (`String::from_utf8` with [`is_utf8`]'s smaller check).
pub fn string(b: Vec<u8>) -> Option<String> {
    // SAFETY: checked just before.
    is_utf8(&b).then(|| unsafe { String::from_utf8_unchecked(b) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_texts_and_numbers() {
        assert_eq!(
            say("{0}/{1}/{2}/{3} {4}-{5}.", "a", "b", "c", "d", 42, 0),
            "a/b/c/d 42-0."
        );
        assert_eq!(say("no holes", "x", "", "", "", 1, 2), "no holes");
        assert_eq!(say("{9}end", "x", "", "", "", 1, 2), "end");
        // Only `{`, one byte and `}` is a hole; anything else is copied as it is.
        assert_eq!(say("{é}{0", "x", "", "", "", 1, 2), "{é}{0");
        assert_eq!(say("é{1}é{", "x", "y", "", "", 1, 2), "éyé{");
    }

    /// Every sequence of up to three bytes, and every four-byte one whose lead byte is not
    /// ASCII (a valid prefix of ASCII bytes is covered by the shorter ones), decided as core
    /// decides.
    #[test]
    fn utf8_check_agrees_with_core() {
        let agree = |b: &[u8]| {
            assert_eq!(is_utf8(b), core::str::from_utf8(b).is_ok(), "{b:02x?}");
        };
        agree(b"");
        for x in 0..1u32 << 24 {
            let [a, b, c, _] = x.to_le_bytes();
            agree(&[a]);
            agree(&[a, b]);
            agree(&[a, b, c]);
            if (0xF0..=0xF8).contains(&a) {
                for d in [0x00, 0x7F, 0x80, 0xBF, 0xC0, 0xFF] {
                    agree(&[a, b, c, d]);
                }
            }
        }
        agree("aé€😀".as_bytes());
        assert_eq!(string(b"ok".to_vec()).as_deref(), Some("ok"));
        assert_eq!(string(vec![0xED, 0xA0, 0x80]), None);
        assert_eq!(string(b"\xF4\x90\x80\x80".to_vec()), None);
        assert_eq!(string("\u{10FFFF}".into()).as_deref(), Some("\u{10FFFF}"));
    }
}
