//! The driver's side of the store: new events written in records of `flush_at` at most, settled
//! events taken out of their records, stored events queued again, and the ones held back
//! released when their time comes. [`Records`](super::Records) keeps the account.

use super::{Driver, Io, Note, Record, RECORD_HEADER, RELEASING};
use crate::core::{EventId, Millis, StoredEvent};
use crate::prelude::*;

impl<I: Io> Driver<I> {
    /// Re-admits stored event `key` of record `record` (numbered by the store, below 0): from
    /// the store when leading
    /// (`from_store`), or posted by a follower. `held_until`: the time before which it must not
    /// be sent (a page was left with it in flight), or 0. A value that is not ours, or that the
    /// pipeline refuses (reported failed), is taken out of its record.
    pub fn restore(
        &mut self,
        now: Millis,
        record: Record,
        key: String,
        value: &[u8],
        from_store: bool,
        held_until: Millis,
    ) {
        if !self.leader {
            return;
        }
        // This tick's own events first, so that ids reach the records in order.
        self.persist();
        // Held back: loaded again once the timer says the request may be over (its record in
        // the store keeps it meanwhile).
        if held_until > now {
            self.records.held_until = self.records.held_until.max(held_until);
            return;
        }
        // same(): Vec::contains went through generic slice code comparing by reference.
        let mut early = false;
        for m in &self.settled_early {
            early |= crate::base::json::same(m.as_bytes(), key.as_bytes());
        }
        // Delivered or failed while the store was loading (the snapshot still had it), or not
        // a value of ours: nothing to send.
        let split = value.split_at_checked(RECORD_HEADER);
        let (Some((head, body)), false) = (split, from_store && early) else {
            self.io.remove(record, key.as_bytes(), 1);
            return;
        };
        let at = head
            .iter()
            .take(8)
            .fold(0, |n, b| n << 8 | Millis::from(*b));
        let stored = StoredEvent {
            message_id: key.clone(),
            enqueued_at: at,
            body: body.to_vec(),
        };
        match self.pipeline.restore(now, stored) {
            // Known already (its own, or restored before): it stays in the record it is in.
            Ok(id) if id.0 <= self.last_id => {}
            Ok(id) => {
                self.last_id = id.0;
                self.records.add(record, id, true);
            }
            Err(e) => {
                self.io.remove(record, key.as_bytes(), 1);
                self.io
                    .emit(Note::Failed(key, e.code().into(), e.message()));
            }
        }
    }

    /// The held events' time has come: the store is loaded again, as when this context took
    /// the lead, and they are due at once once loaded (they were being sent when their page was
    /// left).
    pub(super) fn release_held(&mut self, now: Millis) {
        let until = self.records.held_until;
        if until > RELEASING && now >= until {
            self.records.held_until = RELEASING;
            self.io.reload();
        }
    }

    /// Writes the events admitted since the last call, a record per `flush_at` of them (one
    /// transaction per tick): a record holds at most a request's worth, so an ack usually
    /// empties it whole, the store deletes it rather than rewriting it, and the bytes written per
    /// event stay the same however many events a tick holds.
    pub(super) fn persist(&mut self) {
        // Memory only, and nobody to hand them to: nothing to store.
        if (self.durable || !self.leader) && !self.unstored.is_empty() {
            let config = self.pipeline.config();
            let per = config.flush_at;
            // A record's events go to the store in one call (Io::put), made in buffers kept for
            // the whole tick: each event's bytes are copied once, from the queue.
            let (mut keys, mut values, mut ends) = (Vec::new(), Vec::new(), Vec::new());
            // By index, keeping the list's memory: a consuming loop over a taken Vec cost more.
            let mut i = 0;
            while i < self.unstored.len() {
                let record = self.records.make();
                let mut n = 0;
                keys.clear();
                values.clear();
                ends.clear();
                ends.push(0);
                while let (true, Some(&id)) = (n < per, self.unstored.get(i)) {
                    i += 1;
                    // Gone already (delivered or evicted within the tick): nothing to keep.
                    let Some((at, body, message_id)) = self.pipeline.held(id) else {
                        continue;
                    };
                    n += 1;
                    if n > 1 {
                        keys.push(0);
                    }
                    keys.extend_from_slice(message_id);
                    values.extend_from_slice(&at.to_be_bytes());
                    values.extend_from_slice(&self.records.seq.to_be_bytes());
                    values.extend_from_slice(body);
                    ends.push(values.len() as u32);
                    self.records.seq = self.records.seq.wrapping_add(1);
                    self.records.add(record, id, false);
                }
                if n > 0 {
                    self.io.put(record, &keys, &values, &ends, !self.leader);
                }
            }
        }
        self.unstored.clear();
    }

    /// Event `id` is done: delivered or failed here, or by the leader. The `flush()` calls
    /// waiting for it count it. Returns its record (0: none), which the caller takes it out of
    /// when it settled here (a follower leaves its records to the leader, which updates them),
    /// and whether it was restored (another tab may be waiting to hear of it).
    pub(super) fn settle(&mut self, id: EventId) -> (Record, bool) {
        let (rec, restored) = self.records.take(id).unwrap_or_default();
        let mut i = 0;
        while i < self.flushes.len() {
            let f = &mut self.flushes[i];
            if id.0 < f.mark {
                f.remaining = f.remaining.saturating_sub(1);
            }
            if f.remaining == 0 {
                let f = self.flushes.swap_remove(i);
                self.io.resolve(f.waiter);
            } else {
                i += 1;
            }
        }
        (rec, restored)
    }

    /// Takes the `n` events `keys` names (joined by U+0000) out of record `rec`, if any, and
    /// empties `keys`.
    pub(super) fn take_out(&mut self, rec: Record, keys: &mut Vec<u8>, n: &mut usize) {
        if *n > 0 {
            self.io.remove(rec, keys, core::mem::take(n));
            keys.clear();
        }
    }
}
