//! The store's records: which record each put lands in, events taken out of their records
//! as they settle, records adopted from the store and from followers, and the hold. `Rec::store`
//! is the store as the puts and removals leave it (a record emptied is deleted, as the store
//! does).

use super::*;

/// A durable leader whose batches leave at `flush_at` events and carry `per_request` at most
/// (by a byte limit that `track_big`'s events fill).
fn leader_at(flush_at: usize, per_request: usize, seed: u64) -> Driver<Rec> {
    let mut probe = leader(false);
    track_big(&mut probe, "E0");
    probe.flush(probe.io.now, 0);
    let one = probe.io.bodies[0].1.len();
    let config = Config {
        seed,
        flush_at,
        // Each further event adds its bytes and a comma; names differ by a few bytes.
        max_batch_bytes: one + (per_request - 1) * (one - 5) + 10,
        max_in_flight: 4,
        ..Config::new(Protocol::V1Batch, "uk_live_t")
    };
    led(driver_with(config, true))
}

/// An event of about 1 KiB (a request carries 1,024 bytes at least).
fn track_big(d: &mut Driver<Rec>, name: &str) -> String {
    let input = EventInput {
        kind: EventKind::Track,
        event: Some(name.into()),
        anonymous_id: Some("anon-1".into()),
        properties: Some(["{\"pad\":\"", &"x".repeat(1_100), "\"}"].concat()),
        ..EventInput::default()
    };
    d.enqueue(d.io.now, input).unwrap()
}

/// A value as a driver stores it, for an event this pipeline accepts.
fn stored_value(seed: u64, name: &str) -> (String, Vec<u8>) {
    let mut other = driver(true, seed);
    let m = track(&mut other, name);
    other.drive(other.io.now);
    let (_, key, value) = other.io.stored().remove(0);
    assert_eq!(key, m);
    (key, value)
}

/// The last timer the driver armed.
fn armed(d: &Driver<Rec>) -> Option<&Call> {
    d.io.calls.iter().rev().find(|c| matches!(c, Call::Arm(_)))
}

#[test]
fn a_drive_is_stored_in_records_of_flush_at_events_and_settled_events_are_taken_out() {
    let mut d = leader_at(2, 2, 20);
    let ids: Vec<String> = (0..3)
        .map(|i| track_big(&mut d, &format!("E{i}")))
        .collect();
    d.drive(d.io.now);
    let records = d.io.records();
    assert_eq!(records.len(), 2, "a record per flushAt (2): {records:?}");
    let (first, held) = records.iter().find(|(_, h)| h.len() == 2).unwrap().clone();
    assert_eq!(held, ids[..2]);
    let (record, held) = records.iter().find(|(r, _)| *r != first).unwrap().clone();
    assert_eq!(held, ids[2..]);
    // The first two leave together (flushAt 2); the third waits.
    let sends = d.io.sends();
    assert_eq!(sends.len(), 1);
    d.io.take();
    d.response(d.io.now, sends[0], 200, None, ok(2));
    let removed: Vec<_> = ids[..2]
        .iter()
        .map(|m| Call::Remove(first.clone(), m.clone()))
        .collect();
    let calls = d.io.take();
    assert_eq!(
        calls
            .iter()
            .filter(|c| matches!(c, Call::Remove(..)))
            .collect::<Vec<_>>(),
        removed.iter().collect::<Vec<_>>(),
        "each delivered event taken out of the record that holds it"
    );
    assert_eq!(d.io.records(), [(record.clone(), vec![ids[2].clone()])]);
    // The next drive's events make a record of their own.
    let later = track_big(&mut d, "E9");
    d.drive(d.io.now);
    let records = d.io.records();
    assert_eq!(records.len(), 2, "{records:?}");
    let (other, _) = records.iter().find(|(r, _)| *r != record).unwrap();
    let theirs = &records.iter().find(|(r, _)| r == other).unwrap().1;
    assert_eq!(*theirs, vec![later.clone()]);
    // With it, two are queued: they leave together, and each leaves its own record.
    let sends = d.io.sends();
    assert_eq!(sends.len(), 1);
    d.io.take();
    d.response(d.io.now, sends[0], 200, None, ok(2));
    let calls = d.io.take();
    assert!(calls.contains(&Call::Remove(record, ids[2].clone())));
    assert!(calls.contains(&Call::Remove(other.clone(), later)));
    assert!(d.io.store.is_empty(), "{:?}", d.io.records());
}

#[test]
fn a_messageid_queued_twice_is_stored_once() {
    let mut d = leader(true);
    let input = || EventInput {
        kind: EventKind::Track,
        event: Some("Twice".into()),
        message_id: Some("m-twice".into()),
        anonymous_id: Some("anon-1".into()),
        ..EventInput::default()
    };
    d.enqueue(d.io.now, input()).unwrap();
    d.enqueue(d.io.now, input()).unwrap();
    d.drive(d.io.now);
    assert_eq!(d.io.stored().len(), 1, "{:?}", d.io.calls);
    d.flush(d.io.now, 1);
    d.response(d.io.now, d.io.sends()[0], 200, None, OK.to_vec());
    assert!(d.io.store.is_empty(), "nothing left behind");
}

#[test]
fn a_follower_shares_its_record_and_the_leader_takes_its_events_out() {
    let mut f = driver(true, 22);
    let mine = [track_big(&mut f, "F0"), track_big(&mut f, "F1")];
    f.drive(f.io.now);
    let records = f.io.records();
    assert_eq!(records.len(), 1);
    let record = records[0].0.clone();
    let puts: Vec<_> = mine
        .iter()
        .map(|m| Call::Put(record.clone(), m.clone(), true))
        .collect();
    assert_eq!(f.io.take()[..2], puts[..], "one record, to be shared");
    // The leader, one event a request, shares the follower's store (one IndexedDB).
    let mut l = leader_at(1, 1, 23);
    l.io.store = f.io.store.clone();
    for (r, k, v) in f.io.stored() {
        l.restore_named(l.io.now, &r, k, &v, false, 0);
    }
    l.drive(l.io.now);
    let sends = l.io.sends();
    assert_eq!(sends.len(), 2);
    l.io.take();
    l.response(l.io.now, sends[0], 200, None, ok(1));
    let first = l.io.bodies[0].1.clone();
    let (done, left) = if String::from_utf8_lossy(&first).contains(&mine[0]) {
        (&mine[0], &mine[1])
    } else {
        (&mine[1], &mine[0])
    };
    assert_eq!(
        l.io.take()
            .into_iter()
            .filter(|c| matches!(c, Call::Put(..) | Call::Remove(..)))
            .collect::<Vec<_>>(),
        [Call::Remove(record.clone(), done.clone())],
        "the leader takes the follower's event out of the follower's record"
    );
    assert_eq!(l.io.records(), [(record.clone(), vec![left.clone()])]);
    l.response(l.io.now, sends[1], 200, None, ok(1));
    assert!(l.io.store.is_empty());
    // The follower hears, and only forgets: the record is the leader's to update.
    for m in &mine {
        f.settled(m.clone(), String::new(), String::new());
    }
    f.drive(f.io.now);
    assert!(
        !f.io
            .calls
            .iter()
            .any(|c| matches!(c, Call::Put(..) | Call::Remove(..))),
        "{:?}",
        f.io.calls
    );
}

#[test]
fn records_loaded_from_the_store_keep_their_key_and_lose_what_is_not_ours() {
    let (a, value) = stored_value(24, "Left behind");
    let (b, legacy) = stored_value(25, "Left by an earlier release");
    let mut d = driver(true, 26);
    d.lead(d.io.now);
    // A record of the current format with one event of ours and one that is not, and a record
    // of the one-event format (keyed by its messageId).
    d.io.store.insert(
        "b-old".into(),
        vec![(a.clone(), value), ("m-junk".into(), b"xy".to_vec())],
    );
    d.io.store.insert(b.clone(), vec![(b.clone(), legacy)]);
    for (r, k, v) in d.io.stored() {
        d.restore_named(d.io.now, &r, k, &v, true, 0);
    }
    d.loaded(d.io.now);
    assert!(d
        .io
        .calls
        .contains(&Call::Remove("b-old".into(), "m-junk".into())));
    let mut want = vec![
        ("b-old".to_string(), vec![a.clone()]),
        (b.clone(), vec![b.clone()]),
    ];
    want.sort();
    assert_eq!(d.io.records(), want);
    d.flush(d.io.now, 1);
    let sends = d.io.sends();
    assert_eq!(sends.len(), 1);
    d.response(d.io.now, sends[0], 200, None, ok(2));
    assert!(d.io.calls.contains(&Call::Remove("b-old".into(), a)));
    assert!(d.io.calls.contains(&Call::Remove(b.clone(), b)));
    assert!(d.io.store.is_empty());
}

/// A store left by a page whose request carried `a` when it was left (held until `until`), and
/// that had `b` queued; a leader restoring it.
fn left_in_flight(until: Millis) -> (Driver<Rec>, String, String) {
    let (a, va) = stored_value(27, "In flight when the page was left");
    let (b, vb) = stored_value(28, "Queued when the page was left");
    let mut d = driver(true, 29);
    d.io.store
        .insert("b-left".into(), vec![(a.clone(), va), (b.clone(), vb)]);
    d.lead(d.io.now);
    for (r, k, v) in d.io.stored() {
        let held = if k == a { until } else { 0 };
        d.restore_named(d.io.now, &r, k, &v, true, held);
    }
    d.loaded(d.io.now);
    (d, a, b)
}

#[test]
fn events_left_in_flight_are_held_until_the_timer_then_loaded_again_and_sent_at_once() {
    let until = 1_000 + 4_000;
    let (mut d, a, b) = left_in_flight(until);
    assert_eq!(
        armed(&d),
        Some(&Call::Arm(Some(4_000))),
        "the timer wakes the driver when the hold ends"
    );
    // A flush now sends only what is not held.
    d.flush(d.io.now, 1);
    let sends = d.io.sends();
    assert_eq!(sends.len(), 1);
    let body = String::from_utf8(d.io.bodies[0].1.clone()).unwrap();
    assert!(body.contains(&b) && !body.contains(&a), "{body}");
    d.io.take();
    d.response(d.io.now, sends[0], 200, None, ok(1));
    // The held event keeps its place in its record.
    assert_eq!(d.io.records(), [("b-left".to_string(), vec![a.clone()])]);
    // A timer that fires early releases nothing.
    d.io.now += 1_000;
    d.timer(d.io.now);
    assert!(!d.io.take().contains(&Call::Reload));
    // Its time: the store is loaded again (the JavaScript calls lead, restore, loaded), and
    // what it held leaves at once, not after the flush interval.
    d.io.now = until;
    d.timer(d.io.now);
    assert_eq!(d.io.take(), [Call::Reload]);
    d.lead(d.io.now);
    for (r, k, v) in d.io.stored() {
        d.restore_named(d.io.now, &r, k, &v, true, 0);
    }
    d.loaded(d.io.now);
    let sends = d.io.sends();
    assert_eq!(sends.len(), 1, "{:?}", d.io.calls);
    let body = String::from_utf8(d.io.bodies[1].1.clone()).unwrap();
    assert!(body.contains(&a), "{body}");
    d.response(d.io.now, sends[0], 200, None, ok(1));
    assert!(d.io.store.is_empty());
}

#[test]
fn a_page_left_during_the_hold_does_not_load_again_and_the_next_load_holds_afresh() {
    let until = 1_000 + 4_000;
    let (mut d, a, _) = left_in_flight(until);
    // Left (bfcache) before the hold ends: not leading, nothing is loaded or sent.
    d.leave(d.io.now);
    d.io.take();
    d.io.now = until;
    d.timer(d.io.now);
    assert!(!d.io.calls.contains(&Call::Reload));
    // Back, it leads again: the next load holds what is still held, and the timer ends it.
    d.lead(d.io.now);
    for (r, k, v) in d.io.stored() {
        let held = if k == a { until + 2_000 } else { 0 };
        d.restore_named(d.io.now, &r, k, &v, true, held);
    }
    d.loaded(d.io.now);
    assert_eq!(armed(&d), Some(&Call::Arm(Some(2_000))));
    assert!(
        d.io.store.contains_key("b-left"),
        "the held event stays stored"
    );
}

#[test]
fn abandon_reports_everything_left_as_e_shutdown_and_lets_shutdown_resolve() {
    let mut d = leader(true);
    let first = track(&mut d, "In flight");
    d.flush(d.io.now, 1);
    let sends = d.io.sends();
    assert_eq!(sends.len(), 1);
    let second = track(&mut d, "Queued");
    d.drive(d.io.now);
    d.io.take();
    d.abandon(d.io.now);
    let calls = d.io.take();
    for m in [&first, &second] {
        assert!(
            calls.iter().any(|c| matches!(c, Call::Emit(Note::Failed(id, code, _)) if id == m && code == "E_SHUTDOWN")),
            "{m} reported: {calls:?}"
        );
    }
    assert!(
        calls.contains(&Call::Resolve(1)),
        "the flush waiting for them resolves"
    );
    assert!(d.io.store.is_empty(), "taken out of the store");
    d.shutdown(d.io.now, 2);
    let calls = d.io.take();
    assert!(calls.contains(&Call::Release) && calls.contains(&Call::Resolve(2)));
    // The abandoned request's late answer changes nothing.
    d.response(d.io.now, sends[0], 200, None, OK.to_vec());
    assert!(d.io.take().is_empty());
}
