//! Storage of admitted events: a deque in id order, each event's encoded bytes held once.
//!
//! Removal leaves a tombstone (bytes freed at once) so that positions stay valid while a call is
//! working; [`Queue::tidy`] pops tombstones from the front and compacts when they outnumber the
//! living, which keeps lookup by id a binary search and memory proportional to what is held.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use super::Millis;

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
    pub fn message_id_string(&self) -> String {
        String::from_utf8(self.message_id().to_vec()).unwrap_or_default()
    }
    pub fn is_queued(&self) -> bool {
        self.flight == QUEUED
    }
}

#[derive(Debug, Default)]
pub(crate) struct Queue {
    entries: VecDeque<Entry>,
    dead: usize,
}

impl Queue {
    pub fn push(&mut self, e: Entry) {
        self.entries.push_back(e);
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
    /// Position of the live event `id`.
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    pub fn find(&self, id: u64) -> Option<usize> {
        let idx = self.entries.binary_search_by_key(&id, |e| e.id).ok()?;
        (self.entries[idx].flight != DEAD).then_some(idx)
    }
    /// First position whose id is at least `id`.
    pub fn lower_bound(&self, id: u64) -> usize {
        self.entries.partition_point(|e| e.id < id)
    }
    /// Marks the entry removed and frees its bytes; positions stay valid until `tidy`.
    pub fn kill(&mut self, idx: usize) {
        if let Some(e) = self.entries.get_mut(idx) {
            if e.flight != DEAD {
                e.flight = DEAD;
                e.bytes = Box::new([]);
                self.dead += 1;
            }
        }
    }
    pub fn tidy(&mut self) {
        while self.entries.front().is_some_and(|e| e.flight == DEAD) {
            self.entries.pop_front();
            self.dead -= 1;
        }
        if self.dead > 32 && self.dead * 2 > self.entries.len() {
            self.entries.retain(|e| e.flight != DEAD);
            self.entries.shrink_to_fit();
            self.dead = 0;
        }
    }
}

/// Keys here are already well-mixed 64-bit hashes, so hashing them again is wasted work (and
/// `RandomState` would read OS randomness, which the core must not do).
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub(crate) type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;

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
        assert_eq!(q.len(), 21, "front tombstone popped, the rest compacted");
        assert_eq!(q.find(1), Some(0));
        assert_eq!(q.find(80), Some(1));
        assert_eq!(q.lower_bound(50), 1);
        assert_eq!(q.lower_bound(1000), q.len());
    }
}
