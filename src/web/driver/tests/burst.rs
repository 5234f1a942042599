//! A burst in one tick: the store's work per event does not grow with the burst.

use super::*;

/// Tracks `n` events in one tick, answers every request as it is sent (each answer a tick of
/// its own) until all are delivered, and returns the bytes the store wrote per event.
fn written_per_event(n: usize) -> f64 {
    let mut d = leader(true); // flushAt 10
    for i in 0..n {
        // Names of one length: every value stored has the same size.
        track(&mut d, &format!("E{i:06}"));
    }
    d.drive(d.io.now);
    let mut answered = std::collections::HashSet::new();
    for _ in 0..n {
        let open: Vec<u64> =
            d.io.sends()
                .into_iter()
                .filter(|s| answered.insert(*s))
                .collect();
        if open.is_empty() {
            break;
        }
        for s in open {
            let events = d
                .requests
                .iter()
                .find(|r| r.0 == s)
                .map_or(0, |r| r.2.len());
            d.response(d.io.now, s, 200, None, ok(events));
            d.io.commit();
        }
    }
    assert_eq!(d.stats()[..4], [0.0, 0.0, n as f64, 0.0], "all delivered");
    assert!(d.io.store.is_empty(), "nothing left stored");
    d.io.written as f64 / n as f64
}

#[test]
fn bytes_written_per_delivered_event_stay_the_same_as_the_burst_grows() {
    let small = written_per_event(100);
    let large = written_per_event(5_000);
    assert!(small > 0.0);
    // Records of one request each, acked whole: each event's value is written once. A record
    // per tick, rewritten at each ack without what it acked, wrote O(n) bytes per event.
    assert!(
        large <= small * 1.01,
        "{small:.0} -> {large:.0} bytes per event"
    );
}

#[test]
fn records_find_each_event_whatever_the_order_it_settles_in() {
    let mut r = Records::default();
    for i in 1..=40 {
        r.add(i as Record / 10 + 1, EventId(i), i % 3 == 0);
    }
    // Out of order, twice, and ids never added: each taken once, with its record's key and
    // whether it was restored.
    let order = [
        5, 1, 40, 5, 0, 41, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
    ];
    let mut taken = Vec::new();
    for id in order {
        if let Some(k) = r.take(EventId(id)) {
            taken.push((id, k));
        }
    }
    assert_eq!(taken.len(), 21, "{taken:?}");
    for (id, k) in &taken {
        assert_eq!(*k, (*id as Record / 10 + 1, id % 3 == 0));
    }
    // Past the compaction (over half taken), the rest are still found, newer ids too.
    r.add(-1, EventId(50), true);
    for id in (21..40).chain([50]) {
        assert!(r.take(EventId(id)).is_some(), "{id}");
    }
    assert!(r.take(EventId(1)).is_none());
}

#[test]
fn a_queued_event_costs_its_record_account_16_bytes() {
    // Its record by number, not by key: a key per entry cost about 70 bytes more per event.
    assert_eq!(core::mem::size_of::<crate::web::records::Entry>(), 16);
}

/// Answers every request in flight until none is; for each, the Io::remove calls its answer
/// made.
fn answer_all(d: &mut Driver<Rec>) -> Vec<usize> {
    let mut calls = Vec::new();
    while let Some((s, _, events)) = d.requests.first() {
        let (s, n, before) = (*s, events.len(), d.io.removes);
        d.response(d.io.now, s, 200, None, ok(n));
        calls.push(d.io.removes - before);
    }
    calls
}

#[test]
fn an_ack_takes_its_events_out_of_each_record_in_one_call() {
    let mut d = leader(true); // flushAt 10: records of 10
    for i in 0..25 {
        track(&mut d, &format!("E{i:02}"));
    }
    d.drive(d.io.now);
    assert_eq!(
        answer_all(&mut d),
        [3],
        "one request, records of 10, 10 and 5: a call each"
    );
    // Five events in a record of their own, then ten in the next tick's: one request, one
    // call per record.
    for i in 0..15 {
        track(&mut d, &format!("F{i:02}"));
        if i == 4 {
            d.drive(d.io.now);
        }
    }
    d.drive(d.io.now);
    assert_eq!(answer_all(&mut d), [2]);
    // Every event left its record once, and the store is empty.
    let removed =
        d.io.calls
            .iter()
            .filter(|c| matches!(c, Call::Remove(..)))
            .count();
    assert_eq!(removed, 40);
    assert!(d.io.store.is_empty(), "{:?}", d.io.records());
    assert_eq!(d.stats()[..4], [0.0, 0.0, 40.0, 0.0]);
}
