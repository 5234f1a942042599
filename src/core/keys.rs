//! Engine keys: the 64-bit hashes by which messageIds and identities are indexed and paused.

use super::rng::mix;

/// Tags that keep the key spaces of messageIds, users and devices apart.
pub(crate) const TAG_MSG: u8 = b'm';
pub(crate) const TAG_USER: u8 = b'u';
pub(crate) const TAG_DEVICE: u8 = b'd';

/// A 64-bit key for a string (messageIds, identities), seeded so that keys differ per pipeline.
/// A multiply-rotate over 8-byte words, then an avalanche: cheap for short ids. Collisions are handled by callers
/// comparing the real bytes where it matters (de-dup); for identity pauses a 2^-64 chance is accepted.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_seed_tag_length_and_bytes() {
        let k = key(1, TAG_MSG, b"abc");
        assert_eq!(
            k,
            key(1, TAG_MSG, b"abc"),
            "a key is a function of its inputs"
        );
        assert_ne!(k, key(2, TAG_MSG, b"abc"));
        assert_ne!(k, key(1, TAG_USER, b"abc"));
        assert_ne!(k, key(1, TAG_MSG, b"abd"));
        assert_ne!(
            key(1, TAG_MSG, b"a"),
            key(1, TAG_MSG, b"a\0"),
            "trailing zeros count"
        );
        assert_ne!(key(1, TAG_MSG, b"12345678"), key(1, TAG_MSG, b"12345678x"));
        assert_ne!(key(1, TAG_MSG, b""), 0, "0 stays free for no identity");
    }
}
