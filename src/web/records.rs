//! The store's records, as the driver keeps account of them: which record holds which event,
//! and the events held back because the page that last sent them was left while their request
//! was in flight.
//!
//! A record is up to `flush_at` events of one context, `[messageId, value, ...]` under a key the
//! driver makes: the driver starts a new one once that many wait to be stored, so a record
//! holds no more than a request carries and is usually acked whole. A record an earlier release
//! wrote holds one event under its messageId, or a whole tick's events. The store
//! (src/web/js/store.js) carries out what the driver decides: it writes the records the driver
//! makes ([`Io::put`]) and takes out of a record the events the driver names ([`Io::remove`],
//! an answer's events a record at a time) when they are delivered or failed here, or are not
//! ones to send. Its own part is
//! mechanical: a tick's writes in one transaction, a record rewritten without the events taken
//! out in that tick (read and written back in that transaction), and deleted once it holds
//! nothing, which for a record acked whole is at once. The store is what knows everything a record
//! holds (events held back, or refused, are in no list here), so a record is only ever deleted
//! there, never on a count kept here that could be wrong. Bytes written per event delivered are
//! thus O(1) however many events a tick holds.
//!
//! Held events are not kept here either: the driver leaves them out of the pipeline, notes until
//! when, and once its timer says their time has come, has the store loaded again
//! ([`Io::reload`]), as when it took the lead; they are then queued, and the rest is
//! de-duplicated.
//!
//! [`Io::reload`]: super::driver::Io::reload
//!
//! A record is named here by a number ([`Record`]), never by its key: the store
//! (src/web/js/store.js) keeps the keys, and makes those of this context's records from their
//! numbers. One list of entries in id order, each carrying its record's number (16 bytes per
//! queued event, where a key of its own cost about 70), keeps this small in the wasm: one type,
//! found by bisection, and no key text crossing into the wasm or out of it.
//!
//! [`Io::put`]: super::driver::Io::put
//! [`Io::remove`]: super::driver::Io::remove

use crate::core::{EventId, Millis};
use crate::prelude::*;

/// A stored value: 8 bytes enqueue time, 4 bytes sequence (both big-endian), then the event.
/// The store sorts on these 12 bytes to load events oldest first.
pub const RECORD_HEADER: usize = 12;
/// How long the next leader (a reloaded page, another tab) holds back the events that were in
/// flight when a page was left. Their requests may still be on their way or being processed (a
/// keepalive send outlives its page; a server may still be working on an aborted one), and
/// sending them again meanwhile would put one event in two requests at once.
pub const LEFT_IN_FLIGHT_HOLD_MS: Millis = 10_000;
/// `Records::held_until` while the load that releases held events is under way: what it
/// restores is due at once (one number for two states: a flag beside it cost more code).
pub const RELEASING: Millis = 1;

/// A record's number: above 0, one this context made ([`Records::make`]); below 0, one the
/// store numbered (loaded, or handed over by a follower); 0, none.
pub type Record = i32;

/// An event of the pipeline a record holds.
pub struct Entry {
    /// Its record; 0 once taken out.
    pub rec: Record,
    /// Restored (loaded from the store, or handed over by a follower), not tracked here: another
    /// tab may be waiting to hear that it settled.
    pub restored: bool,
    pub id: EventId,
}

/// Every event of the pipeline this context knows a record of: its own, the ones it loaded,
/// the ones a follower handed over.
#[derive(Default)]
pub struct Records {
    /// In the order of their ids (the driver stores a tick's own events before it restores any),
    /// so that an event is found by bisection: a burst's acks cost O(log n) each, not a scan of
    /// every event queued. An entry taken keeps its place, its record 0, until half the list is
    /// such (one `retain` then), so taking one never shifts the rest.
    entries: Vec<Entry>,
    /// Entries taken but still in the list.
    taken: usize,
    /// Stored events were held back: when they may be sent (the latest time any of them was
    /// given); 0: none is held; [`RELEASING`]: the store is being loaded again to queue them.
    pub held_until: Millis,
    /// Records made (the last one's number).
    made: Record,
    /// The sequence number of the next value stored.
    pub seq: u32,
}

impl Records {
    /// The number of a new record. (A page would make 2^31 of them, at 100 a second, in eight
    /// months; past that they would wrap into the store's numbers.)
    pub fn make(&mut self) -> Record {
        self.made = self.made.wrapping_add(1);
        self.made
    }

    /// Notes that record `rec` holds event `id`, above every id noted before; `restored`: see
    /// [`Entry::restored`].
    pub fn add(&mut self, rec: Record, id: EventId, restored: bool) {
        self.entries.push(Entry { rec, restored, id });
    }

    /// Takes out the entry of event `id`: its record, and whether it was restored.
    pub fn take(&mut self, id: EventId) -> Option<(Record, bool)> {
        // Bisection by hand: slice::partition_point cost the wasm more.
        let (mut lo, mut hi) = (0, self.entries.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.entries.get(mid) {
                Some(e) if e.id.0 < id.0 => lo = mid + 1,
                _ => hi = mid,
            }
        }
        let e = self
            .entries
            .get_mut(lo)
            .filter(|e| e.id == id && e.rec != 0)?;
        let taken = (core::mem::take(&mut e.rec), e.restored);
        self.taken += 1;
        if self.taken * 2 > self.entries.len() {
            self.entries.retain(|e| e.rec != 0);
            self.taken = 0;
        }
        Some(taken)
    }
}
