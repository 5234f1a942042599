//! Writing JSON text: escaped strings, and the measures of text the encoders and validation need.

use super::lead_bytes;
use crate::prelude::*;

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
