//! The request limits in force: the configured ones at first, lowered by what 413 answers teach.
//! Never raised again: a server that refused a size once would refuse it again.

/// Bytes and events per request.
#[derive(Debug)]
pub(crate) struct RequestLimits {
    bytes: usize,
    events: usize,
}

impl RequestLimits {
    /// The limits to start from (the configured bytes, the protocol's events).
    pub fn new(bytes: usize, events: usize) -> Self {
        RequestLimits { bytes, events }
    }

    /// Bytes per request body, envelope included.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Events per request.
    pub fn events(&self) -> usize {
        self.events
    }

    /// A request of `body_len` bytes and `events` events (more than one) was too large; the
    /// server said its limit when `limit_bytes`. A limit that would not have refused this body is
    /// not believable: the body is halved instead, which always makes progress. Without a limit
    /// the event count halves too, in case events were what the server counted.
    pub fn learn_too_large(&mut self, body_len: usize, events: usize, limit_bytes: Option<usize>) {
        let learnt = limit_bytes
            .filter(|&l| l < body_len)
            .unwrap_or(body_len / 2);
        self.bytes = self.bytes.min(learnt);
        if limit_bytes.is_none() {
            self.events = self.events.min((events / 2).max(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stated_limit_below_the_body_is_taken() {
        let mut l = RequestLimits::new(1000, 100);
        l.learn_too_large(900, 10, Some(500));
        assert_eq!((l.bytes(), l.events()), (500, 100));
    }

    #[test]
    fn an_unbelievable_limit_halves_the_body() {
        let mut l = RequestLimits::new(1000, 100);
        l.learn_too_large(900, 10, Some(950));
        assert_eq!((l.bytes(), l.events()), (450, 100));
    }

    #[test]
    fn no_limit_halves_bytes_and_events() {
        let mut l = RequestLimits::new(1000, 100);
        l.learn_too_large(800, 10, None);
        assert_eq!((l.bytes(), l.events()), (400, 5));
        l.learn_too_large(300, 1, None);
        assert_eq!((l.bytes(), l.events()), (150, 1), "never below one event");
    }

    #[test]
    fn limits_never_rise() {
        let mut l = RequestLimits::new(1000, 100);
        l.learn_too_large(400, 10, Some(300));
        l.learn_too_large(2000, 10, Some(900));
        assert_eq!(l.bytes(), 300);
    }
}
