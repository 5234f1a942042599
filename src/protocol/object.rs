//! Writing an encoded event: one object, member by member, with the keys from one constant
//! string. Both protocols' encoders are a list of calls to [`ObjectWriter`].

use crate::base::json::{self, trim_ws};
#[cfg(feature = "amplitude")]
use crate::base::num::push_u64;
use crate::base::time::push_iso8601;
use crate::base::Millis;
use crate::prelude::*;

/// The next word of a constant list of words each ended by a space, taking it off the list. One
/// string and this walk cost less wasm than a table of slices, which is a pointer and a length
/// per entry.
#[cfg_attr(target_arch = "wasm32", inline(never))]
pub(super) fn next_word<'a>(list: &mut &'a [u8]) -> &'a [u8] {
    let end = list.iter().position(|&c| c == b' ');
    let (word, rest) = list.split_at(end.unwrap_or(list.len()));
    *list = rest.get(1..).unwrap_or_default();
    word
}

/// Writes an encoded event's object member by member, the keys coming in order from one
/// constant string (each ended by a space), so that an encoder is one call per member with its
/// value in arguments. (A table of member values built on the stack and written by a loop cost
/// a store per value field at each call site in the wasm.) Every member's key is consumed,
/// present or not; absent members are left out.
pub(super) struct ObjectWriter<'w> {
    out: &'w mut Vec<u8>,
    keys: &'static [u8],
    sep: u8,
    /// Members passed so far, and the offset of the second one's text (see [`Self::finish`]).
    n: u8,
    at: usize,
}

impl<'w> ObjectWriter<'w> {
    pub fn new(out: &'w mut Vec<u8>, keys: &'static [u8]) -> Self {
        ObjectWriter {
            out,
            keys,
            sep: b'{',
            n: 0,
            at: 0,
        }
    }

    /// Consumes the next key and, when the member is `present`, writes it; returns `present`.
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    fn key(&mut self, present: bool) -> bool {
        let key = next_word(&mut self.keys);
        self.n += 1;
        if present {
            let out = &mut *self.out;
            out.push(self.sep);
            self.sep = b',';
            out.push(b'"');
            out.extend_from_slice(key);
            out.extend_from_slice(b"\":");
            if self.n == 2 {
                self.at = out.len() + 1;
            }
        }
        present
    }

    /// A string member, escaped, with a plain `prefix` inside the quotes (`"Viewed <name>"`).
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    pub fn text(&mut self, prefix: &str, v: Option<&str>) {
        if self.key(v.is_some()) {
            json::write_str_with(self.out, prefix, v.unwrap_or_default());
        }
    }

    /// A string member inside `wrap` + … + `}` (`{"group":…}`).
    #[cfg(feature = "amplitude")]
    pub fn text_in(&mut self, wrap: &[u8], v: Option<&str>) {
        if self.key(v.is_some()) {
            self.out.extend_from_slice(wrap);
            json::write_str(self.out, v.unwrap_or_default());
            self.out.push(b'}');
        }
    }

    /// Caller JSON that passed the scanner, spliced without its surrounding blanks; inside
    /// `wrap` + … + `}` when `wrap` is not empty (`{"$set":…}`).
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    pub fn raw(&mut self, wrap: &[u8], v: Option<&str>) {
        if self.key(v.is_some()) {
            self.out.extend_from_slice(wrap);
            self.out
                .extend_from_slice(trim_ws(v.unwrap_or_default().as_bytes()));
            if !wrap.is_empty() {
                self.out.push(b'}');
            }
        }
    }

    /// Bytes already in JSON form as is (a number token), or inside quotes when `quote` (a
    /// string token's escaped text), followed inside them by `/` and `tail` when given.
    #[cfg(feature = "amplitude")]
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    pub fn bytes(&mut self, quote: bool, v: Option<&[u8]>, tail: Option<&[u8]>) {
        if self.key(v.is_some()) {
            let out = &mut *self.out;
            if quote {
                out.push(b'"');
            }
            out.extend_from_slice(v.unwrap_or_default());
            if let Some(tail) = tail {
                out.push(b'/');
                out.extend_from_slice(tail);
            }
            if quote {
                out.push(b'"');
            }
        }
    }

    /// JSON text as is.
    #[cfg(feature = "amplitude")]
    pub fn lit(&mut self, v: &[u8]) {
        self.key(true);
        self.out.extend_from_slice(v);
    }

    /// Epoch milliseconds as a quoted ISO 8601 string.
    pub fn iso(&mut self, ms: Millis) {
        self.key(true);
        self.out.push(b'"');
        push_iso8601(self.out, ms);
        self.out.push(b'"');
    }

    /// A number.
    #[cfg(feature = "amplitude")]
    pub fn num(&mut self, n: u64) {
        self.key(true);
        push_u64(self.out, n);
    }

    /// Closes the object; returns the offset in `out` of the text of the second member, the
    /// messageId in every shape (JSON-plain, so its text is its bytes).
    pub fn finish(self) -> usize {
        self.out.push(b'}');
        self.at
    }
}
