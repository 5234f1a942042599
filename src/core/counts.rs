//! The counts: what is held now (the queue's bounds apply to it) and what has become of events
//! so far (what `stats()` reports). The pipeline moves an event through four transitions —
//! admitted, launched in a request, requeued after one, removed — and tells this part of each, so
//! the counts never need a walk of the queue.

/// Occupancy and running totals.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// Live events (queued and in flight), and their bytes.
    held: usize,
    held_bytes: usize,
    /// Queued (not in flight) events, their bytes, and how many of them are retries.
    queued: usize,
    queued_bytes: usize,
    retries_queued: usize,
    /// Totals since the pipeline began: four counters rather than a whole `Stats` kept, half of
    /// it unused, in every pipeline.
    delivered: u64,
    failed: u64,
    retried: u64,
    evicted: u64,
}

impl Counts {
    /// A new event of `len` bytes is queued.
    pub fn admit(&mut self, len: usize) {
        self.held += 1;
        self.held_bytes += len;
        self.queued += 1;
        self.queued_bytes += len;
    }

    /// A queued event of `len` bytes leaves in a request; `retry` when it had left before.
    pub fn launch(&mut self, len: usize, retry: bool) {
        self.queued -= 1;
        self.queued_bytes -= len;
        if retry {
            self.retries_queued -= 1;
        }
    }

    /// An event of `len` bytes comes back from a request that did not deliver it.
    pub fn requeue(&mut self, len: usize) {
        self.queued += 1;
        self.queued_bytes += len;
        self.retries_queued += 1;
        self.retried += 1;
    }

    /// A live event of `len` bytes is gone (delivered, failed or forgotten); `queued` when it was
    /// not in flight, `retry` when it had left before.
    pub fn remove(&mut self, len: usize, queued: bool, retry: bool) {
        self.held -= 1;
        self.held_bytes -= len;
        if queued {
            self.queued -= 1;
            self.queued_bytes -= len;
            if retry {
                self.retries_queued -= 1;
            }
        }
    }

    /// `n` events were delivered.
    pub fn add_delivered(&mut self, n: usize) {
        self.delivered += n as u64;
    }

    /// An event failed for good.
    pub fn add_failed(&mut self) {
        self.failed += 1;
    }

    /// A failed event was an eviction (counted in failed as well).
    pub fn add_evicted(&mut self) {
        self.evicted += 1;
    }

    /// Live events, and their bytes.
    pub fn held(&self) -> (usize, usize) {
        (self.held, self.held_bytes)
    }

    /// In-flight events, and their bytes: what eviction cannot touch.
    pub fn in_flight(&self) -> (usize, usize) {
        (self.held - self.queued, self.held_bytes - self.queued_bytes)
    }

    /// Queued events, and their bytes.
    pub fn queued(&self) -> (usize, usize) {
        (self.queued, self.queued_bytes)
    }

    /// Whether a queued event is a retry.
    pub fn retries_queued(&self) -> bool {
        self.retries_queued > 0
    }

    /// Delivered, failed, retried and evicted, since the start.
    pub fn totals(&self) -> (u64, u64, u64, u64) {
        (self.delivered, self.failed, self.retried, self.evicted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_moves_through_the_counts() {
        let mut c = Counts::default();
        c.admit(10);
        c.admit(5);
        assert_eq!(
            (c.held(), c.queued(), c.in_flight()),
            ((2, 15), (2, 15), (0, 0))
        );
        c.launch(10, false);
        assert_eq!((c.queued(), c.in_flight()), ((1, 5), (1, 10)));
        assert!(!c.retries_queued());
        c.requeue(10);
        assert!(c.retries_queued(), "a requeued event is a retry");
        assert_eq!((c.queued(), c.in_flight()), ((2, 15), (0, 0)));
        c.launch(10, true);
        assert!(
            !c.retries_queued(),
            "a retry sent again is no longer waiting"
        );
        c.remove(10, false, true);
        c.add_delivered(1);
        assert_eq!((c.held(), c.queued()), ((1, 5), (1, 5)));
        c.remove(5, true, false);
        c.add_failed();
        c.add_evicted();
        assert_eq!((c.held(), c.queued()), ((0, 0), (0, 0)));
        assert_eq!(c.totals(), (1, 1, 1, 1));
    }

    #[test]
    fn removing_a_queued_retry_clears_it() {
        let mut c = Counts::default();
        c.admit(3);
        c.launch(3, false);
        c.requeue(3);
        c.remove(3, true, true);
        assert!(!c.retries_queued());
        assert_eq!((c.held(), c.queued()), ((0, 0), (0, 0)));
    }
}
