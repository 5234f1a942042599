//! Storage of admitted events: a vector in id order, each event's encoded bytes held once.
//!
//! Removal leaves a tombstone (bytes freed at once) so that positions stay valid while a call is
//! working; [`Queue::tidy`] compacts when tombstones pass a quarter of the entries, which keeps
//! lookup by id a binary search and memory proportional to what is held (at most one tombstone of
//! metadata per three live events). A plain `Vec` rather than a `VecDeque`: the deque's
//! wrap-around handling in search, retain and shrink cost wasm size, and compaction makes popping
//! the front unneeded.

use super::Millis;
use crate::prelude::*;

/// `flight` of a queued event.
pub(crate) const QUEUED: u64 = 0;
/// `flight` of a removed event.
pub(crate) const DEAD: u64 = u64::MAX;

/// About 72 bytes of metadata beside the event's JSON.
#[derive(Debug)]
pub(crate) struct Entry {
    pub id: u64,
    pub bytes: Box<[u8]>,
    /// First queued (maybe by an earlier page): the give-up horizon counts from here.
    pub created_at: Millis,
    /// Admitted to this pipeline: the flush interval counts from here.
    pub admitted_at: Millis,
    /// Identity keys (0 = none), for per-identity pauses.
    pub user: u64,
    pub device: u64,
    /// Where the messageId's characters sit in `bytes`.
    pub msg_off: u32,
    pub msg_len: u8,
    /// How many requests carried it without delivering it.
    pub attempts: u16,
    /// `QUEUED`, `DEAD`, or the id of the transmit carrying it.
    pub flight: u64,
}

impl Entry {
    pub fn message_id(&self) -> &[u8] {
        let at = self.msg_off as usize;
        self.bytes
            .get(at..at + usize::from(self.msg_len))
            .unwrap_or(&[])
    }
    /// Whether its messageId is `m` (one out-of-line comparison for the three places that ask).
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    pub fn has_message_id(&self, m: &[u8]) -> bool {
        crate::base::json::same(self.message_id(), m)
    }
    pub fn message_id_string(&self) -> String {
        String::from_utf8(self.message_id().to_vec()).unwrap_or_default()
    }
    pub fn is_queued(&self) -> bool {
        self.flight == QUEUED
    }
}

#[derive(Debug, Default)]
pub(crate) struct Queue {
    entries: Vec<Entry>,
    dead: usize,
}

impl Queue {
    pub fn push(&mut self, e: Entry) {
        self.entries.push(e);
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn get(&self, idx: usize) -> Option<&Entry> {
        self.entries.get(idx)
    }
    pub fn get_mut(&mut self, idx: usize) -> Option<&mut Entry> {
        self.entries.get_mut(idx)
    }
    /// Position of the live event `id`. Inlined over an out-of-line search that returns a plain
    /// index: an `Option` returned out of line came back through memory at every caller.
    #[inline(always)]
    pub fn find(&self, id: u64) -> Option<usize> {
        let idx = self.position(id);
        (idx != usize::MAX).then_some(idx)
    }
    /// Position of the live event `id`, or `usize::MAX`.
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    fn position(&self, id: u64) -> usize {
        let idx = self.lower_bound(id);
        match self.entries.get(idx) {
            Some(e) if e.id == id && e.flight != DEAD => idx,
            _ => usize::MAX,
        }
    }
    /// The live event `id`.
    pub fn live(&self, id: u64) -> Option<&Entry> {
        self.entries.get(self.find(id)?)
    }
    /// First position whose id is at least `id` (ids increase along the vector). A plain binary
    /// search: `partition_point` and `binary_search_by_key` were two larger copies in the wasm.
    pub fn lower_bound(&self, id: u64) -> usize {
        let (mut lo, mut hi) = (0, self.entries.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.entries.get(mid).is_some_and(|e| e.id < id) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
    /// Marks the entry removed and frees its bytes; positions stay valid until `tidy`.
    pub fn kill(&mut self, idx: usize) {
        if let Some(e) = self.entries.get_mut(idx) {
            if e.flight != DEAD {
                e.flight = DEAD;
                e.bytes = Box::default();
                self.dead += 1;
            }
        }
    }
    /// Compacts once tombstones pass a quarter of the entries: each pass is paid for by the
    /// removals it reclaims, and a backlog drained from the front carries little dead metadata.
    pub fn tidy(&mut self) {
        if self.dead * 4 > self.entries.len() {
            // Shrunk to fit, so memory follows what is held. (Once smaller as a move into an
            // exactly sized vector; the shrinking code is in the wasm anyway for the bindings'
            // boxed slices, and retain's is now the smaller loop.)
            self.entries.retain(|e| e.flight != DEAD);
            self.entries.shrink_to_fit();
            self.dead = 0;
        }
    }
}

/// A map from engine keys (well-mixed 64-bit hashes, never 0; see `keys::key`) to `u64`
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

    fn entry(id: u64) -> Entry {
        Entry {
            id,
            bytes: vec![b'x'; 10].into_boxed_slice(),
            created_at: 0,
            admitted_at: 0,
            user: 0,
            device: 0,
            msg_off: 0,
            msg_len: 1,
            attempts: 0,
            flight: QUEUED,
        }
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

    #[test]
    fn a_backlog_drained_from_the_front_keeps_few_tombstones() {
        let mut q = Queue::default();
        for id in 0..1000 {
            q.push(entry(id));
        }
        for id in 0..990 {
            q.kill(q.find(id).unwrap());
            q.tidy();
            let live = 1000 - id as usize - 1;
            assert!(
                q.len() * 3 <= live * 4 + 3,
                "{} entries for {live} live",
                q.len()
            );
        }
    }

    #[test]
    fn tombstones_are_reclaimed() {
        let mut q = Queue::default();
        for id in 0..100 {
            q.push(entry(id));
        }
        q.kill(0);
        q.kill(0);
        for idx in 2..80 {
            q.kill(idx);
        }
        assert_eq!(q.find(1), Some(1));
        assert_eq!(q.find(5), None);
        q.tidy();
        assert_eq!(q.len(), 21, "the tombstones compacted away");
        assert_eq!(q.find(1), Some(0));
        assert_eq!(q.find(80), Some(1));
        assert_eq!(q.lower_bound(50), 1);
        assert_eq!(q.lower_bound(1000), q.len());
    }
}
