//! Fault injection (scripted, seeded random, drop) and the control endpoints, over real HTTP.

mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn scripted_answers_come_in_order_then_normal_resumes() {
    let srv = start_default().await;
    let custom =
        json!({"success": false, "error": "Rate limit exceeded: custom", "code": "rate_limited"});
    let r = srv
        .control(
            "/_faults",
            &json!({"script": [
                {"status": 429, "retry_after": "3", "body": custom},
                {"status": 503},
                {"drop": true},
                {"status": 413},
                {"status": 429, "retry_after": "Wed, 21 Oct 2026 07:28:00 GMT"},
            ]}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["script"].as_array().unwrap().len(), 5);

    let a = srv.v1(&v1_batch("s1", 2)).await;
    assert_eq!(
        (a.status, a.header("retry-after"), a.json()),
        (429, Some("3"), custom)
    );
    let b = srv.v1(&v1_batch("s2", 2)).await;
    assert_eq!(b.status, 503);
    assert_eq!(b.json()["success"], false);
    let c = srv
        .try_request(
            "POST",
            "/v1-batch",
            &[
                ("Authorization", "Bearer uk_live_demo"),
                ("Content-Type", "application/json"),
            ],
            v1_batch("s3", 2).to_string().as_bytes(),
        )
        .await;
    assert!(c.is_err(), "dropped: no response at all, got {c:?}");
    let d = srv.v1(&v1_batch("s4", 2)).await;
    assert_eq!(d.status, 413);
    assert_eq!(d.json()["limit_bytes"], 1_048_576);
    let e = srv.v1(&v1_batch("s5", 2)).await;
    assert_eq!(
        (e.status, e.header("retry-after")),
        (429, Some("Wed, 21 Oct 2026 07:28:00 GMT"))
    );
    assert_eq!(
        e.json()["code"],
        "rate_limited",
        "default scripted 429 is the per-minute one"
    );
    assert_eq!(srv.v1(&v1_batch("s6", 2)).await.status, 200);

    // Only the dropped request and the normal one stored their events.
    let ids: Vec<Value> = srv.stored_message_ids().await;
    assert_eq!(
        ids,
        vec![json!("s3-0"), json!("s3-1"), json!("s6-0"), json!("s6-1")]
    );
    let stats = srv.stats().await;
    assert_eq!(
        srv.logged_statuses().await,
        vec![429, 503, 0, 413, 429, 200]
    );
    let log = stats["log"].as_array().unwrap();
    assert_eq!(log[0]["fault"], "scripted");
    assert_eq!(log[0]["retry_after"], "3");
    assert_eq!(log[0]["events"], 2);
    assert_eq!(log[2]["dropped"], true);
    assert!(log[5].get("fault").is_none());
    assert_eq!(stats["faults_injected"], 5);
    assert_eq!(stats["dropped"], 1);
    assert_eq!(stats["requests"]["by_status"]["dropped"], 1);
    assert_eq!(srv.get("/_faults").await.json()["script"], json!([]));
}

#[tokio::test]
async fn scripted_steps_can_target_a_path() {
    let srv = start_default().await;
    srv.control("/_faults", &json!({"path": "/batch", "script": [{"status": 429}, {"status": 500, "path": "/2/httpapi"}]}))
        .await;
    assert_eq!(srv.v1(&v1_batch("p", 1)).await.status, 200);
    let v2 = srv
        .amp("/2/httpapi", &amp_body(amp_events("device-1", 0, 1)))
        .await;
    assert_eq!((v2.status, v2.json()["code"].clone()), (500, json!(500)));
    let mut events = amp_events("device-1", 0, 2);
    events.push(json!({"event_type": "e", "user_id": "user-77"}));
    let b = srv.amp("/batch", &amp_body(events)).await;
    assert_eq!(b.status, 429);
    // The default Amplitude 429 throttles every identity in the request.
    assert_eq!(b.json()["throttled_devices"], json!({"device-1": 1001}));
    assert_eq!(b.json()["throttled_users"], json!({"user-77": 1001}));
    assert_eq!(b.json()["throttled_events"], json!([0, 1, 2]));
    assert_eq!(b.json()["exceeded_daily_quota_users"], json!({}));
    assert_eq!(
        srv.amp("/batch", &amp_body(amp_events("device-1", 0, 1)))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn scripted_daily_quota_and_custom_headers() {
    let srv = start_default().await;
    srv.control(
        "/_faults",
        &json!({"script": [{"status": 429, "daily_quota": true, "headers": {"X-Test": "yes"}}]}),
    )
    .await;
    let r = srv
        .amp("/batch", &amp_body(amp_events("device-9", 0, 2)))
        .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("x-test"), Some("yes"));
    assert_eq!(
        r.json()["exceeded_daily_quota_devices"],
        json!({"device-9": 500_001})
    );
    assert_eq!(r.json()["throttled_devices"], json!({}));
}

/// Statuses of `n` single-event requests under the current faults (0 = dropped).
async fn run(srv: &Srv, tag: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for i in 0..n {
        let body = v1_batch(&format!("{tag}{i}"), 1).to_string();
        let h = [
            ("Authorization", "Bearer uk_live_demo"),
            ("Content-Type", "application/json"),
        ];
        out.push(
            match srv
                .try_request("POST", "/v1-batch", &h, body.as_bytes())
                .await
            {
                Ok(r) => r.status,
                Err(_) => 0,
            },
        );
    }
    out
}

#[tokio::test]
async fn seeded_random_faults_repeat_and_failures_store_nothing() {
    let mut cfg = config();
    cfg.limits.rate_per_ip = 10_000;
    let srv = start(cfg).await;
    let faults =
        json!({"fail_rate": 0.4, "statuses": [500, 502, 503, 504], "drop_rate": 0.2, "seed": 7});
    srv.control("/_faults", &faults).await;
    let first = run(&srv, "a", 40).await;
    srv.control("/_faults", &json!({"seed": 7})).await;
    let second = run(&srv, "b", 40).await;
    assert_eq!(first, second, "same seed, same faults");
    let count = |s: u16| first.iter().filter(|&&x| x == s).count();
    let fails: usize = [500, 502, 503, 504].iter().map(|&s| count(s)).sum();
    assert!(fails > 0 && count(0) > 0 && count(200) > 0, "{first:?}");
    assert_eq!(fails + count(0) + count(200), 40);
    // Dropped requests stored their event; failed ones did not.
    assert_eq!(srv.events().await.len(), 2 * (count(0) + count(200)));
}

#[tokio::test]
async fn faults_from_config_latency_and_drop_rate() {
    let mut cfg = config();
    cfg.faults.drop_rate = 1.0;
    cfg.faults.latency_ms = 20;
    let srv = start(cfg).await;
    assert_eq!(run(&srv, "x", 2).await, vec![0, 0]);
    assert_eq!(
        srv.events().await.len(),
        2,
        "dropped means stored, then no answer"
    );
    let off = srv
        .control("/_faults", &json!({"reset": true}))
        .await
        .json();
    assert_eq!(
        (off["drop_rate"].clone(), off["latency_ms"].clone()),
        (json!(0.0), json!(0))
    );
    assert_eq!(run(&srv, "y", 1).await, vec![200]);
    // /_reset restores the startup faults.
    srv.control("/_reset", &json!({})).await;
    assert_eq!(srv.get("/_faults").await.json()["drop_rate"], 1.0);
}

#[tokio::test]
async fn bad_fault_and_config_bodies_are_400_and_change_nothing() {
    let srv = start_default().await;
    for bad in [
        json!({"fail_rate": 1.5}),
        json!({"script": [{"status": 99}]}),
        json!({"nope": 1}),
        json!([1]),
    ] {
        let r = srv.control("/_faults", &bad).await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.json()["success"], false);
    }
    for bad in [
        json!({"rate_per_ip": -1}),
        json!({"window_secs": 0}),
        json!({"typo": 1}),
        json!("x"),
    ] {
        assert_eq!(srv.control("/_config", &bad).await.status, 400, "{bad}");
    }
    let garbage = srv.request("POST", "/_faults", &[], b"{not json").await;
    assert_eq!(garbage.status, 400);
    assert_eq!(srv.get("/_faults").await.json()["fail_rate"], 0.0);
    assert_eq!(srv.get("/_config").await.json()["rate_per_ip"], 100);
}

#[tokio::test]
async fn config_changes_limits_at_run_time() {
    let srv = start_default().await;
    let r = srv
        .control("/_config", &json!({"rate_per_ip": 1, "window_secs": 5}))
        .await;
    assert_eq!(r.json()["rate_per_ip"], 1);
    assert_eq!(r.json()["window_secs"], 5.0);
    assert_eq!(srv.v1(&v1_batch("c0", 1)).await.status, 200);
    let limited = srv.v1(&v1_batch("c1", 1)).await;
    assert_eq!(
        (limited.status, limited.header("retry-after")),
        (429, Some("5"))
    );
    let cfg = srv.get("/_config").await.json();
    for field in [
        "rate_per_org",
        "monthly_quota",
        "v1_max_bytes",
        "eps_v2",
        "eps_batch",
        "eps_window_secs",
        "daily_quota",
        "daily_window_secs",
        "min_id_length",
        "v2_max_bytes",
        "batch_max_bytes",
    ] {
        assert!(cfg.get(field).is_some(), "{field}");
    }
}

#[tokio::test]
async fn stats_events_and_reset() {
    let srv = start_default().await;
    srv.v1(&v1_batch("e", 2)).await;
    srv.clock.advance(1_500);
    srv.amp("/batch", &amp_body(amp_events("device-1", 0, 1)))
        .await;
    srv.v1_raw("bad-key", b"{}").await;
    let stats = srv.stats().await;
    assert_eq!(stats["requests"]["total"], 3);
    assert_eq!(stats["requests"]["by_status"], json!({"200": 2, "401": 1}));
    assert_eq!(
        stats["requests"]["by_path"],
        json!({"/v1-batch": 2, "/batch": 1})
    );
    assert_eq!(stats["events"]["ingested"], 3);
    assert!(stats["bytes_received"].as_u64().unwrap() > 100);
    let log = stats["log"].as_array().unwrap();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0]["ms"], jan_15_2026());
    assert_eq!(log[1]["ms"], jan_15_2026() + 1_500);
    assert_eq!(log[1]["path"], "/batch");
    assert_eq!(log[1]["events"], 1);
    assert!(srv
        .get("/_stats?log=false")
        .await
        .json()
        .get("log")
        .is_none());

    let all = srv.events().await;
    assert_eq!(all.len(), 3);
    assert_eq!(all[2]["_received_ms"], jan_15_2026() + 1_500);
    let raw = srv.get("/_events?path=/batch").await;
    assert_eq!(raw.header("content-type"), Some("application/x-ndjson"));
    assert!(raw
        .text()
        .starts_with(r#"{"_path":"/batch","_received_ms":"#));
    assert_eq!(raw.text().lines().count(), 1);

    assert_eq!(srv.control("/_reset", &json!({})).await.status, 200);
    assert!(srv.events().await.is_empty());
    assert_eq!(srv.stats().await["requests"]["total"], 0);
    // De-dup memory is gone too: the same messageIds are stored again.
    assert_eq!(
        srv.v1(&v1_batch("e", 2)).await.text(),
        r#"{"success":true,"accepted":2,"failed":0,"errors":[],"warnings":[]}"#
    );
    assert_eq!(srv.events().await.len(), 2);
}

#[tokio::test]
async fn health_answers_on_root_and_health() {
    let srv = start_default().await;
    for p in ["/", "/_health"] {
        let r = srv.get(p).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["ok"], true);
    }
}

#[tokio::test]
async fn control_endpoints_refuse_without_a_loopback_peer() {
    // Served by plain axum::serve the router has no peer address: control must say no, and
    // ingest must still work.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move { axum::serve(listener, collector::app(config())).await });
    let r = collector::client::send(addr, "GET", "/_stats", &[], b"")
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["success"], false);
    let body = v1_batch("z", 1).to_string();
    let h = [
        ("Authorization", "Bearer uk_live_demo"),
        ("Content-Type", "application/json"),
    ];
    let r = collector::client::send(addr, "POST", "/v1-batch", &h, body.as_bytes())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    task.abort();
}
