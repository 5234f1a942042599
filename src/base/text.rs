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
    // Assembled as bytes (slicing a str checks char boundaries; bytes need no checks) and
    // checked as UTF-8 once at the end: every piece is UTF-8 and `{i}` is ASCII, so it is.
    let mut out = Vec::new();
    let b = template.as_bytes();
    let (mut start, mut i) = (0, 0);
    while let Some(&c) = b.get(i) {
        if c != b'{' {
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
    String::from_utf8(out).unwrap_or_default()
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
    }
}
