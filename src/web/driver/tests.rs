//! The driver against a recording environment: every decision, no browser.

use super::*;
use crate::core::{Config, EventKind, Protocol};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Send(u64, bool, usize),
    Arm(Option<Millis>),
    /// record, messageId, share
    Put(String, String, bool),
    /// record, messageId
    Remove(String, String),
    Reload,
    Settled(Vec<String>, Vec<String>),
    AskFlush,
    Emit(Note),
    Resolve(u32),
    Release,
    Hold(Vec<String>, Millis),
}

#[derive(Default)]
struct Rec {
    now: Millis,
    calls: Vec<Call>,
    /// Bodies of requests, by transmit id.
    bodies: Vec<(u64, Vec<u8>)>,
    /// The store as the driver's puts and deletes leave it: record -> [(messageId, value)].
    store: std::collections::BTreeMap<String, Vec<(String, Vec<u8>)>>,
    /// Bytes the store writes: each value put, and at each [`Rec::commit`] what every record
    /// events were taken out of still holds (rewritten once per tick, as the store does); a
    /// record left empty is deleted, which writes nothing.
    written: usize,
    touched: std::collections::BTreeSet<String>,
    schedules: usize,
    /// Io::remove calls (each may take several events out of one record).
    removes: usize,
    /// How the store names this context's records (above 0): this prefix and the number.
    prefix: String,
    /// The store's numbers (below 0) for the records it loaded or was handed, as store.js
    /// gives them: one per key.
    names: Vec<String>,
}

impl Io for Rec {
    type Waiter = u32;
    fn send(&mut self, id: u64, _path: &str, body: &[u8], keepalive: bool) {
        self.calls.push(Call::Send(id, keepalive, body.len()));
        self.bodies.push((id, body.to_vec()));
    }
    fn arm(&mut self, delay_ms: Option<Millis>) {
        self.calls.push(Call::Arm(delay_ms));
    }
    fn schedule(&mut self) {
        self.schedules += 1;
    }
    /// Each event as its own Call::Put, in order.
    fn put(&mut self, record: Record, keys: &[u8], values: &[u8], ends: &[u32], share: bool) {
        let keys = std::str::from_utf8(keys).expect("messageIds are UTF-8");
        let keys: Vec<&str> = keys.split('\0').collect();
        assert_eq!(keys.len() + 1, ends.len(), "a value per messageId");
        assert!(!keys.is_empty(), "a put writes at least one event");
        assert_eq!(ends[0], 0, "the first value starts at 0");
        assert_eq!(
            *ends.last().unwrap() as usize,
            values.len(),
            "the values end where the last ends"
        );
        let record = self.name(record);
        for (i, key) in keys.into_iter().enumerate() {
            let value = &values[ends[i] as usize..ends[i + 1] as usize];
            self.calls
                .push(Call::Put(record.clone(), key.into(), share));
            let entries = self.store.entry(record.clone()).or_default();
            entries.push((key.into(), value.to_vec()));
            self.written += value.len();
        }
    }
    /// As the store does: the record rewritten without the events, or deleted once empty. Each
    /// event as its own Call::Remove, in order; `removes` counts the calls.
    fn remove(&mut self, record: Record, keys: &[u8], n: usize) {
        self.removes += 1;
        let record = &self.name(record);
        let keys = std::str::from_utf8(keys).expect("messageIds are UTF-8");
        assert_eq!(keys.split('\0').count(), n, "n is how many: {keys}");
        for key in keys.split('\0') {
            assert!(!key.is_empty(), "a messageId per event");
            self.calls.push(Call::Remove(record.into(), key.into()));
            if let Some(entries) = self.store.get_mut(record) {
                entries.retain(|(m, _)| m != key);
                if entries.is_empty() {
                    self.store.remove(record);
                }
                self.touched.insert(record.into());
            }
        }
    }
    fn reload(&mut self) {
        self.calls.push(Call::Reload);
    }
    fn settled(&mut self, delivered: &[String], failed: &[String]) {
        self.calls
            .push(Call::Settled(delivered.to_vec(), failed.to_vec()));
    }
    fn ask_flush(&mut self) {
        self.calls.push(Call::AskFlush);
    }
    fn emit(&mut self, note: Note) {
        self.calls.push(Call::Emit(note));
    }
    fn resolve(&mut self, waiter: u32) {
        self.calls.push(Call::Resolve(waiter));
    }
    fn release(&mut self) {
        self.calls.push(Call::Release);
    }
    fn hold(&mut self, message_ids: &[String], until: Millis) {
        self.calls.push(Call::Hold(message_ids.to_vec(), until));
    }
}

impl Rec {
    /// The key of record `r`, as the store names it.
    fn name(&self, r: Record) -> String {
        match usize::try_from(-i64::from(r) - 1) {
            Ok(i) => self.names[i].clone(),
            Err(_) => format!("{}{r}", self.prefix),
        }
    }
    /// The store's number for record `key` (loaded, or handed over).
    fn num(&mut self, key: &str) -> Record {
        let i = match self.names.iter().position(|n| n == key) {
            Some(i) => i,
            None => {
                self.names.push(key.into());
                self.names.len() - 1
            }
        };
        -(i as Record) - 1
    }
    /// The end of a tick: the records events were taken out of are rewritten.
    fn commit(&mut self) {
        for r in std::mem::take(&mut self.touched) {
            let left = self
                .store
                .get(&r)
                .map_or(0, |e| e.iter().map(|(_, v)| v.len()).sum());
            self.written += left;
        }
    }
    fn take(&mut self) -> Vec<Call> {
        std::mem::take(&mut self.calls)
    }
    /// Every stored event as the store loads it: (record, messageId, value).
    fn stored(&self) -> Vec<(String, String, Vec<u8>)> {
        let mut out = Vec::new();
        for (r, entries) in &self.store {
            for (m, v) in entries {
                out.push((r.clone(), m.clone(), v.clone()));
            }
        }
        out
    }
    /// The messageIds each record holds.
    fn records(&self) -> Vec<(String, Vec<String>)> {
        let ids = |e: &Vec<(String, Vec<u8>)>| e.iter().map(|(m, _)| m.clone()).collect();
        self.store
            .iter()
            .map(|(r, e)| (r.clone(), ids(e)))
            .collect()
    }
    fn sends(&self) -> Vec<u64> {
        let ids = self.calls.iter().filter_map(|c| match c {
            Call::Send(id, ..) => Some(*id),
            _ => None,
        });
        ids.collect()
    }
}

fn driver(durable: bool, seed: u64) -> Driver<Rec> {
    let config = Config {
        seed,
        flush_at: 10,
        ..Config::new(Protocol::V1Batch, "uk_live_t")
    };
    driver_with(config, durable)
}

/// A driver of `config` over a recording store that names its records by the config's seed.
fn driver_with(config: Config, durable: bool) -> Driver<Rec> {
    let io = Rec {
        now: 1_000,
        prefix: format!("b{}-", config.seed),
        ..Rec::default()
    };
    Driver::new(Pipeline::new(config).unwrap(), io, durable)
}

/// `d` made the leader, its (empty) store loaded, and the calls so far forgotten.
fn led(mut d: Driver<Rec>) -> Driver<Rec> {
    d.lead(d.io.now);
    d.loaded(d.io.now);
    d.io.take();
    d
}

impl Driver<Rec> {
    /// [`Driver::restore`] of an event of record `record` as the store names it: numbered by
    /// the store first, as store.js does.
    fn restore_named(
        &mut self,
        now: Millis,
        record: &str,
        key: String,
        value: &[u8],
        from_store: bool,
        held: Millis,
    ) {
        let r = self.io.num(record);
        self.restore(now, r, key, value, from_store, held);
    }
}

fn leader(durable: bool) -> Driver<Rec> {
    led(driver(durable, 1))
}

fn track(d: &mut Driver<Rec>, name: &str) -> String {
    let input = EventInput {
        kind: EventKind::Track,
        event: Some(name.into()),
        anonymous_id: Some("anon-1".into()),
        properties: Some(r#"{"a":1}"#.into()),
        ..EventInput::default()
    };
    d.enqueue(d.io.now, input).unwrap()
}

const OK: &[u8] = br#"{"success":true,"accepted":1,"failed":0,"errors":[],"warnings":[]}"#;

#[test]
fn a_tick_of_tracks_is_one_drive_and_every_event_is_stored_then_deleted() {
    let mut d = leader(true);
    let ids: Vec<String> = (0..3)
        .map(|i| track(&mut d, &["E", &i.to_string()].concat()))
        .collect();
    assert_eq!(d.io.schedules, 1, "one drive per tick, however many calls");
    assert!(d.io.calls.is_empty(), "enqueue itself does no IO");
    d.drive(d.io.now);
    let calls = d.io.take();
    let Call::Put(record, ..) = &calls[0] else {
        panic!("{calls:?}")
    };
    let puts: Vec<_> = (0..3)
        .map(|i| Call::Put(record.clone(), ids[i].clone(), false))
        .collect();
    assert_eq!(calls[..3], puts[..], "one record for the tick");
    assert_eq!(
        calls[3],
        Call::Arm(Some(10_000)),
        "the flush interval, one timer"
    );

    d.flush(d.io.now, 7);
    let sends = d.io.sends();
    assert_eq!(sends.len(), 1);
    d.io.take();
    let ok3 = br#"{"success":true,"accepted":3,"failed":0,"errors":[],"warnings":[]}"#;
    d.response(d.io.now, sends[0], 200, None, ok3.to_vec());
    let calls = d.io.take();
    for m in &ids {
        let remove = Call::Remove(record.clone(), m.clone());
        assert!(calls.contains(&remove), "{m} not removed: {calls:?}");
    }
    assert!(calls.contains(&Call::Emit(Note::Delivered(ids.clone()))));
    assert!(
        calls.contains(&Call::Resolve(7)),
        "flush resolved after the ack"
    );
    assert!(d.io.store.is_empty());
    assert_eq!(d.stats()[..4], [0.0, 0.0, 3.0, 0.0]);
}

#[test]
fn a_flush_waits_only_for_events_queued_before_it() {
    let mut d = leader(false);
    track(&mut d, "Before");
    d.flush(d.io.now, 1);
    track(&mut d, "After");
    let sends = d.io.sends();
    assert_eq!(sends.len(), 1);
    d.io.take();
    d.response(d.io.now, sends[0], 200, None, OK.to_vec());
    assert!(
        d.io.take().contains(&Call::Resolve(1)),
        "the later event must not hold the flush"
    );
    d.flush(d.io.now, 2);
    assert!(
        !d.io.calls.contains(&Call::Resolve(2)),
        "one event still waits"
    );
}

#[test]
fn a_network_failure_retries_with_the_same_bytes() {
    let mut d = leader(true);
    track(&mut d, "Flaky");
    d.flush(d.io.now, 1);
    let first = d.io.bodies[0].clone();
    d.failure(d.io.now, first.0);
    assert!(
        !d.io.take().iter().any(|c| matches!(c, Call::Remove(..))),
        "kept for the retry"
    );
    d.io.now += 400_000; // past any backoff
    d.timer(d.io.now);
    let (_, again) = d.io.bodies.last().unwrap().clone();
    assert_eq!(again, first.1, "same body, same messageId");
}

#[test]
fn memory_only_clients_store_nothing() {
    let mut d = leader(false);
    track(&mut d, "Ephemeral");
    d.drive(d.io.now);
    assert!(!d.io.calls.iter().any(|c| matches!(c, Call::Put(..))));
    assert_eq!(d.stats()[7], 0.0);
}

#[test]
fn unload_sends_within_the_keepalive_budget_left() {
    let mut d = leader(true);
    // ~20 KiB events: three fit one 64 KiB budget.
    let blob = "x".repeat(20 * 1024);
    for _ in 0..6 {
        let input = EventInput {
            event: Some("Big".into()),
            anonymous_id: Some("anon-1".into()),
            properties: Some(["{\"b\":\"", &blob, "\"}"].concat()),
            ..EventInput::default()
        };
        d.enqueue(d.io.now, input).unwrap();
    }
    d.drive(d.io.now);
    d.io.take();
    d.hidden(d.io.now);
    let first: Vec<(bool, usize)> =
        d.io.calls
            .iter()
            .filter_map(|c| match c {
                Call::Send(_, k, n) => Some((*k, *n)),
                _ => None,
            })
            .collect();
    assert!(
        !first.is_empty() && first.iter().all(|s| s.0),
        "unload sends use keepalive: {first:?}"
    );
    let used: usize = first.iter().map(|s| s.1).sum();
    assert!(used <= KEEPALIVE_BUDGET, "{used} bytes over the budget");
    d.io.take();
    // Hidden again while those are in flight: only what is left of the budget.
    d.hidden(d.io.now);
    let more: usize =
        d.io.calls
            .iter()
            .filter_map(|c| match c {
                Call::Send(_, true, n) => Some(*n),
                _ => None,
            })
            .sum();
    assert!(
        used + more <= KEEPALIVE_BUDGET,
        "{used} + {more} over the shared budget"
    );
    assert!(
        d.stats()[0] > 0.0,
        "what did not fit stays queued (and stored)"
    );
}

#[test]
fn a_follower_hands_its_events_over_and_settles_them_from_the_leader() {
    let mut f = driver(true, 2);
    let mut l = driver(true, 3);
    l.lead(l.io.now);
    l.loaded(l.io.now);
    let m = track(&mut f, "From a follower");
    f.drive(f.io.now);
    assert!(
        f.io.calls
            .iter()
            .any(|c| matches!(c, Call::Put(_, k, true) if *k == m)),
        "shared once committed"
    );
    assert!(f.io.sends().is_empty(), "a follower never sends");
    f.flush(f.io.now, 9);
    assert!(f.io.calls.contains(&Call::AskFlush));

    // The leader receives the committed record and sends it at once (the follower waits).
    let (record, key, value) = f.io.stored()[0].clone();
    l.restore_named(l.io.now, &record, key, &value, false, 0);
    l.flush_now(l.io.now);
    let sends = l.io.sends();
    assert_eq!(sends.len(), 1);
    l.io.take();
    l.response(l.io.now, sends[0], 200, None, OK.to_vec());
    let settled = l.io.calls.iter().find_map(|c| match c {
        Call::Settled(d, f) => Some((d.clone(), f.clone())),
        _ => None,
    });
    let (delivered, failed) = settled.expect("the leader tells the followers");
    assert_eq!(delivered, vec![m.clone()]);

    f.io.take();
    assert!(failed.is_empty());
    for m in delivered.clone() {
        f.settled(m, String::new(), String::new());
    }
    f.drive(f.io.now);
    let calls = f.io.take();
    assert!(calls.contains(&Call::Emit(Note::Delivered(vec![m.clone()]))));
    assert!(
        calls.contains(&Call::Resolve(9)),
        "the follower's flush resolves"
    );
    assert_eq!(f.stats()[..3], [0.0, 0.0, 1.0]);
    // Told twice (a late message): nothing happens twice.
    f.settled(delivered[0].clone(), String::new(), String::new());
    f.drive(f.io.now);
    assert!(!f
        .io
        .take()
        .iter()
        .any(|c| matches!(c, Call::Emit(_) | Call::Resolve(_))));
    // A failure the leader reports reaches the follower's listeners with its code.
    let m2 = track(&mut f, "Rejected by the server");
    f.settled(
        m2.clone(),
        "E_REJECTED".into(),
        "event name too long".into(),
    );
    let failure = Note::Failed(m2, "E_REJECTED".into(), "event name too long".into());
    assert!(f.io.take().contains(&Call::Emit(failure)));
    assert_eq!(f.stats()[3], 1.0);
}

#[test]
fn a_leader_tells_the_followers_of_what_it_restored_not_of_its_own_events() {
    let mut f = driver(true, 2);
    let mut l = driver(true, 3);
    l.lead(l.io.now);
    l.loaded(l.io.now);
    let theirs = track(&mut f, "A follower's");
    f.drive(f.io.now);
    let own = track(&mut l, "The leader's");
    l.drive(l.io.now);
    let (record, key, value) = f.io.stored()[0].clone();
    l.restore_named(l.io.now, &record, key, &value, false, 0);
    l.flush_now(l.io.now);
    let sends = l.io.sends();
    assert_eq!(sends.len(), 1, "both in one request");
    l.io.take();
    let both = br#"{"success":true,"accepted":2,"failed":0,"errors":[],"warnings":[]}"#;
    l.response(l.io.now, sends[0], 200, None, both.to_vec());
    let calls = l.io.take();
    assert!(
        calls.contains(&Call::Emit(Note::Delivered(vec![
            own.clone(),
            theirs.clone()
        ]))),
        "{calls:?}"
    );
    // Only the follower's event is posted: nobody else waits for the leader's own.
    let told: Vec<_> = calls
        .iter()
        .filter(|c| matches!(c, Call::Settled(..)))
        .collect();
    assert_eq!(told, [&Call::Settled(vec![theirs], vec![])]);
}

#[test]
fn a_follower_that_becomes_leader_sends_its_own_and_the_stored_events_once() {
    let mut f = driver(true, 4);
    let own = track(&mut f, "Own");
    f.drive(f.io.now);
    // Another tab's record, left in the store by a leader that closed.
    let mut other = driver(true, 5);
    let theirs = track(&mut other, "Theirs");
    other.drive(other.io.now);
    f.lead(f.io.now);
    for (r, k, v) in other.io.stored().into_iter().chain(f.io.stored()) {
        f.restore_named(f.io.now, &r, k, &v, true, 0); // its own record is in the store too: de-duplicated
    }
    f.loaded(f.io.now);
    f.flush(f.io.now, 1);
    assert_eq!(f.io.sends().len(), 1);
    let body = String::from_utf8(f.io.bodies[0].1.clone()).unwrap();
    assert_eq!(body.matches(&own).count(), 1, "{body}");
    assert_eq!(body.matches(&theirs).count(), 1, "{body}");
}

#[test]
fn a_flush_asked_before_the_load_covers_the_stored_queue() {
    let mut old = driver(true, 8);
    track(&mut old, "Left behind");
    old.drive(old.io.now);
    let mut d = driver(true, 9);
    track(&mut d, "Own, tracked as a follower");
    d.drive(d.io.now);
    d.flush(d.io.now, 1); // as a follower: reaches a leader that is going away, or nobody
    d.lead(d.io.now); // leading, its own flushed event leaves at once
    let own = d.io.sends();
    assert_eq!(own.len(), 1);
    for (r, k, v) in old.io.stored() {
        d.restore_named(d.io.now, &r, k, &v, true, 0);
    }
    d.loaded(d.io.now);
    d.response(d.io.now, own[0], 200, None, OK.to_vec());
    assert!(
        !d.io.calls.contains(&Call::Resolve(1)),
        "the flush also waits for the stored event"
    );
    let sends = d.io.sends();
    assert_eq!(
        sends.len(),
        2,
        "the stored event leaves now, not after the flush interval"
    );
    let body = String::from_utf8(d.io.bodies[1].1.clone()).unwrap();
    assert!(body.contains("Left behind"), "{body}");
    d.response(d.io.now, sends[1], 200, None, OK.to_vec());
    assert!(d.io.calls.contains(&Call::Resolve(1)));
}

#[test]
fn without_a_flush_nothing_leaves_before_the_flush_rules_say_so() {
    let mut old = driver(true, 10);
    track(&mut old, "Left behind");
    old.drive(old.io.now);
    let mut d = driver(true, 11);
    track(&mut d, "A click right after start");
    d.lead(d.io.now);
    for (r, k, v) in old.io.stored() {
        d.restore_named(d.io.now, &r, k, &v, true, 0);
    }
    d.loaded(d.io.now);
    assert!(
        d.io.sends().is_empty(),
        "sent before flushAt or the interval"
    );
    assert_eq!(
        d.io.calls.iter().rev().find(|c| matches!(c, Call::Arm(_))),
        Some(&Call::Arm(Some(10_000)))
    );
}

#[test]
fn a_waiting_follower_asks_a_new_leader_again() {
    let mut f = driver(true, 12);
    track(&mut f, "Waiting");
    f.flush(f.io.now, 1);
    f.io.take();
    f.leader_changed();
    assert_eq!(f.io.take(), vec![Call::AskFlush]);
    let mut idle = driver(true, 13);
    idle.leader_changed();
    assert!(idle.io.take().is_empty(), "nobody waits: nothing to ask");
}

#[test]
fn a_leader_sends_before_the_store_is_loaded_and_never_restores_what_it_settled_meanwhile() {
    let mut d = driver(true, 6);
    let m = track(&mut d, "Early");
    d.drive(d.io.now);
    let snapshot = d.io.stored(); // what a slow load of the store will return
    d.lead(d.io.now);
    d.flush(d.io.now, 1);
    let sends = d.io.sends();
    assert_eq!(
        sends.len(),
        1,
        "a page closed right after starting must not wait for the load"
    );
    d.response(d.io.now, sends[0], 200, None, OK.to_vec());
    assert!(d.io.calls.contains(&Call::Resolve(1)));
    d.io.take();
    let record = snapshot[0].0.clone();
    for (r, k, v) in snapshot {
        d.restore_named(d.io.now, &r, k, &v, true, 0);
    }
    d.loaded(d.io.now);
    assert!(
        d.io.sends().is_empty(),
        "{m} came back from the old snapshot and was sent again"
    );
    // Removed again: the snapshot may have been read before the first removal committed.
    assert!(d.io.calls.contains(&Call::Remove(record, m.clone())));
}

#[test]
fn a_record_the_pipeline_refuses_is_reported_and_removed() {
    let mut d = driver(true, 7);
    d.lead(d.io.now);
    let mut bad = vec![0u8; RECORD_HEADER];
    bad.extend_from_slice(b"{\"not\":\"an event\"}");
    // Records of the one-event format: keyed by their messageId.
    d.restore_named(d.io.now, "m-bad", "m-bad".into(), &bad, true, 0);
    d.restore_named(d.io.now, "m-short", "m-short".into(), b"xy", true, 0);
    d.drive(d.io.now);
    let calls = d.io.take();
    assert!(calls.contains(&Call::Remove("m-bad".into(), "m-bad".into())));
    assert!(calls.contains(&Call::Remove("m-short".into(), "m-short".into())));
    assert!(calls.iter().any(|c| matches!(c, Call::Emit(Note::Failed(m, code, _)) if m == "m-bad" && code == "E_INVALID_EVENT")));
}

#[test]
fn a_store_failure_warns_once_and_memory_carries_on() {
    let mut d = leader(true);
    assert!(d.store_failed(), "the first failure is reported");
    assert!(!d.store_failed(), "and only the first");
    track(&mut d, "After");
    d.drive(d.io.now);
    assert!(!d.io.calls.iter().any(|c| matches!(c, Call::Put(..))));
    assert_eq!(d.stats()[7], 0.0);
}

#[test]
fn shutdown_resolves_after_the_last_response_and_releases() {
    let mut d = leader(true);
    track(&mut d, "Last");
    d.shutdown(d.io.now, 5);
    let sends = d.io.sends();
    assert_eq!(sends.len(), 1, "what is queued leaves at once");
    assert!(!d.io.calls.contains(&Call::Release));
    d.response(d.io.now, sends[0], 200, None, OK.to_vec());
    let calls = d.io.take();
    let release = calls
        .iter()
        .position(|c| *c == Call::Release)
        .expect("released");
    let resolve = calls
        .iter()
        .position(|c| *c == Call::Resolve(5))
        .expect("resolved");
    assert!(release < resolve);
    assert!(d.is_closing());
    assert!(!d.is_leader(), "another tab may lead now");
}

#[test]
fn a_stale_response_is_ignored() {
    let mut d = leader(false);
    track(&mut d, "Once");
    d.flush(d.io.now, 1);
    let id = d.io.sends()[0];
    d.response(d.io.now, id, 200, None, OK.to_vec());
    d.io.take();
    d.response(d.io.now, id, 200, None, OK.to_vec());
    d.failure(d.io.now, id);
    assert!(d.io.take().is_empty());
}

#[test]
fn leaving_sends_then_steps_down_until_led_again() {
    let mut d = leader(true);
    track(&mut d, "Before leaving");
    d.drive(d.io.now);
    d.io.take();
    d.leave(d.io.now);
    let unload = d.io.sends();
    assert_eq!(unload.len(), 1);
    assert!(d
        .io
        .calls
        .contains(&Call::Send(unload[0], true, d.io.bodies[0].1.len())));
    assert!(!d.is_leader(), "the lock can be let go");
    // Restored from the back/forward cache: the unload request's answer arrives.
    d.response(d.io.now, unload[0], 200, None, OK.to_vec());
    d.io.take();
    track(&mut d, "After coming back");
    d.flush(d.io.now, 1);
    assert!(d.io.sends().is_empty(), "not the leader: nothing leaves");
    d.lead(d.io.now);
    d.loaded(d.io.now);
    assert_eq!(d.io.sends().len(), 1, "leading again, it sends what waited");
}

#[test]
fn leaving_holds_back_every_event_still_in_flight_for_the_next_leader() {
    let mut d = leader(true);
    let first = track(&mut d, "In flight");
    d.flush(d.io.now, 1); // its request leaves now and gets no answer before the page is left
    assert_eq!(d.io.sends().len(), 1);
    let queued = track(&mut d, "Queued");
    d.drive(d.io.now);
    d.io.take();
    d.io.now = 5_000;
    d.leave(d.io.now);
    let calls = d.io.take();
    let holds: Vec<_> = calls
        .iter()
        .filter(|c| matches!(c, Call::Hold(..)))
        .collect();
    assert_eq!(
        holds,
        [&Call::Hold(
            vec![first, queued],
            5_000 + LEFT_IN_FLIGHT_HOLD_MS
        )],
        "the in-flight request's event and the one the unload send just took"
    );

    // Nothing in flight when leaving: nothing to hold.
    let mut d = leader(true);
    d.leave(d.io.now);
    assert!(!d.io.calls.iter().any(|c| matches!(c, Call::Hold(..))));
    // A follower sends nothing, so it holds nothing.
    let mut f = driver(true, 3);
    track(&mut f, "Follower's");
    f.drive(f.io.now);
    f.leave(f.io.now);
    assert!(!f.io.calls.iter().any(|c| matches!(c, Call::Hold(..))));
}

#[test]
fn an_amplitude_throttle_warns_which_identity_waits_and_until_when() {
    let config = Config {
        seed: 3,
        ..Config::new(Protocol::AmplitudeHttpV2, "amp_key_t")
    };
    let io = Rec {
        now: 1_000,
        ..Rec::default()
    };
    let mut d = Driver::new(Pipeline::new(config).unwrap(), io, false);
    d.lead(d.io.now);
    d.loaded(d.io.now);
    let input = EventInput {
        kind: EventKind::Track,
        event: Some("Clicked".into()),
        user_id: Some("user-12345".into()),
        anonymous_id: Some("device-12345".into()),
        ..EventInput::default()
    };
    d.enqueue(d.io.now, input).unwrap();
    d.flush(d.io.now, 1);
    let (id, _) = d.io.bodies[0].clone();
    d.io.take();
    let body = br#"{"code":429,"error":"Too many requests for some devices and users","eps_threshold":30,"throttled_devices":{},"throttled_users":{"user-12345":31},"throttled_events":[0]}"#;
    d.response(d.io.now, id, 429, None, body.to_vec());
    let message =
        d.io.take()
            .into_iter()
            .find_map(|c| match c {
                Call::Emit(Note::Warning("W_IDENTITY_PAUSED", m, None)) => Some(m),
                _ => None,
            })
            .expect("a W_IDENTITY_PAUSED warning");
    let until = message
        .strip_prefix("user user-12345 is throttled; its events wait until ")
        .unwrap_or_else(|| panic!("unexpected message: {message}"));
    let until: u64 = until.parse().expect("epoch ms");
    assert!(
        until > 1_000,
        "the pause ends after now (1000), got {until}"
    );
}

/// A /v1-batch answer accepting `accepted` events.
fn ok(accepted: usize) -> Vec<u8> {
    let text = r#"{"success":true,"accepted":N,"failed":0,"errors":[],"warnings":[]}"#;
    text.replace('N', &accepted.to_string()).into_bytes()
}

mod burst;
mod records;
