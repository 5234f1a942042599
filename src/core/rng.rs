//! The seeded PRNG: messageIds (UUID v4) and backoff jitter.
//!
//! splitmix64: one `u64` of state, good statistical quality for ids and jitter, and a few
//! instructions. It is *not* cryptographic; uniqueness of messageIds across tabs and processes
//! rests on the driver seeding each pipeline from a real entropy source.

/// splitmix64, seeded by the driver: the engine's only source of randomness.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator whose whole future is `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
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
    pub fn uuid_v4(&mut self) -> UuidText {
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
        UuidText(out)
    }
}

/// The text of a UUID that [`Rng::uuid_v4`] made: ASCII hex digits and '-' only, so it is a
/// `&str` without a UTF-8 check (which cost wasm size at the one place that asks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UuidText([u8; 36]);

impl UuidText {
    pub fn as_str(&self) -> &str {
        // SAFETY: only `uuid_v4` makes one, from `HEX` and b'-', all ASCII.
        unsafe { core::str::from_utf8_unchecked(&self.0) }
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

/// splitmix64's finaliser: a bijective avalanche of 64 bits.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
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
        let s = a.as_str();
        assert_eq!(std::str::from_utf8(s.as_bytes()), Ok(s));
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
}
