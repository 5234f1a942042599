//! The shard against a simulated upstream on a virtual clock: retries keep messageIds, permanent
//! failures become dead letters in the same step as the deletes, replay delivers once, a restart
//! loses nothing, duplicates are queued once, and Amplitude pauses one hot device alone.

mod common;

use batchwire_edge::Shard;
use common::*;
use serde_json::Value;

const V1: &str = r#"{"shards": 1, "sources": {"uk_live_src": {"destination": "up"}},
  "destinations": {"up": {"protocol": "v1-batch", "url": "http://upstream.test",
    "keySecret": "UP_KEY", "options": {"flushAt": 4, "flushIntervalMs": 100}}}}"#;

fn setup(key: &str) -> (batchwire_edge::EdgeConfig, Shard, Store) {
    let cfg = config(V1, &[("UP_KEY", key)]);
    let shard = Shard::new(cfg.destination_of_shard("up#0").unwrap(), 7).unwrap();
    (cfg, shard, Store::default())
}

fn events(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| track(i, &format!("anon-{}", i % 3)))
        .collect()
}

#[test]
fn server_errors_are_retried_with_the_same_message_ids() {
    let (cfg, mut shard, mut store) = setup("uk_live_up");
    let mut up = Upstream::v1("uk_live_up");
    up.faults
        .extend([Fault::Status(500), Fault::Status(503), Fault::Lost]);
    let mut now = 1_000_000;
    post(&cfg, &mut shard, &mut store, "uk_live_src", &events(4), now);
    assert_eq!(store.queued().len(), 4, "stored before the answer");
    let log = run(&mut shard, &mut store, &mut up, &mut now, 10_000_000);
    assert_eq!(up.requests.len(), 4, "three failures, then the delivery");
    assert!(up.requests.iter().all(|(_, ids)| ids == &up.requests[0].1));
    assert!(up.same_bytes_per_message_id());
    assert_eq!(up.stored.len(), 4);
    assert!(up.stored.values().all(|&n| n == 1));
    assert!(
        store.0.is_empty(),
        "delivered entries deleted: {:?}",
        store.0.keys()
    );
    assert!(log.iter().any(|l| l["kind"] == "retrying"));
    let stats = shard.stats();
    assert_eq!(
        (stats["delivered"].as_u64(), stats["deadLetters"].as_u64()),
        (Some(4), Some(0))
    );
}

#[test]
fn unauthorized_dead_letters_every_event_and_empties_the_queue() {
    let (cfg, mut shard, mut store) = setup("uk_live_wrong");
    let mut up = Upstream::v1("uk_live_up");
    let mut now = 1_000_000;
    post(&cfg, &mut shard, &mut store, "uk_live_src", &events(6), now);
    run(&mut shard, &mut store, &mut up, &mut now, 10_000_000);
    assert!(store.queued().is_empty(), "{:?}", store.queued());
    let dead = store.dead();
    assert_eq!(dead.len(), 6);
    for (i, k) in (0..6).map(|i| (i, format!("d:m-{i}"))) {
        let d = store.json(&k);
        assert_eq!(d["messageId"], format!("m-{i}"));
        assert_eq!(d["code"], "E_HTTP");
        assert!(d["reason"].as_str().unwrap().contains("401"), "{d}");
        assert_eq!(
            d["event"]["messageId"],
            format!("m-{i}"),
            "the event as sent"
        );
        assert_eq!(d["event"]["properties"]["i"], i);
    }
    assert!(up.stored.is_empty());
    assert_eq!(shard.stats()["deadLetters"], 6);
}

#[test]
fn replay_after_the_key_is_fixed_delivers_each_once() {
    let (cfg, mut shard, mut store) = setup("uk_live_wrong");
    let mut up = Upstream::v1("uk_live_up");
    let mut now = 1_000_000;
    post(&cfg, &mut shard, &mut store, "uk_live_src", &events(5), now);
    run(&mut shard, &mut store, &mut up, &mut now, 10_000_000);
    assert_eq!(store.dead().len(), 5);

    // The secret is fixed and the Worker redeployed: the Durable Object starts again.
    let fixed = config(V1, &[("UP_KEY", "uk_live_up")]);
    now += 60_000;
    let mut shard = store.restart(&fixed, "up#0", 8, now);
    assert_eq!(shard.stats()["deadLetters"], 5);
    for k in store.dead() {
        let v = store.0[&k].clone();
        let w = shard.replay(&k, &v, now).unwrap();
        store.apply(&w);
        // A second replay of the same letter (a double click) queues nothing more.
        let again = shard.replay(&k, &v, now).unwrap();
        assert_eq!(again.puts, w.puts, "the same entry, not a second one");
    }
    assert!(store.dead().is_empty());
    assert_eq!(store.queued().len(), 5);
    let until = now + 10_000_000;
    run(&mut shard, &mut store, &mut up, &mut now, until);
    let ids: Vec<_> = up.stored.keys().cloned().collect();
    assert_eq!(ids, (0..5).map(|i| format!("m-{i}")).collect::<Vec<_>>());
    assert!(up.stored.values().all(|&n| n == 1));
    assert!(store.0.is_empty());
    assert_eq!(shard.stats()["deadLetters"], 0);
}

#[test]
fn a_restart_resumes_without_loss() {
    let (cfg, mut shard, mut store) = setup("uk_live_up");
    let mut up = Upstream::v1("uk_live_up");
    let mut now = 1_000_000;
    let all = events(10);
    post(&cfg, &mut shard, &mut store, "uk_live_src", &all[..4], now);
    // The first request is answered; the second leaves and the object dies before its answer.
    let step = shard.poll(now + 100);
    store.apply(&step.writes);
    assert_eq!(step.sends.len(), 1);
    let s = &step.sends[0];
    let (st, ra, b) = up.answer(now + 105, s).unwrap();
    shard.response(s.id, st, ra, None, b, now + 105);
    post(
        &cfg,
        &mut shard,
        &mut store,
        "uk_live_src",
        &all[4..],
        now + 106,
    );
    let step = shard.poll(now + 110);
    store.apply(&step.writes);
    assert_eq!(store.queued().len(), 6, "the 4 delivered are deleted");
    assert_eq!(step.sends.len(), 1);
    up.answer(now + 115, &step.sends[0]); // stored upstream, the answer lost with the object
    drop(shard);

    now += 5_000;
    let mut shard = store.restart(&cfg, "up#0", 9, now);
    assert_eq!(shard.stats()["queued"], 6);
    // New events after the restart sort after the restored ones.
    post(
        &cfg,
        &mut shard,
        &mut store,
        "uk_live_src",
        &[track(10, "anon-x")],
        now,
    );
    let keys = store.queued();
    assert_eq!(keys.len(), 7);
    assert_eq!(store.json(keys.last().unwrap())["messageId"], "m-10");
    let until = now + 10_000_000;
    run(&mut shard, &mut store, &mut up, &mut now, until);
    assert_eq!(up.stored.len(), 11, "every event delivered");
    // Those whose answer was lost were sent again (the server de-duplicates them); no other.
    let twice: Vec<_> = up
        .stored
        .iter()
        .filter(|(_, &n)| n > 1)
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(twice, (4..10).map(|i| format!("m-{i}")).collect::<Vec<_>>());
    assert!(up.same_bytes_per_message_id());
    assert!(store.0.is_empty());
}

#[test]
fn a_duplicate_append_is_not_queued_twice() {
    let (cfg, mut shard, mut store) = setup("uk_live_up");
    let mut up = Upstream::v1("uk_live_up");
    let mut now = 1_000_000;
    post(&cfg, &mut shard, &mut store, "uk_live_src", &events(3), now);
    // The client did not hear the answer and posts the same batch again.
    let body = serde_json::json!({ "batch": events(3) }).to_string();
    let r = batchwire_edge::ingest(
        &cfg,
        b"uk_live_src",
        batchwire_edge::Form::Batch,
        body.as_bytes(),
        now,
    );
    let before = store.clone();
    let w = shard.append(&r.parts[0].events, now + 50).unwrap();
    // Written again under the same keys and values (in case the first write failed): not new.
    let keys: Vec<_> = w.puts.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys, before.queued());
    store.apply(&w);
    assert_eq!(store.0, before.0, "nothing changed, enqueuedAt included");
    run(&mut shard, &mut store, &mut up, &mut now, 10_000_000);
    assert!(up.received.values().all(|v| v.len() == 1), "each sent once");
    assert_eq!(up.stored.len(), 3);
}

#[test]
fn a_rejected_event_is_dead_lettered_in_the_step_that_deletes_the_rest() {
    let (cfg, mut shard, mut store) = setup("uk_live_up");
    let mut up = Upstream::v1("uk_live_up");
    up.reject.push("m-2".into());
    let now = 1_000_000;
    post(&cfg, &mut shard, &mut store, "uk_live_src", &events(4), now);
    let queued = store.queued();
    let step = shard.poll(now);
    let s = &step.sends[0];
    let (st, ra, b) = up.answer(now + 5, s).unwrap();
    shard.response(s.id, st, ra, None, b, now + 5);
    let step = shard.poll(now + 6);
    let mut deletes = step.writes.deletes.clone();
    deletes.sort();
    assert_eq!(deletes, queued, "all four leave the queue in one step");
    let puts: Vec<_> = step.writes.puts.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(puts, ["d:m-2"]);
    store.apply(&step.writes);
    let d = store.json("d:m-2");
    assert_eq!(d["code"], "E_REJECTED");
    assert!(d["reason"]
        .as_str()
        .unwrap()
        .contains("event name too long"));
}

#[test]
fn the_give_up_horizon_dead_letters_instead_of_dropping() {
    let text = V1.replace(
        "\"flushIntervalMs\": 100",
        "\"flushIntervalMs\": 100, \"giveUpAfterMs\": 60000",
    );
    let cfg = config(&text, &[("UP_KEY", "uk_live_up")]);
    let mut shard = Shard::new(cfg.destination_of_shard("up#0").unwrap(), 1).unwrap();
    let mut store = Store::default();
    let mut up = Upstream::v1("uk_live_up");
    up.faults
        .extend(std::iter::repeat_n(Fault::Status(503), 1000));
    let mut now = 1_000_000;
    post(&cfg, &mut shard, &mut store, "uk_live_src", &events(3), now);
    run(&mut shard, &mut store, &mut up, &mut now, 10_000_000);
    assert!(store.queued().is_empty());
    assert_eq!(store.dead().len(), 3);
    assert_eq!(store.json("d:m-0")["code"], "E_RETRY_HORIZON");
}

#[test]
fn amplitude_batch_in_the_eu_zone_posts_to_the_eu_batch_endpoint() {
    let text = r#"{"shards": 1, "sources": {"uk_live_amp": {"destination": "amp"}},
      "destinations": {"amp": {"protocol": "amplitude-batch", "serverZone": "EU",
        "keySecret": "AMP_KEY", "options": {"flushAt": 5, "flushIntervalMs": 100}}}}"#;
    let cfg = config(text, &[("AMP_KEY", "amp-api-key")]);
    let mut shard = Shard::new(cfg.destination_of_shard("amp#0").unwrap(), 5).unwrap();
    let mut store = Store::default();
    let mut up = Upstream::amplitude("amp-api-key");
    let mut now = 1_000_000;
    let evs: Vec<Value> = (0..12)
        .map(|i| track(i, &format!("device-{}", i % 4)))
        .collect();
    post(&cfg, &mut shard, &mut store, "uk_live_amp", &evs, now);
    run(&mut shard, &mut store, &mut up, &mut now, 10_000_000);
    assert!(!up.urls.is_empty());
    assert!(
        up.urls
            .iter()
            .all(|u| u == "https://api.eu.amplitude.com/batch"),
        "{:?}",
        up.urls
    );
    assert_eq!(up.stored.len(), 12);
    assert!(up.stored.values().all(|&n| n == 1));
    assert!(store.0.is_empty(), "delivered entries deleted");
}

#[test]
fn amplitude_http_v2_pauses_one_hot_device_alone() {
    let text = r#"{"shards": 1, "sources": {"uk_live_amp": {"destination": "amp"}},
      "destinations": {"amp": {"protocol": "amplitude-http-v2", "url": "http://amp.test",
        "keySecret": "AMP_KEY", "options": {"flushAt": 10, "flushIntervalMs": 100}}}}"#;
    let cfg = config(text, &[("AMP_KEY", "amp-api-key")]);
    let mut shard = Shard::new(cfg.destination_of_shard("amp#0").unwrap(), 3).unwrap();
    let mut store = Store::default();
    let mut up = Upstream::amplitude("amp-api-key");
    let start = 1_000_000;
    up.throttle.insert("device-hot".into(), start + 1_000);
    let mut evs: Vec<Value> = (0..4).map(|i| track(i, "device-hot")).collect();
    evs.extend((4..8).map(|i| track(i, &format!("device-cold-{i}"))));
    let mut now = start;
    post(&cfg, &mut shard, &mut store, "uk_live_amp", &evs, now);
    let log = run(&mut shard, &mut store, &mut up, &mut now, start + 3_600_000);
    let paused: Vec<_> = log.iter().filter(|l| l["kind"] == "paused").collect();
    assert_eq!(paused.len(), 1, "{log:?}");
    assert_eq!(paused[0]["deviceId"], "device-hot");
    for i in 4..8 {
        let at = up.stored_at[&format!("m-{i}")];
        assert!(at < start + 1_000, "cold device {i} flowed at once ({at})");
    }
    for i in 0..4 {
        let at = up.stored_at[&format!("m-{i}")];
        assert!(
            at >= start + 30_000,
            "the hot device waited its pause ({at})"
        );
    }
    assert_eq!(up.stored.len(), 8);
    assert!(store.0.is_empty());
    assert!(up.requests.iter().all(|(_, ids)| !ids.is_empty()));
}

#[test]
fn an_unreadable_entry_and_an_evicted_event_become_dead_letters() {
    let text = V1.replace("\"flushAt\": 4", "\"flushAt\": 100, \"maxQueueEvents\": 3");
    let cfg = config(&text, &[("UP_KEY", "uk_live_up")]);
    let mut store = Store::default();
    store
        .0
        .insert("q:0000000000000000".into(), b"{not json".to_vec());
    let good = br#"{"messageId":"m-9","enqueuedAt":5,"event":{"type":"track","messageId":"m-9","anonymousId":"a","timestamp":"2026-12-03T10:00:00.000Z","event":"e"}}"#;
    store.0.insert("q:0000000000000001".into(), good.to_vec());
    let now = 1_000_000;
    let mut shard = store.restart(&cfg, "up#0", 1, now);
    assert!(shard.append(b"not a part", now).is_err());
    // The queue holds 3: the fourth event evicts the oldest, which is dead-lettered, not lost.
    post(&cfg, &mut shard, &mut store, "uk_live_src", &events(3), now);
    let step = shard.poll(now);
    store.apply(&step.writes);
    assert_eq!(store.dead(), ["d:m-9", "d:q:0000000000000000"]);
    let corrupt = store.json("d:q:0000000000000000");
    assert_eq!(
        (corrupt["code"].as_str(), corrupt["event"].as_str()),
        (Some("E_CORRUPT"), Some("{not json"))
    );
    assert_eq!(store.json("d:m-9")["code"], "E_EVICTED");
    assert_eq!(store.json("d:m-9")["event"]["messageId"], "m-9");
    assert_eq!(store.queued().len(), 3);
    assert_eq!(shard.stats()["deadLetters"], 2);
}
