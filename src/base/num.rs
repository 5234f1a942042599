//! Decimal numbers by hand: written into a byte buffer and read digit by digit, so `core::fmt`'s
//! integer machinery stays out of the wasm.

use crate::prelude::*;

/// Appends `n` in decimal, zero-padded to `width` digits.
pub(crate) fn push_digits(out: &mut Vec<u8>, n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    out.extend_from_slice(digits(&mut buf, n, width));
}

/// The decimal digits of `n`, zero-padded to `width`, in `buf`.
fn digits(buf: &mut [u8; 20], mut n: u64, width: usize) -> &[u8] {
    // `get` rather than indexing: no bounds-check panic (and its formatting) in the wasm.
    let mut i = buf.len();
    while let Some(slot) = i.checked_sub(1).and_then(|j| buf.get_mut(j)) {
        if n == 0 && 20 - i >= width {
            break;
        }
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
        i -= 1;
    }
    buf.get(i..).unwrap_or_default()
}

/// Appends the decimal form of `n`.
pub fn push_u64(out: &mut Vec<u8>, n: u64) {
    push_digits(out, n, 1);
}

/// `n * 10 + digit`, or `None` past `u64::MAX`; compared rather than overflow-checked, because a
/// checked 64-bit multiply is a `__multi3` call in wasm.
pub(crate) fn push_digit(n: u64, digit: u64) -> Option<u64> {
    (n <= (u64::MAX - digit) / 10).then(|| n * 10 + digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_numbers() {
        let mut v = Vec::new();
        push_u64(&mut v, 0);
        v.push(b' ');
        push_u64(&mut v, u64::MAX);
        assert_eq!(v, b"0 18446744073709551615");
        push_digits(&mut v, 7, 3);
        assert_eq!(v.get(22..), Some(&b"007"[..]));
    }

    #[test]
    fn push_digit_refuses_to_overflow() {
        assert_eq!(push_digit(12, 3), Some(123));
        assert_eq!(push_digit(u64::MAX / 10, 5), Some(u64::MAX));
        assert_eq!(push_digit(u64::MAX / 10, 6), None);
    }
}
