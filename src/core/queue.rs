//! Storage of admitted events: a vector in id order, each event's encoded bytes held once.
//!
//! Removal leaves a tombstone (bytes freed at once) so that positions stay valid while a call is
//! working; [`Queue::tidy`] compacts when tombstones pass a quarter of the entries, which keeps
//! lookup by id a binary search and memory proportional to what is held (at most one tombstone of
//! metadata per three live events; the list's capacity follows too, but in the npm package's
//! wasm, whose allocator cannot take it back, where it stays for the next burst). A plain `Vec`
//! rather than a `VecDeque`: the deque's
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
    /// How many 2xx answers did not confirm it (`protocol::MAX_UNCONFIRMED` fails it).
    pub unconfirmed: u8,
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
        crate::base::text::string(self.message_id().to_vec()).unwrap_or_default()
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
            self.entries.retain(|e| e.flight != DEAD);
            // Shrunk to fit where the allocator takes the rest back, so memory follows what is
            // held. Not with the npm package's (src/wasm_rt.rs): it never merges nor splits a
            // block, so each shrink took a new block of another size and left the old one to
            // its own size alone: a queue of 10,000 drained that way grew the wasm memory by
            // about 1.7 MB (bench/burst.mjs), where the capacity kept is what the next burst
            // reuses.
            #[cfg(not(all(target_arch = "wasm32", not(feature = "embedded"))))]
            self.entries.shrink_to_fit();
            self.dead = 0;
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
            unconfirmed: 0,
            flight: QUEUED,
        }
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
