//! Engine keys: the 64-bit hashes by which messageIds and identities are indexed and paused,
//! and [`KeyMap`], the one map type keyed by them.

use super::rng::mix;
use crate::prelude::*;

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

/// A map from engine keys (well-mixed 64-bit hashes, never 0; see [`key`]) to `u64`
/// values: messageId de-dup, identity pauses, identities blocked while planning.
///
/// Open addressing with linear probing, at most three quarters full (the keys are well mixed, so
/// runs stay short; hashbrown's footprint is about the same), deleting by backward shift (no
/// tombstones). The keys are already hashes, so their low bits index the table directly. Written
/// here rather than using `std::collections::HashMap` because hashbrown's SIMD-group tables cost
/// several KB of wasm, and std's `RandomState` would read OS randomness, which the core must not.
#[derive(Debug, Default)]
pub(crate) struct KeyMap {
    /// `(key, value)`, key 0 marking a free slot; empty or a power of two long.
    slots: Vec<(u64, u64)>,
    len: usize,
}

impl KeyMap {
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The slot holding `k`, or else the free slot where it would go (the table is never full);
    /// past the end only while the table has no slots. (A plain index: an `Option` came back
    /// through memory.)
    fn probe(&self, k: u64) -> usize {
        let mask = self.mask();
        let mut i = k as usize & mask;
        while let Some(&(key, _)) = self.slots.get(i) {
            if key == k || key == 0 {
                return i;
            }
            i = (i + 1) & mask;
        }
        usize::MAX
    }

    /// The slot holding `k`, or `usize::MAX`. The lookups below are inlined over it: an
    /// `Option` returned out of line came back through memory at every caller (wasm size).
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    fn slot_of(&self, k: u64) -> usize {
        let i = self.probe(k);
        match self.slots.get(i) {
            Some(&(key, _)) if k != 0 && key == k => i,
            _ => usize::MAX,
        }
    }

    #[inline(always)]
    fn find(&self, k: u64) -> Option<usize> {
        let i = self.slot_of(k);
        (i != usize::MAX).then_some(i)
    }

    #[inline(always)]
    pub fn get(&self, k: u64) -> Option<u64> {
        self.slots.get(self.slot_of(k)).map(|s| s.1)
    }

    #[inline(always)]
    pub fn contains_key(&self, k: u64) -> bool {
        self.slot_of(k) != usize::MAX
    }

    /// Sets `k` to `v`, replacing any value it had.
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    pub fn insert(&mut self, k: u64, v: u64) {
        debug_assert!(k != 0, "0 marks a free slot");
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            let grown = vec![(0, 0); (self.slots.len() * 2).max(8)];
            let old = core::mem::replace(&mut self.slots, grown);
            self.len = 0;
            for &(k, v) in &old {
                if k != 0 {
                    self.insert(k, v);
                }
            }
        }
        let i = self.probe(k);
        if let Some(slot) = self.slots.get_mut(i) {
            if slot.0 == 0 {
                self.len += 1;
            }
            *slot = (k, v);
        }
    }

    pub fn remove(&mut self, k: u64) {
        let Some(mut hole) = self.find(k) else { return };
        let mask = self.mask();
        let mut j = hole;
        // Pull back each later entry of the run whose home is not between the hole and itself,
        // so that every entry stays reachable from its home without tombstones.
        loop {
            j = (j + 1) & mask;
            let Some(&(key, v)) = self.slots.get(j) else {
                return;
            };
            if key == 0 {
                break;
            }
            let home = key as usize & mask;
            if j.wrapping_sub(home) & mask >= j.wrapping_sub(hole) & mask {
                if let Some(slot) = self.slots.get_mut(hole) {
                    *slot = (key, v);
                }
                hole = j;
            }
        }
        if let Some(slot) = self.slots.get_mut(hole) {
            *slot = (0, 0);
        }
        self.len -= 1;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Entries it can hold before growing.
    pub fn capacity(&self) -> usize {
        self.slots.len() / 4 * 3
    }

    pub fn values(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots.iter().filter(|s| s.0 != 0).map(|s| s.1)
    }

    /// Keeps the entries whose value passes `keep` (by rebuilding: the maps that need this are a
    /// handful of identity pauses).
    pub fn retain(&mut self, keep: impl Fn(u64) -> bool) {
        if self.slots.iter().all(|&(k, v)| k == 0 || keep(v)) {
            return;
        }
        let old = core::mem::take(&mut self.slots);
        self.len = 0;
        for &(k, v) in &old {
            if k != 0 && keep(v) {
                self.insert(k, v);
            }
        }
    }
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

    #[test]
    fn key_map_agrees_with_a_hash_map() {
        // Keys crowd a few home slots, so probing wraps around and removal shifts runs back.
        let mut map = KeyMap::default();
        let mut model = std::collections::HashMap::new();
        let mut rng = super::super::rng::Rng::new(3);
        for step in 0..20_000u64 {
            let home = [1, 2, 0xffff_fffe, 0xffff_ffff][(rng.next_u64() % 4) as usize];
            let k = (rng.next_u64() % 24) << 32 | home;
            match rng.next_u64() % 3 {
                0 => {
                    map.remove(k);
                    model.remove(&k);
                }
                _ => {
                    map.insert(k, step);
                    model.insert(k, step);
                }
            }
            assert_eq!(map.len(), model.len());
            assert_eq!(map.get(k), model.get(&k).copied());
            if step % 1000 == 0 {
                map.retain(|v| v % 2 == 0);
                model.retain(|_, v| *v % 2 == 0);
            }
        }
        for (&k, &v) in &model {
            assert_eq!(map.get(k), Some(v));
        }
        assert_eq!(map.values().count(), model.len());
        assert_eq!(map.get(0), None);
    }
}
