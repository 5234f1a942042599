//! `/v1-batch` over real HTTP: every status and body of docs/PROTOCOLS.md A.

mod common;

use std::time::Duration;

use collector::clock::days_from_civil;
use collector::Limits;
use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const EXACT_413: &str = r#"{"success":false,"error":"Request body too large: maximum 1048576 bytes","limit_bytes":1048576,"hint":"Split the batch into smaller requests (max 100 events / 1 MiB per call)."}"#;

#[tokio::test]
async fn all_accepted_is_exactly_the_contract_body() {
    let srv = start_default().await;
    let r = srv.v1(&v1_batch("a", 3)).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text(),
        r#"{"success":true,"accepted":3,"failed":0,"errors":[],"warnings":[]}"#
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    let evs = srv.events().await;
    assert_eq!(evs.len(), 3);
    assert_eq!(evs[0]["messageId"], "a-0");
    assert_eq!(evs[0]["_path"], "/v1-batch");
    assert_eq!(evs[0]["_received_ms"], jan_15_2026());
}

#[tokio::test]
async fn pretty_printed_events_are_stored_one_per_line() {
    let srv = start_default().await;
    let body = serde_json::to_string_pretty(&v1_batch("pretty", 2)).unwrap();
    assert!(body.contains('\n'));
    assert_eq!(srv.v1_raw(WRITE, body.as_bytes()).await.status, 200);
    let evs = srv.events().await;
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[1]["properties"]["plan"], "pro");
}

#[tokio::test]
async fn keys_decide_401_403_and_who_may_ingest() {
    let srv = start_default().await;
    let body = v1_batch("k", 1).to_string();
    let no_auth = srv
        .request(
            "POST",
            "/v1-batch",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .await;
    assert_eq!(no_auth.status, 401);
    assert_eq!(no_auth.json()["success"], false);
    assert!(no_auth.json()["error"].is_string());
    assert_eq!(
        srv.v1_raw("uk_live_nope", body.as_bytes()).await.status,
        401
    );
    let read = srv.v1_raw("uk_read_demo", body.as_bytes()).await;
    assert_eq!(read.status, 403);
    assert_eq!(read.json()["success"], false);
    assert_eq!(
        srv.v1_raw("uk_admin_demo", body.as_bytes()).await.status,
        200
    );
    let basic = [
        ("Authorization", "Basic dWtfbGl2ZV9kZW1vOg=="),
        ("Content-Type", "application/json"),
    ];
    assert_eq!(
        srv.request("POST", "/v1-batch", &basic, body.as_bytes())
            .await
            .status,
        401
    );
    assert_eq!(
        srv.events().await.len(),
        1,
        "only the admin key's event is stored"
    );
}

#[tokio::test]
async fn extra_keys_from_config_ingest_into_their_org() {
    let mut cfg = config();
    cfg.keys.push(collector::config::KeyEntry {
        key: "uk_live_acme".into(),
        org: "acme".into(),
        kind: collector::config::KeyKind::Write,
    });
    cfg.limits.monthly_quota = Some(1);
    let srv = start(cfg).await;
    // Quotas are per org: each org gets its one event.
    assert_eq!(srv.v1(&v1_batch("demo", 1)).await.status, 200);
    let acme = srv
        .v1_raw("uk_live_acme", v1_batch("acme", 1).to_string().as_bytes())
        .await;
    assert_eq!(acme.status, 200);
    assert_eq!(srv.v1(&v1_batch("demo2", 1)).await.status, 429);
}

#[tokio::test]
async fn content_type_must_be_json() {
    let srv = start_default().await;
    let body = v1_batch("c", 1).to_string();
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut h = vec![("Authorization", "Bearer uk_live_demo")];
        if let Some(ct) = ct {
            h.push(("Content-Type", ct));
        }
        let r = srv.request("POST", "/v1-batch", &h, body.as_bytes()).await;
        assert_eq!(r.status, 400, "{ct:?}");
        assert_eq!(r.json()["success"], false);
    }
    let h = [
        ("Authorization", "Bearer uk_live_demo"),
        ("Content-Type", "application/json; charset=utf-8"),
    ];
    assert_eq!(
        srv.request("POST", "/v1-batch", &h, body.as_bytes())
            .await
            .status,
        200
    );
}

/// A valid body padded with spaces to exactly `len` bytes.
fn padded_body(len: usize) -> Vec<u8> {
    let mut b = v1_batch("p", 1).to_string().into_bytes();
    b.pop();
    b.resize(len - 1, b' ');
    b.push(b'}');
    b
}

#[tokio::test]
async fn body_cap_is_exact_and_413_body_is_exact() {
    let srv = start_default().await;
    assert_eq!(srv.v1_raw(WRITE, &padded_body(1_048_576)).await.status, 200);
    let r = srv.v1_raw(WRITE, &padded_body(1_048_577)).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.text(), EXACT_413);
    // 413 is decided before auth and parsing: garbage and no key get it too.
    let r = srv
        .request("POST", "/v1-batch", &[], &vec![b'x'; 1_048_577])
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(srv.events().await.len(), 1);
}

#[tokio::test]
async fn huge_content_length_is_refused_without_reading_the_body() {
    let srv = start_default().await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    // Claims a terabyte and sends 5 bytes: if the server tried to read it, this would hang.
    let head = "POST /v1-batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer uk_live_demo\r\n\
        Content-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n{\"ba";
    s.write_all(head.as_bytes()).await.unwrap();
    let mut r = BufReader::new(s);
    let resp = tokio::time::timeout(PATIENCE, collector::client::read_response(&mut r))
        .await
        .expect("413 must come without the body")
        .unwrap();
    assert_eq!(resp.status, 413);
    assert_eq!(resp.text(), EXACT_413);
}

#[tokio::test]
async fn chunked_body_over_the_cap_gets_413() {
    let srv = start_default().await;
    let s = TcpStream::connect(srv.addr).await.unwrap();
    let (rd, mut wr) = s.into_split();
    let writer = tokio::spawn(async move {
        let head = "POST /v1-batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer uk_live_demo\r\n\
            Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        wr.write_all(head.as_bytes()).await?;
        let chunk = vec![b' '; 64 * 1024];
        // 20 chunks of 64 KiB = 1.25 MiB, over the 1 MiB cap. The server may stop reading (and
        // close) part way, so write errors are expected and ignored.
        for _ in 0..20 {
            wr.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            wr.write_all(&chunk).await?;
            wr.write_all(b"\r\n").await?;
        }
        wr.write_all(b"0\r\n\r\n").await
    });
    let mut r = BufReader::new(rd);
    let resp = tokio::time::timeout(PATIENCE, collector::client::read_response(&mut r))
        .await
        .expect("no hang")
        .expect("a 413 answer, not a reset");
    assert_eq!(resp.status, 413);
    assert_eq!(resp.text(), EXACT_413);
    let _ = writer.await;
}

#[tokio::test]
async fn one_to_one_hundred_events() {
    let srv = start_default().await;
    for (body, status) in [
        (json!({"batch": []}), 400),
        (v1_batch("x", 101), 400),
        (v1_batch("y", 100), 200),
    ] {
        let r = srv.v1(&body).await;
        assert_eq!(r.status, status);
        if status == 400 {
            assert_eq!(r.json()["success"], false);
            assert!(r.json()["error"].as_str().unwrap().len() > 5);
        }
    }
    assert_eq!(srv.events().await.len(), 100);
}

#[tokio::test]
async fn bad_events_are_rejected_one_by_one_inside_a_200() {
    let srv = start_default().await;
    let mut long = v1_event("m-1");
    long["event"] = json!("x".repeat(201));
    let mut exactly_200 = v1_event("m-2");
    exactly_200["event"] = json!("é".repeat(200));
    let mut no_anon = v1_event("m-3");
    no_anon.as_object_mut().unwrap().remove("anonymousId");
    let mut bad_ts = v1_event("m-4");
    bad_ts["timestamp"] = json!(1_768_435_200_000_u64);
    let mut bad_type = v1_event("m-5");
    bad_type["type"] = json!("click");
    let mut no_event = v1_event("m-6");
    no_event.as_object_mut().unwrap().remove("event");
    let mut identify = v1_event("m-7");
    identify["type"] = json!("identify");
    identify.as_object_mut().unwrap().remove("event");
    let body = json!({"batch": [v1_event("m-0"), long, exactly_200, no_anon, bad_ts, bad_type,
        no_event, identify, 42, {"type": "track"}]});
    let r = srv.v1(&body).await;
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(
        (
            j["success"].clone(),
            j["accepted"].clone(),
            j["failed"].clone()
        ),
        (json!(false), json!(3), json!(7))
    );
    let errors = j["errors"].as_array().unwrap();
    let idx: Vec<u64> = errors
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(idx, vec![1, 3, 4, 5, 6, 8, 9]);
    assert_eq!(
        errors[0],
        json!({"index": 1, "messageId": "m-1", "error": "event name too long"})
    );
    assert_eq!(errors[4]["messageId"], "m-6");
    assert_eq!(errors[5]["messageId"], Value::Null);
    assert_eq!(errors[6]["messageId"], Value::Null);
    let ids: Vec<Value> = srv.stored_message_ids().await;
    assert_eq!(ids, vec![json!("m-0"), json!("m-2"), json!("m-7")]);
    let stats = srv.stats().await;
    assert_eq!(stats["events"]["rejected"], 7);
}

#[tokio::test]
async fn soft_caps_store_with_warnings() {
    let srv = start_default().await;
    let mut many = v1_event("w-0");
    many["properties"] = json!((0..301)
        .map(|i| (format!("k{i}"), json!(i)))
        .collect::<serde_json::Map<_, _>>());
    let mut fat = v1_event("w-1");
    fat["properties"]["blob"] = json!("x".repeat(33 * 1024));
    let mut deep = v1_event("w-2");
    let mut nested = json!(1);
    // Nine levels: the traits object and eight inside it.
    for _ in 0..9 {
        nested = json!({ "d": nested });
    }
    deep["traits"] = nested;
    let r = srv
        .v1(&json!({"batch": [many, fat, deep, v1_event("w-3")]}))
        .await;
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(
        (
            j["success"].clone(),
            j["accepted"].clone(),
            j["failed"].clone()
        ),
        (json!(true), json!(4), json!(0))
    );
    let w = j["warnings"].as_array().unwrap();
    let idx: Vec<u64> = w.iter().map(|e| e["index"].as_u64().unwrap()).collect();
    assert_eq!(idx, vec![0, 1, 2]);
    assert_eq!(w[1]["messageId"], "w-1");
    assert!(w[0]["warning"].as_str().unwrap().contains("300"));
    assert_eq!(srv.events().await.len(), 4);
}

#[tokio::test]
async fn duplicates_are_accepted_but_stored_once() {
    let srv = start_default().await;
    assert_eq!(srv.v1(&v1_batch("d", 5)).await.status, 200);
    let again = srv.v1(&v1_batch("d", 7)).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        again.text(),
        r#"{"success":true,"accepted":7,"failed":0,"errors":[],"warnings":[],"duplicates":5}"#
    );
    let twice = json!({"batch": [v1_event("same"), v1_event("same")]});
    assert_eq!(srv.v1(&twice).await.json()["duplicates"], 1);
    assert_eq!(srv.events().await.len(), 8);
    assert_eq!(srv.stats().await["events"]["duplicates"], 6);
}

fn limits(per_ip: u64, per_org: u64) -> collector::Config {
    let mut cfg = config();
    cfg.limits = Limits {
        rate_per_ip: per_ip,
        rate_per_org: per_org,
        ..Limits::default()
    };
    cfg
}

#[tokio::test]
async fn per_ip_429_has_code_and_exact_retry_after() {
    let srv = start(limits(3, 2000)).await;
    for i in 0..3 {
        assert_eq!(srv.v1(&v1_batch(&format!("r{i}"), 1)).await.status, 200);
    }
    let r = srv.v1(&v1_batch("r3", 1)).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("60"));
    assert_eq!(
        r.json(),
        json!({"success": false, "error": "Rate limit exceeded: max 3 requests per minute per (org, IP)", "code": "rate_limited"})
    );
    srv.clock.advance(45_500);
    assert_eq!(
        srv.v1(&v1_batch("r4", 1)).await.header("retry-after"),
        Some("15")
    );
    srv.clock.advance(14_500);
    assert_eq!(srv.v1(&v1_batch("r5", 1)).await.status, 200);
    assert_eq!(srv.events().await.len(), 4, "429s store nothing");
}

#[tokio::test]
async fn per_org_backstop_spans_ips() {
    let mut cfg = limits(2, 5);
    cfg.trust_forwarded_for = true;
    let srv = start(cfg).await;
    let send = |ip: &'static str, id: String| {
        let srv = &srv;
        async move {
            let auth = format!("Bearer {WRITE}");
            let h = [
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/json"),
                ("X-Forwarded-For", ip),
            ];
            srv.request(
                "POST",
                "/v1-batch",
                &h,
                v1_batch(&id, 1).to_string().as_bytes(),
            )
            .await
        }
    };
    let mut statuses = Vec::new();
    for (i, ip) in [
        "10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.2", "10.0.0.3",
    ]
    .iter()
    .enumerate()
    {
        statuses.push(send(ip, format!("o{i}")).await.status);
    }
    assert_eq!(statuses, vec![200, 200, 429, 200, 200, 200]);
    srv.clock.advance(1_000);
    let r = send("10.0.0.4", "o9".into()).await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json(),
        json!({"success": false, "error": "Rate limit exceeded: max 5 requests per minute per org"})
    );
    assert_eq!(r.header("retry-after"), Some("59"));
}

#[tokio::test]
async fn window_secs_scales_the_windows() {
    let mut cfg = limits(1, 2000);
    cfg.limits.window_secs = 2.0;
    let srv = start(cfg).await;
    assert_eq!(srv.v1(&v1_batch("s0", 1)).await.status, 200);
    let r = srv.v1(&v1_batch("s1", 1)).await;
    assert_eq!((r.status, r.header("retry-after")), (429, Some("2")));
    assert_eq!(r.json()["code"], "rate_limited");
    srv.clock.advance(2_000);
    assert_eq!(srv.v1(&v1_batch("s2", 1)).await.status, 200);
}

#[tokio::test]
async fn monthly_quota_429_until_the_first_of_next_month() {
    let mut cfg = config();
    cfg.limits.monthly_quota = Some(3);
    // 2026-01-31T23:59:30Z: the quota resets in 30 s.
    let t = days_from_civil(2026, 1, 31) as u64 * 86_400_000 + 86_370_000;
    cfg.clock.set(t);
    let srv = start(cfg).await;
    assert_eq!(srv.v1(&v1_batch("q", 2)).await.status, 200);
    let r = srv.v1(&v1_batch("q2", 2)).await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json(),
        json!({"success": false, "error": "Monthly event quota exceeded"})
    );
    assert_eq!(r.header("retry-after"), Some("30"));
    // Duplicates cost no quota; one new event still fits.
    assert_eq!(srv.v1(&v1_batch("q", 2)).await.status, 200);
    assert_eq!(srv.v1(&v1_batch("q3", 1)).await.status, 200);
    assert_eq!(srv.v1(&v1_batch("q4", 1)).await.status, 429);
    // A new month, a new quota.
    srv.clock.advance(30_000);
    assert_eq!(srv.v1(&v1_batch("q5", 3)).await.status, 200);
    assert_eq!(srv.events().await.len(), 6);
}

#[tokio::test]
async fn monthly_quota_retry_after_mid_month_and_lifted_at_run_time() {
    let srv = start_default().await;
    srv.control("/_config", &json!({"monthly_quota": 0})).await;
    let r = srv.v1(&v1_batch("h", 10)).await;
    assert_eq!(r.status, 429);
    // From 2026-01-15T00:00:00Z to 2026-02-01T00:00:00Z: 17 days.
    assert_eq!(r.header("retry-after"), Some("1468800"));
    let lifted = srv
        .control("/_config", &json!({"monthly_quota": null}))
        .await;
    assert_eq!(lifted.json()["monthly_quota"], Value::Null);
    assert_eq!(srv.v1(&v1_batch("h", 10)).await.status, 200);
    assert_eq!(srv.events().await.len(), 10);
}

#[tokio::test]
async fn concurrent_posts_store_every_event_once() {
    let srv = start_default().await;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let addr = srv.addr;
        tasks.push(tokio::spawn(async move {
            let mut conn = collector::client::Conn::connect(addr).await.unwrap();
            for i in 0..5 {
                // Every task also resends task 0's first batch: de-dup must hold under races.
                for body in [v1_batch(&format!("t{t}-{i}"), 10), v1_batch("t0-0", 10)] {
                    let h = [
                        ("Authorization", "Bearer uk_live_demo"),
                        ("Content-Type", "application/json"),
                    ];
                    let r = tokio::time::timeout(
                        Duration::from_secs(20),
                        conn.request("POST", "/v1-batch", &h, body.to_string().as_bytes()),
                    )
                    .await
                    .unwrap()
                    .unwrap();
                    assert_eq!(r.status, 200);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(srv.events().await.len(), 8 * 5 * 10);
}
