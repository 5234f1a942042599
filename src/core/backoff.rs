//! Randomness and waiting: the seeded PRNG (messageIds, jitter), exponential backoff with full
//! jitter, and `Retry-After` in both of its forms.
//!
//! The PRNG is splitmix64: one `u64` of state, good statistical quality for ids and jitter, and a
//! few instructions. It is *not* cryptographic; uniqueness of messageIds across tabs and processes
//! rests on the driver seeding each pipeline from a real entropy source.

use super::time::parse_http_date;
use super::Millis;

#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `0..=max` (Lemire's multiply-shift; the bias is below 2^-64 · max).
    pub fn up_to(&mut self, max: u64) -> u64 {
        if max == u64::MAX {
            return self.next_u64();
        }
        mul_hi(self.next_u64(), max + 1)
    }

    /// A random (version 4, variant 1) UUID in its 36-character lowercase text form.
    pub fn uuid_v4(&mut self) -> [u8; 36] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        // 128 bits, big-endian: version nibble 4 in byte 6, variant bits 10 atop byte 8.
        let hi = self.next_u64() & !0xf000 | 0x4000;
        let lo = self.next_u64() & !(0xc0 << 56) | 0x80 << 56;
        let mut out = [b'-'; 36];
        let mut nibble = 0;
        // Iterators and masks, no indexing: nothing here can panic.
        for (pos, slot) in out.iter_mut().enumerate() {
            if matches!(pos, 8 | 13 | 18 | 23) {
                continue;
            }
            let word = if nibble < 16 { hi } else { lo };
            *slot = HEX[(word >> (60 - 4 * (nibble % 16)) & 0xf) as usize];
            nibble += 1;
        }
        out
    }
}

/// The high 64 bits of the 128-bit product, from 32-bit halves: wasm has no 128-bit multiply, and
/// `u128` arithmetic would pull in compiler-rt's `__multi3`.
fn mul_hi(a: u64, b: u64) -> u64 {
    let (a_lo, a_hi) = (a & 0xffff_ffff, a >> 32);
    let (b_lo, b_hi) = (b & 0xffff_ffff, b >> 32);
    let (lo_lo, hi_lo, lo_hi) = (a_lo * b_lo, a_hi * b_lo, a_lo * b_hi);
    let cross = (lo_lo >> 32) + (hi_lo & 0xffff_ffff) + lo_hi;
    a_hi * b_hi + (hi_lo >> 32) + (cross >> 32)
}

/// `n * 10 + digit`, or `None` past `u64::MAX`; compared rather than overflow-checked, because a
/// checked 64-bit multiply is a `__multi3` call in wasm.
pub(crate) fn push_digit(n: u64, digit: u64) -> Option<u64> {
    (n <= (u64::MAX - digit) / 10).then(|| n * 10 + digit)
}

/// splitmix64's finaliser: a bijective avalanche of 64 bits.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 64-bit key for a string (messageIds, identities), seeded so that keys differ per pipeline.
/// A multiply-rotate over 8-byte words, then an avalanche: cheap for short ids. Collisions are handled by callers comparing the
/// real bytes where it matters (de-dup); for identity pauses a 2^-64 chance is accepted.
#[cfg_attr(target_arch = "wasm32", inline(never))]
pub(crate) fn key(seed: u64, tag: u8, s: &[u8]) -> u64 {
    // The length goes in so that trailing zero bytes still count.
    let mut h = 0xcbf2_9ce4_8422_2325 ^ seed ^ u64::from(tag) ^ (s.len() as u64).rotate_left(32);
    // Eight bytes per word, little-endian, the last one (possibly empty) zero-padded; a byte loop
    // rather than `chunks_exact`, whose remainder handling cost wasm size.
    let mut i = 0;
    loop {
        let mut w = 0u64;
        for j in (0..8).rev() {
            w = w << 8 | u64::from(s.get(i + j).copied().unwrap_or(0));
        }
        h = (h ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        i += 8;
        if i > s.len() {
            break;
        }
        h = h.rotate_left(29);
    }
    // Zero means "no identity" in queue entries.
    mix(h).max(1)
}

/// Exponential backoff with full jitter (uniform in `0..=min(max, base·2^(attempt-1))`): spreads
/// many clients that failed together, and is what AWS's analysis found to finish soonest.
pub(crate) fn backoff_delay(rng: &mut Rng, attempt: u32, base: Millis, max: Millis) -> Millis {
    let shift = attempt.saturating_sub(1).min(40);
    // base · 2^shift, saturating (a shift and a compare; see `push_digit`).
    let ceiling = if base > u64::MAX >> shift {
        u64::MAX
    } else {
        base << shift
    };
    let ceiling = ceiling.min(max);
    rng.up_to(ceiling)
}

/// The wait a `Retry-After` header asks for, from `now`: delta-seconds or an HTTP-date. A date in
/// the past means "now" (0); anything unreadable is `None` and the caller falls back to backoff.
pub fn parse_retry_after(raw: &str, now: Millis) -> Option<Millis> {
    let digits = crate::protocol::trim_ws(raw.as_bytes());
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        // Saturate rather than fail on absurd values; the give-up horizon bounds the wait anyway.
        let secs = digits.iter().fold(0u64, |n, &c| {
            push_digit(n, u64::from(c - b'0')).unwrap_or(u64::MAX)
        });
        return Some(if secs > u64::MAX / 1000 {
            u64::MAX
        } else {
            secs * 1000
        });
    }
    // The npm package's wasm is built without `http-date`: its web layer hands the core a date as
    // the seconds left until it, read by the platform's own `Date.parse` (src/web/api.js `post`).
    if cfg!(feature = "http-date") {
        return parse_http_date(raw).map(|at| at.saturating_sub(now));
    }
    let _ = now;
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_v4_and_distinct() {
        let mut rng = Rng::new(7);
        let a = rng.uuid_v4();
        let b = rng.uuid_v4();
        assert_ne!(a, b);
        let s = std::str::from_utf8(&a).unwrap();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(s.matches('-').count(), 4);
        assert_eq!(Rng::new(7).uuid_v4(), a, "same seed, same ids: determinism");
    }

    #[test]
    fn mul_hi_is_the_high_half_of_the_product() {
        let mut rng = Rng::new(5);
        for _ in 0..100_000 {
            let (a, b) = (rng.next_u64(), rng.next_u64() >> (rng.next_u64() % 64));
            assert_eq!(mul_hi(a, b), ((u128::from(a) * u128::from(b)) >> 64) as u64);
        }
        assert_eq!(mul_hi(u64::MAX, u64::MAX), u64::MAX - 1);
    }

    #[test]
    fn backoff_stays_within_its_ceiling() {
        let mut rng = Rng::new(1);
        for attempt in 1..70 {
            let ceiling = 1000u64
                .saturating_mul(1 << (attempt - 1).min(40))
                .min(300_000);
            for _ in 0..50 {
                assert!(backoff_delay(&mut rng, attempt, 1000, 300_000) <= ceiling);
            }
        }
    }

    #[test]
    fn retry_after_in_both_forms() {
        assert_eq!(parse_retry_after(" 120 ", 5), Some(120_000));
        assert_eq!(
            parse_retry_after("99999999999999999999999", 0),
            Some(u64::MAX)
        );
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(parse_retry_after(date, 784_111_767_000), Some(10_000));
        assert_eq!(parse_retry_after(date, 784_111_787_000), Some(0));
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_retry_after("-5", 0), None);
    }
}
