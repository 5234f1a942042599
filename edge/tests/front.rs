//! The front: both body forms with per-event errors, the key check, per-source mapping, and
//! routing by identity.

mod common;

use batchwire::core::{derive_id, Derived};
use batchwire_edge::front::{find_source, fnv1a64, key_matches, shard_of};
use batchwire_edge::stored::read_part;
use batchwire_edge::{ingest, EdgeConfig, Form, Ingested};
use common::config;
use serde_json::{json, Value};

const TWO: &str = r#"{"shards": 16, "sources": {
    "uk_live_billing": {"destination": "c", "mapping": {"events": {"rename": {"Account Upgraded": "plan_changed"}, "drop": ["Heartbeat"]},
                                                         "properties": {"rename": {"plan": "tier"}, "drop": ["card"]}}},
    "uk_live_stripe": {"destination": "c", "mapping": {"events": {"rename": {"subscription_tier_changed": "plan_changed"}}}}},
  "destinations": {"c": {"protocol": "v1-batch", "url": "http://c.test", "keySecret": "C_KEY"}}}"#;

fn cfg() -> EdgeConfig {
    config(TWO, &[("C_KEY", "uk_live_up")])
}

fn post(cfg: &EdgeConfig, key: &str, form: Form, body: &Value) -> (Ingested, Value) {
    let r = ingest(
        cfg,
        key.as_bytes(),
        form,
        body.to_string().as_bytes(),
        1_700_000_000_000,
    );
    let v = serde_json::from_str(&r.body).unwrap();
    (r, v)
}

/// Every event of every part, as encoded for the upstream.
fn sent(r: &Ingested) -> Vec<Value> {
    r.parts
        .iter()
        .flat_map(|p| read_part(&p.events).unwrap())
        .map(|e| serde_json::from_slice(&e.body).unwrap())
        .collect()
}

#[test]
fn a_batch_with_bad_events_answers_them_in_errors_and_routes_the_rest() {
    let body = json!({"batch": [
        {"type": "track", "event": "Played", "messageId": "m-0", "anonymousId": "a-0"},
        {"type": "track", "messageId": "m-1", "anonymousId": "a-1"},
        "not an object",
        {"type": "track", "event": "x", "messageId": "m-3", "anonymousId": "a-3", "colour": 1},
        {"type": "track", "event": "y".repeat(201), "messageId": "m-4", "anonymousId": "a-4"},
        {"type": "identify", "userId": "u-5", "traits": {"plan": "pro"}, "messageId": "m-5"},
    ], "sentAt": "2026-12-03T10:00:00Z"});
    let (r, v) = post(&cfg(), "uk_live_billing", Form::Batch, &body);
    assert_eq!(r.status, 200);
    assert_eq!(
        (
            v["success"].as_bool(),
            v["accepted"].as_u64(),
            v["failed"].as_u64()
        ),
        (Some(false), Some(2), Some(4))
    );
    let errors = v["errors"].as_array().unwrap();
    let at: Vec<_> = errors
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["messageId"].clone()))
        .collect();
    assert_eq!(
        at,
        [
            (1, json!("m-1")),
            (2, Value::Null),
            (3, json!("m-3")),
            (4, json!("m-4"))
        ]
    );
    assert!(
        errors[0]["error"]
            .as_str()
            .unwrap()
            .contains("(field: event)"),
        "{}",
        errors[0]
    );
    assert_eq!(errors[1]["error"], "event must be a JSON object");
    assert!(errors[2]["error"]
        .as_str()
        .unwrap()
        .contains("unknown field `colour`"));
    assert!(errors[3]["error"]
        .as_str()
        .unwrap()
        .contains("the limit is 200"));
    let ids: Vec<_> = sent(&r).iter().map(|e| e["messageId"].clone()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&json!("m-0")) && ids.contains(&json!("m-5")));
    // The identify had no anonymousId: the engine derives one from its userId.
    let identify = sent(&r)
        .into_iter()
        .find(|e| e["messageId"] == "m-5")
        .unwrap();
    assert_eq!(
        identify["anonymousId"],
        derive_id(Derived::AnonymousId, b"u-5")
    );
}

#[test]
fn an_event_too_large_for_a_storage_value_is_refused_alone() {
    use batchwire_edge::front::MAX_EVENT_BYTES;
    let big = "x".repeat(MAX_EVENT_BYTES);
    let (r, v) = post(
        &cfg(),
        "uk_live_stripe",
        Form::Webhook,
        &json!([
            {"event": "big", "anonymousId": "a-1", "messageId": "m-big", "properties": {"blob": big}},
            {"event": "small", "anonymousId": "a-1", "messageId": "m-small"},
        ]),
    );
    assert_eq!(
        (v["accepted"].as_u64(), v["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(v["errors"][0]["messageId"], "m-big");
    assert!(v["errors"][0]["error"]
        .as_str()
        .unwrap()
        .contains("stores at most"));
    assert_eq!(sent(&r).len(), 1);
    let fits = "x".repeat(MAX_EVENT_BYTES - 200);
    let (_, v) = post(
        &cfg(),
        "uk_live_stripe",
        Form::Webhook,
        &json!(
        {"event": "e", "anonymousId": "a-1", "properties": {"blob": fits}}),
    );
    assert_eq!(v["accepted"], 1, "{v}");
}

#[test]
fn webhooks_take_one_event_or_an_array_and_derive_stable_ids() {
    let one = json!({"type": "track", "event": "subscription_tier_changed", "userId": "cus_1",
        "properties": {"tier": "gold"}});
    let (r, v) = post(&cfg(), "uk_live_stripe", Form::Webhook, &one);
    assert_eq!((r.status, v["accepted"].as_u64()), (200, Some(1)));
    let ev = &sent(&r)[0];
    let expected = derive_id(Derived::MessageId, one.to_string().as_bytes());
    assert_eq!(ev["messageId"], expected, "derived from the event's bytes");
    let (again, _) = post(&cfg(), "uk_live_stripe", Form::Webhook, &one);
    assert_eq!(
        sent(&again)[0]["messageId"],
        expected,
        "a re-posted webhook keeps its id"
    );

    let many =
        json!([one, {"type": "track", "event": "x", "userId": "cus_2", "messageId": "given"}, 7]);
    let (r, v) = post(&cfg(), "uk_live_stripe", Form::Webhook, &many);
    assert_eq!(
        (v["accepted"].as_u64(), v["failed"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(v["errors"][0]["index"], 2);
    let ids: Vec<_> = sent(&r)
        .iter()
        .map(|e| e["messageId"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.contains(&"given".to_string()) && ids.contains(&expected));
}

#[test]
fn malformed_bodies_are_refused_whole() {
    let c = cfg();
    let cases = [
        (Form::Batch, b"{nope".to_vec(), "not valid JSON"),
        (Form::Batch, br#"{"events": []}"#.to_vec(), "`batch` array"),
        (
            Form::Batch,
            br#"{"batch": []}"#.to_vec(),
            "`batch` is empty",
        ),
        (Form::Webhook, b"[]".to_vec(), "No events"),
        (Form::Webhook, b"42".to_vec(), "event object"),
        (Form::Webhook, b"{nope".to_vec(), "not valid JSON"),
    ];
    for (form, body, says) in cases {
        let r = ingest(&c, b"uk_live_stripe", form, &body, 0);
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&body));
        assert!(r.body.contains(says), "{}", r.body);
        assert!(r.parts.is_empty());
    }
    let big = json!({"batch": (0..101).map(|i| json!({"event": "e", "anonymousId": format!("a{i}")})).collect::<Vec<_>>()});
    let (r, _) = post(&c, "uk_live_stripe", Form::Batch, &big);
    assert_eq!(r.status, 400);
    assert!(r.body.contains("maximum 100"));
    let small = config(
        &TWO.replace("\"shards\": 16", "\"shards\": 16, \"maxBodyBytes\": 64"),
        &[("C_KEY", "k")],
    );
    let r = ingest(&small, b"uk_live_stripe", Form::Webhook, &[b' '; 65], 0);
    assert_eq!(r.status, 413);
    assert!(r.body.contains("\"limit_bytes\":64"));
}

#[test]
fn only_a_configured_key_itself_is_accepted() {
    let c = cfg();
    let event = json!({"event": "e", "anonymousId": "a-1"});
    for good in ["uk_live_billing", "uk_live_stripe"] {
        assert_eq!(
            post(&c, good, Form::Webhook, &event).0.status,
            200,
            "{good}"
        );
    }
    for bad in [
        "",
        "uk_live_bil",
        "uk_live_billing2",
        "uk_live_billinG",
        "UK_LIVE_STRIPE",
        "uk_live_stripe ",
        "x",
    ] {
        let (r, v) = post(&c, bad, Form::Webhook, &event);
        assert_eq!(r.status, 401, "{bad:?}");
        assert_eq!(v["success"], false);
        assert!(r.parts.is_empty());
    }
    assert_eq!(find_source(&c, b"uk_live_stripe"), Some(1));
    assert_eq!(find_source(&c, b"uk_live_billing"), Some(0));
    assert!(key_matches(b"abc", b"abc"));
    for bad in [&b""[..], b"ab", b"abcd", b"abd", b"\xff\xff\xff"] {
        assert!(!key_matches(bad, b"abc"), "{bad:?}");
    }
}

#[test]
fn each_source_maps_its_own_names() {
    let c = cfg();
    let (r, _) = post(
        &c,
        "uk_live_billing",
        Form::Batch,
        &json!({"batch": [
            {"type": "track", "event": "Account Upgraded", "messageId": "b-1", "anonymousId": "a-1",
             "properties": {"plan": "pro", "card": "4242", "seats": 3}},
            {"type": "track", "event": "subscription_tier_changed", "messageId": "b-2", "anonymousId": "a-1"},
        ]}),
    );
    let evs = sent(&r);
    let by = |id: &str| evs.iter().find(|e| e["messageId"] == id).unwrap().clone();
    assert_eq!(by("b-1")["event"], "plan_changed");
    assert_eq!(by("b-1")["properties"], json!({"tier": "pro", "seats": 3}));
    assert_eq!(
        by("b-2")["event"],
        "subscription_tier_changed",
        "not this source's rename"
    );

    let (r, _) = post(
        &c,
        "uk_live_stripe",
        Form::Webhook,
        &json!([
            {"type": "track", "event": "subscription_tier_changed", "messageId": "s-1", "userId": "cus_1", "properties": {"plan": "pro"}},
            {"type": "track", "event": "Account Upgraded", "messageId": "s-2", "userId": "cus_1"},
        ]),
    );
    let evs = sent(&r);
    let by = |id: &str| evs.iter().find(|e| e["messageId"] == id).unwrap().clone();
    assert_eq!(by("s-1")["event"], "plan_changed");
    assert_eq!(
        by("s-1")["properties"],
        json!({"plan": "pro"}),
        "billing's property rules are not stripe's"
    );
    assert_eq!(by("s-2")["event"], "Account Upgraded");

    let (r, v) = post(
        &c,
        "uk_live_billing",
        Form::Webhook,
        &json!([
        {"event": "Heartbeat", "anonymousId": "a-1"}, {"event": "Other", "anonymousId": "a-1"}]),
    );
    assert_eq!(
        (
            v["accepted"].as_u64(),
            v["dropped"].as_u64(),
            v["failed"].as_u64()
        ),
        (Some(2), Some(1), Some(0))
    );
    assert_eq!(sent(&r).len(), 1);
    let (_, v) = post(
        &c,
        "uk_live_billing",
        Form::Webhook,
        &json!({"event": "Other", "anonymousId": "a-1"}),
    );
    assert!(v.get("dropped").is_none(), "absent when 0: {v}");
}

#[test]
fn routing_is_stable_per_identity() {
    let c = cfg();
    assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    let events: Vec<Value> = (0..64)
        .map(|i| json!({"event": "e", "messageId": format!("m-{i}"), "anonymousId": format!("anon-{}", i % 8),
            "userId": if i % 2 == 0 { Value::from(format!("user-{}", i % 4)) } else { Value::Null }}))
        .collect();
    let (r1, _) = post(
        &c,
        "uk_live_billing",
        Form::Batch,
        &json!({"batch": &events[..32]}),
    );
    let (r2, _) = post(
        &c,
        "uk_live_billing",
        Form::Batch,
        &json!({"batch": &events[32..]}),
    );
    let mut seen = std::collections::HashMap::new();
    for part in r1.parts.iter().chain(&r2.parts) {
        for e in read_part(&part.events).unwrap() {
            let v: Value = serde_json::from_slice(&e.body).unwrap();
            let identity = v["userId"]
                .as_str()
                .or(v["anonymousId"].as_str())
                .unwrap()
                .to_string();
            assert_eq!(
                part.shard,
                format!("c#{}", shard_of(&identity, 16)),
                "{identity}"
            );
            let prev = seen.insert(identity.clone(), part.shard.clone());
            assert!(
                prev.is_none_or(|p| p == part.shard),
                "{identity} moved shards"
            );
        }
    }
    let shards: std::collections::HashSet<_> = seen.values().collect();
    assert!(shards.len() > 1, "identities spread over shards");
}
