//! Amplitude `/2/httpapi` and `/batch` over real HTTP: docs/PROTOCOLS.md B and C.

mod common;

use common::*;
use serde_json::{json, Value};

const V2: &str = "/2/httpapi";
const BATCH: &str = "/batch";

#[tokio::test]
async fn accepted_body_has_code_count_size_and_time() {
    let srv = start_default().await;
    for path in [V2, BATCH] {
        let body = amp_body(amp_events(&format!("device{path}"), 0, 3)).to_string();
        let r = srv.amp_raw(path, body.as_bytes()).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(
            r.json(),
            json!({"code": 200, "events_ingested": 3, "payload_size_bytes": body.len(),
                "server_upload_time": jan_15_2026()})
        );
    }
    let evs = srv.events().await;
    assert_eq!(evs.len(), 6);
    assert_eq!(
        (evs[0]["_path"].clone(), evs[5]["_path"].clone()),
        (json!(V2), json!(BATCH))
    );
}

#[tokio::test]
async fn api_key_and_events_are_required() {
    let srv = start_default().await;
    for path in [V2, BATCH] {
        let r = srv
            .amp(path, &json!({"events": amp_events("device-1", 0, 1)}))
            .await;
        assert_eq!(r.status, 400);
        assert_eq!(
            r.json(),
            json!({"code": 400, "error": "Request missing required field", "missing_field": "api_key"})
        );
        let r = srv
            .amp(
                path,
                &json!({"api_key": "nope", "events": amp_events("device-1", 0, 1)}),
            )
            .await;
        assert_eq!(r.json(), json!({"code": 400, "error": "Invalid API key"}));
        for events in [json!(null), json!([]), json!({"a": 1}), json!("x")] {
            let r = srv
                .amp(path, &json!({"api_key": AMP_KEY, "events": events}))
                .await;
            assert_eq!(r.status, 400);
            assert_eq!(r.json()["missing_field"], "events");
        }
        let r = srv
            .amp(
                path,
                &json!({"api_key": AMP_KEY, "events": amp_events("device-1", 0, 1),
            "client_upload_time": "2026-01-15T00:00:00Z", "request_metadata": {"sdk": "x"}}),
            )
            .await;
        assert_eq!(r.status, 200, "extra top-level fields are ignored");
    }
}

#[tokio::test]
async fn invalid_and_missing_fields_are_reported_by_index() {
    let srv = start_default().await;
    let mut seconds = amp_event("device-1", "a");
    seconds["time"] = json!(1_768_435_200_u64);
    let mut iso = amp_event("device-1", "b");
    iso["time"] = json!("2026-01-15T00:00:00Z");
    let mut no_type = amp_event("device-1", "c");
    no_type.as_object_mut().unwrap().remove("event_type");
    let short = json!({"event_type": "e", "device_id": "abc"});
    let null_ids = json!({"event_type": "e", "user_id": "null", "device_id": "Undefined"});
    let body = amp_body(vec![
        amp_event("device-1", "ok"),
        seconds,
        iso,
        no_type,
        short,
        null_ids,
    ]);
    let r = srv.amp(V2, &body).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"code": 400, "error": "Invalid field values on some events",
            "events_with_invalid_fields": {"time": [1, 2]},
            "events_with_missing_fields": {"event_type": [3], "user_id_or_device_id": [4, 5]}})
    );
    assert!(srv.events().await.is_empty(), "a 400 stores nothing");
    let r = srv
        .amp(BATCH, &amp_body(vec![json!({"user_id": "user-12345"})]))
        .await;
    assert_eq!(r.json()["error"], "Request missing required field");
    assert_eq!(
        r.json()["events_with_missing_fields"],
        json!({"event_type": [0]})
    );
}

#[tokio::test]
async fn ids_are_cleaned_and_strings_capped() {
    let srv = start_default().await;
    let ev = json!({"event_type": "e", "user_id": "n/a", "device_id": "dev-12345",
        "event_properties": {"long": "é".repeat(1500), "list": ["x".repeat(2000)]}});
    assert_eq!(srv.amp(V2, &amp_body(vec![ev])).await.status, 200);
    let stored = &srv.events().await[0];
    assert!(stored.get("user_id").is_none(), "invalid id removed");
    assert_eq!(stored["device_id"], "dev-12345");
    assert_eq!(
        stored["event_properties"]["long"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        1024
    );
    assert_eq!(
        stored["event_properties"]["list"][0]
            .as_str()
            .unwrap()
            .len(),
        1024
    );
    // options.min_id_length overrides the default of 5.
    let short = json!({"api_key": AMP_KEY, "events": [{"event_type": "e", "user_id": "abc"}],
        "options": {"min_id_length": 3}});
    assert_eq!(srv.amp(V2, &short).await.status, 200);
    let bad = json!({"api_key": AMP_KEY, "events": [{"event_type": "e", "user_id": "abcdef"}],
        "options": {"min_id_length": "3"}});
    assert_eq!(srv.amp(V2, &bad).await.status, 400);
}

#[tokio::test]
async fn too_many_events_or_bytes_is_413() {
    let srv = start_default().await;
    let big = json!({"code": 413, "error": "Payload too large"});
    assert_eq!(
        srv.amp(V2, &amp_body(amp_events("d-many", 0, 2000)))
            .await
            .json(),
        big
    );
    assert_eq!(
        srv.amp(V2, &amp_body(amp_events("d-many", 0, 1999)))
            .await
            .status,
        429,
        "past EPS, not 413"
    );
    assert_eq!(
        srv.amp(BATCH, &amp_body(amp_events("d-bulk", 0, 2000)))
            .await
            .status,
        200
    );
    assert_eq!(
        srv.amp(BATCH, &amp_body(amp_events("d-bulk", 0, 2001)))
            .await
            .json(),
        big
    );
    // "< 1 MB": 1,000,000 bytes is refused, 999,999 accepted.
    let padded = |len: usize| {
        let mut b = amp_body(amp_events("d-size", 0, 1))
            .to_string()
            .into_bytes();
        b.pop();
        b.resize(len - 1, b' ');
        b.push(b'}');
        b
    };
    let r = srv.amp_raw(V2, &padded(1_000_000)).await;
    assert_eq!((r.status, r.json()), (413, big.clone()));
    assert_eq!(srv.amp_raw(V2, &padded(999_999)).await.status, 200);
    assert_eq!(srv.amp_raw(BATCH, &padded(20_000_001)).await.json(), big);
}

fn eps_config(window_secs: f64) -> collector::Config {
    let mut cfg = config();
    cfg.limits.eps_window_secs = window_secs;
    cfg
}

#[tokio::test]
async fn v2_throttles_per_device_and_user_and_stores_nothing() {
    // A 1 s window: 30 events per identity per window.
    let srv = start(eps_config(1.0)).await;
    assert_eq!(
        srv.amp(V2, &amp_body(amp_events("device-A", 0, 20)))
            .await
            .status,
        200
    );
    let mut events = amp_events("device-B", 0, 5);
    events.splice(1..1, amp_events("device-A", 20, 11));
    let mut by_user = amp_event("device-C", "u-0");
    by_user["user_id"] = json!("user-hot");
    events.push(by_user);
    // The user has 31 events in this request alone.
    events.extend(
        (1..31).map(
            |i| json!({"event_type": "e", "user_id": "user-hot", "insert_id": format!("u-{i}")}),
        ),
    );
    let r = srv.amp(V2, &amp_body(events)).await;
    assert_eq!(r.status, 429);
    let j = r.json();
    assert_eq!(j["code"], 429);
    assert_eq!(j["error"], "Too many requests for some devices and users");
    assert_eq!(j["eps_threshold"], 30);
    assert_eq!(j["throttled_devices"], json!({"device-A": 31}));
    assert_eq!(j["throttled_users"], json!({"user-hot": 31}));
    let mut want: Vec<u64> = (1..12).collect();
    want.extend(16..47);
    assert_eq!(j["throttled_events"], json!(want));
    assert!(
        j.get("exceeded_daily_quota_users").is_none(),
        "V2 has no daily quota"
    );
    assert_eq!(
        srv.events().await.len(),
        20,
        "the throttled request stored nothing"
    );
    // Everyone else keeps flowing; device-A recovers once its window has passed.
    assert_eq!(
        srv.amp(V2, &amp_body(amp_events("device-B", 0, 5)))
            .await
            .status,
        200
    );
    assert_eq!(
        srv.amp(V2, &amp_body(amp_events("device-A", 20, 11)))
            .await
            .status,
        429
    );
    srv.clock.advance(1_000);
    assert_eq!(
        srv.amp(V2, &amp_body(amp_events("device-A", 20, 11)))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn default_eps_window_is_thirty_seconds() {
    let srv = start_default().await;
    // 30 eps over 30 s: 900 events fit, the 901st does not, and the reported rate rounds up.
    assert_eq!(
        srv.amp(V2, &amp_body(amp_events("device-D", 0, 900)))
            .await
            .status,
        200
    );
    let r = srv.amp(V2, &amp_body(amp_events("device-D", 900, 1))).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["throttled_devices"], json!({"device-D": 31}));
    // /batch has its own, higher limit.
    assert_eq!(
        srv.amp(BATCH, &amp_body(amp_events("device-D", 900, 1)))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn batch_daily_quota_maps() {
    let mut cfg = config();
    cfg.limits.daily_quota = 10;
    cfg.limits.daily_window_secs = 100.0;
    let srv = start(cfg).await;
    let user_events = |start: usize, n: usize| -> Vec<Value> {
        (start..start + n)
            .map(|i| json!({"event_type": "e", "user_id": "user-Q", "device_id": "device-Q", "insert_id": format!("q{i}")}))
            .collect()
    };
    assert_eq!(
        srv.amp(BATCH, &amp_body(user_events(0, 8))).await.status,
        200
    );
    let mut events = amp_events("device-free", 0, 2);
    events.extend(user_events(8, 3));
    let r = srv.amp(BATCH, &amp_body(events)).await;
    assert_eq!(r.status, 429);
    let j = r.json();
    assert_eq!(j["exceeded_daily_quota_users"], json!({"user-Q": 11}));
    assert_eq!(j["exceeded_daily_quota_devices"], json!({"device-Q": 11}));
    assert_eq!(j["throttled_users"], json!({}));
    assert_eq!(j["throttled_events"], json!([2, 3, 4]));
    assert_eq!(j["eps_threshold"], 1000);
    assert_eq!(
        srv.amp(BATCH, &amp_body(user_events(8, 2))).await.status,
        200
    );
    srv.clock.advance(100_000);
    assert_eq!(
        srv.amp(BATCH, &amp_body(user_events(10, 10))).await.status,
        200
    );
    assert_eq!(srv.events().await.len(), 20);
}

#[tokio::test]
async fn insert_id_dedup_per_endpoint_rules() {
    let srv = start_default().await;
    let r = srv
        .amp(
            V2,
            &amp_body(vec![
                amp_event("device-1", "ins-1"),
                amp_event("device-1", "ins-1"),
            ]),
        )
        .await;
    assert_eq!(r.json()["events_ingested"], 2);
    // V2: same insert_id on another device is a different event.
    assert_eq!(
        srv.amp(V2, &amp_body(vec![amp_event("device-2", "ins-1")]))
            .await
            .status,
        200
    );
    assert_eq!(srv.events().await.len(), 2);
    // Batch: any repeated insert_id is a duplicate, whatever the device.
    assert_eq!(
        srv.amp(BATCH, &amp_body(vec![amp_event("device-3", "ins-1")]))
            .await
            .status,
        200
    );
    assert_eq!(
        srv.amp(BATCH, &amp_body(vec![amp_event("device-4", "ins-9")]))
            .await
            .status,
        200
    );
    assert_eq!(
        srv.amp(BATCH, &amp_body(vec![amp_event("device-5", "ins-9")]))
            .await
            .status,
        200
    );
    // A V2 retry of a Batch-delivered event is caught too.
    assert_eq!(
        srv.amp(V2, &amp_body(vec![amp_event("device-4", "ins-9")]))
            .await
            .status,
        200
    );
    // No insert_id: never de-duplicated.
    let bare = json!({"event_type": "e", "device_id": "device-6"});
    srv.amp(V2, &amp_body(vec![bare.clone(), bare])).await;
    assert_eq!(srv.events().await.len(), 5);
    assert_eq!(srv.stats().await["events"]["duplicates"], 4);
}

#[tokio::test]
async fn content_type_and_json_errors_carry_code() {
    let srv = start_default().await;
    let body = amp_body(amp_events("device-1", 0, 1)).to_string();
    let r = srv
        .request(
            "POST",
            V2,
            &[("Content-Type", "text/plain")],
            body.as_bytes(),
        )
        .await;
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!(400)));
    for raw in [
        &b""[..],
        b"{",
        b"null",
        b"[]",
        b"\xff\xfe",
        b"{\"api_key\": 5}",
    ] {
        let r = srv.amp_raw(BATCH, raw).await;
        assert_eq!(r.status, 400, "{raw:?}");
        assert_eq!(r.json()["code"], 400);
    }
}
