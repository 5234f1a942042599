//! The queue's events as a store keeps them: the stored form of a held event (what the web
//! driver writes to IndexedDB and a Durable Object to its storage), an event restored from it
//! byte for byte, and one forgotten because another pipeline delivers it.

use super::Pipeline;
use crate::core::event::{Rejected, StoredEvent};
use crate::core::keys::{key, TAG_DEVICE, TAG_MSG, TAG_USER};
use crate::core::report::EventId;
use crate::core::validate::inspect_stored;
use crate::core::Millis;
use crate::prelude::*;

impl Pipeline {
    /// Re-admits an event persisted earlier, byte for byte, with its messageId and original
    /// enqueue time (from which both the give-up horizon and the flush interval count). If an
    /// event with that messageId is already held, returns its id instead.
    pub fn restore(&mut self, now: Millis, stored: StoredEvent) -> Result<EventId, Rejected> {
        let now = self.observe(now);
        let meta = inspect_stored(self.config.protocol, &stored)?;
        let user = self.identity(TAG_USER, meta.user.as_deref());
        let device = self.identity(TAG_DEVICE, meta.device.as_deref());
        // The flush interval counts from the first enqueue, across reloads: events a closed page
        // left behind have usually waited long enough already and leave at once.
        let admitted = now.min(stored.enqueued_at);
        let deadline = admitted.saturating_add(self.config.flush_interval_ms);
        self.early_deadline = self.early_deadline.min(deadline);
        let result = self.admit(
            admitted,
            Box::from(&stored.body[..]),
            meta.msg_off,
            meta.msg_len,
            user,
            device,
            stored.enqueued_at,
        );
        self.tidy();
        result
    }

    /// The persistable form of a held event (for IndexedDB / a Durable Object).
    pub fn stored_form(&self, id: EventId) -> Option<StoredEvent> {
        let e = self.queue.live(id.0)?;
        Some(StoredEvent {
            message_id: e.message_id_string(),
            enqueued_at: e.created_at,
            body: e.bytes.to_vec(),
        })
    }

    /// A held event as [`stored_form`](Self::stored_form) has it, borrowed: its enqueue time, its
    /// bytes and its messageId (as those bytes hold it). What a store writes, without copies.
    pub fn held(&self, id: EventId) -> Option<(Millis, &[u8], &[u8])> {
        let e = self.queue.live(id.0)?;
        Some((e.created_at, &e.bytes[..], e.message_id()))
    }

    /// The messageId of a held event (queued or in flight).
    pub fn message_id(&self, id: EventId) -> Option<String> {
        self.queue.live(id.0).map(|e| e.message_id_string())
    }

    /// Drops a queued event without reporting it, because another pipeline delivers it: a tab
    /// that is not the sending one keeps its own events here only until the sending tab says
    /// they were delivered or failed. Returns the event's id if it was held and queued; an event
    /// in flight here is left alone.
    pub fn forget(&mut self, message_id: &str) -> Option<EventId> {
        let mkey = key(self.hash_seed, TAG_MSG, message_id.as_bytes());
        let id = self.by_msg.get(mkey)?;
        let idx = self.queue.find(id)?;
        let e = self.queue.get(idx)?;
        if !e.is_queued() || !e.has_message_id(message_id.as_bytes()) {
            return None;
        }
        self.remove(idx);
        self.tidy();
        Some(EventId(id))
    }
}
