//! The requests in flight, and the transmit ids that name them. A request is in the outbox from
//! the moment the pipeline hands it out until its answer (or failure) is handled; the answer to
//! an id no longer here is ignored.

use super::report::TransmitId;
use crate::prelude::*;

/// A request awaiting its answer.
#[derive(Debug)]
pub(crate) struct Flight {
    /// Its transmit id.
    pub id: u64,
    /// The events it carries, in body order.
    pub events: Vec<u64>,
    pub body_len: usize,
    /// A one-event test of a global quota hold.
    pub quota_probe: bool,
    /// Identity holds this request tests (one event each).
    pub identity_probes: Vec<u64>,
}

/// The requests in flight.
#[derive(Debug)]
pub(crate) struct Outbox {
    flights: Vec<Flight>,
    next_id: u64,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox {
            flights: Vec::new(),
            next_id: 1,
        }
    }
}

impl Outbox {
    /// Requests in flight.
    pub fn len(&self) -> usize {
        self.flights.len()
    }

    /// Whether no request is in flight.
    pub fn is_empty(&self) -> bool {
        self.flights.is_empty()
    }

    /// A fresh transmit id for the next request; ids are never reused.
    pub fn next_id(&mut self) -> u64 {
        let t = self.next_id;
        self.next_id += 1;
        t
    }

    /// A request leaves.
    pub fn send(&mut self, flight: Flight) {
        self.flights.push(flight);
    }

    /// The request `id`, taken out of flight; `None` when it is unknown or already answered.
    pub fn land(&mut self, id: TransmitId) -> Option<Flight> {
        let pos = self.flights.iter().position(|f| f.id == id.0)?;
        Some(self.flights.swap_remove(pos))
    }

    /// Forgets every request in flight: their answers, if any come, are ignored.
    #[cfg(feature = "server")]
    pub fn clear(&mut self) {
        self.flights.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flight(id: u64) -> Flight {
        Flight {
            id,
            events: vec![id * 10],
            body_len: 1,
            quota_probe: false,
            identity_probes: Vec::new(),
        }
    }

    #[test]
    fn each_request_lands_once() {
        let mut o = Outbox::default();
        let (a, b) = (o.next_id(), o.next_id());
        assert_ne!(a, b, "ids are never reused");
        o.send(flight(a));
        o.send(flight(b));
        assert_eq!(o.len(), 2);
        assert_eq!(o.land(TransmitId(b)).map(|f| f.events), Some(vec![b * 10]));
        assert!(
            o.land(TransmitId(b)).is_none(),
            "a second answer is ignored"
        );
        assert!(o.land(TransmitId(99)).is_none());
        assert_eq!(o.land(TransmitId(a)).map(|f| f.id), Some(a));
        assert!(o.is_empty());
    }
}
