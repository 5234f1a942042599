//! Malformed input of every kind gets the documented error (never a 500 or a hang), CORS holds on
//! every response, and the binary starts the way scripts expect.

mod common;

use std::process::Stdio;

use common::*;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const GARBAGE: [&[u8]; 13] = [
    b"",
    b" ",
    b"null",
    b"[]",
    b"{",
    b"{\"batch\": {}}",
    b"{\"batch\": \"x\"}",
    b"{\"batch\": null}",
    b"{\"events\": 5, \"api_key\": 5}",
    b"\xff\xfe\x00garbage",
    b"\"just a string\"",
    b"{\"a\":1}{\"b\":2}",
    b"{\"batch\": [{\"type\": \"track\"}],}",
];

#[tokio::test]
async fn garbage_bodies_are_400_everywhere() {
    let srv = start_default().await;
    let mut deep = String::new();
    for _ in 0..10_000 {
        deep.push('[');
    }
    let deep = format!("{{\"batch\": {deep}}}");
    let bodies: Vec<&[u8]> = GARBAGE.iter().copied().chain([deep.as_bytes()]).collect();
    for body in bodies {
        let v1 = srv.v1_raw(WRITE, body).await;
        assert_eq!(v1.status, 400, "v1 {:?}", String::from_utf8_lossy(body));
        assert_eq!(v1.json()["success"], false);
        for path in ["/2/httpapi", "/batch"] {
            let r = srv.amp_raw(path, body).await;
            assert_eq!(r.status, 400, "{path} {:?}", String::from_utf8_lossy(body));
            assert_eq!(r.json()["code"], 400);
        }
    }
    assert_eq!(srv.get("/_health").await.status, 200);
    assert!(srv.events().await.is_empty());
}

#[tokio::test]
async fn wrong_types_inside_events_are_rejected_not_crashed_on() {
    let srv = start_default().await;
    let weird = [
        json!(null),
        json!([]),
        json!("s"),
        json!(1.5),
        json!({"type": 5, "messageId": {}}),
        json!({"type": "track", "messageId": "m", "anonymousId": "a", "timestamp": "2026-01-15T00:00:00Z",
            "event": "e", "properties": "not an object"}),
        json!({"type": "identify", "messageId": "m2", "anonymousId": "a", "timestamp": "2026-01-15T00:00:00Z",
            "userId": 42}),
    ];
    let r = srv.v1(&json!({"batch": weird})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["failed"], weird.len());
    // Valid JSON that no parser can hold: that event is rejected, the body is not.
    let huge = br#"{"batch": [1e999999, {"type": "track", "n": 1e999999}]}"#;
    let r = srv.v1_raw(WRITE, huge).await;
    assert_eq!((r.status, r.json()["failed"].clone()), (200, json!(2)));
    for path in ["/2/httpapi", "/batch"] {
        assert_eq!(srv.amp_raw(path, huge).await.status, 400);
    }
    let amp = [
        json!(null),
        json!({"event_type": 5, "user_id": "user-1"}),
        json!({"event_type": "e", "user_id": ["user-1"]}),
        json!({"event_type": "e", "user_id": "user-1", "time": -5}),
        json!({"event_type": "e", "user_id": "user-1", "event_properties": []}),
        json!({"event_type": "e", "user_id": "user-1", "session_id": "s"}),
        json!({"event_type": "e", "user_id": "user-1", "time": 1.7e12}),
    ];
    for path in ["/2/httpapi", "/batch"] {
        let r = srv.amp(path, &amp_body(amp.to_vec())).await;
        assert_eq!(r.status, 400);
        let j = r.json();
        let invalid = j["events_with_invalid_fields"].as_object().unwrap();
        let mut idx: Vec<u64> = invalid
            .values()
            .flat_map(|v| v.as_array().unwrap().iter().map(|i| i.as_u64().unwrap()))
            .collect();
        idx.sort();
        assert_eq!(idx, vec![0, 1, 2, 3, 4, 5, 6], "{j}");
    }
    assert!(srv.events().await.is_empty());
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let srv = start_default().await;
    let r = srv.get("/v1-batch").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["success"], false);
    let r = srv.get("/nope").await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (404, json!("Not found"))
    );
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some("Retry-After")
    );
}

#[tokio::test]
async fn a_stalled_body_times_out_with_408() {
    let mut cfg = config();
    cfg.body_timeout_ms = 300;
    let srv = start(cfg).await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    let head = "POST /batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"api";
    s.write_all(head.as_bytes()).await.unwrap();
    let mut r = BufReader::new(s);
    let resp = tokio::time::timeout(PATIENCE, collector::client::read_response(&mut r))
        .await
        .expect("no hang")
        .unwrap();
    assert_eq!(resp.status, 408);
    assert_eq!(resp.json()["code"], 408);
}

#[tokio::test]
async fn malformed_http_does_not_take_the_server_down() {
    let srv = start_default().await;
    for raw in [
        &b"GARBAGE\r\n\r\n"[..],
        b"POST /v1-batch HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"POST /v1-batch HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"\x00\x01\x02\x03",
    ] {
        let mut s = TcpStream::connect(srv.addr).await.unwrap();
        let _ = s.write_all(raw).await;
        let _ = s.shutdown().await;
        let mut buf = Vec::new();
        let read = tokio::io::AsyncReadExt::read_to_end(&mut s, &mut buf);
        tokio::time::timeout(PATIENCE, read)
            .await
            .expect("no hang")
            .ok();
        if !buf.is_empty() {
            assert!(
                !String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 5"),
                "{raw:?}"
            );
        }
    }
    assert_eq!(srv.get("/_health").await.status, 200);
}

#[tokio::test]
async fn cors_preflight_and_headers_on_every_response() {
    let srv = start_default().await;
    let pre = [
        ("Origin", "https://app.example"),
        ("Access-Control-Request-Method", "POST"),
        (
            "Access-Control-Request-Headers",
            "authorization,content-type",
        ),
    ];
    for path in ["/v1-batch", "/2/httpapi", "/batch"] {
        let r = srv.request("OPTIONS", path, &pre, b"").await;
        assert!(r.status == 204, "{path}: {}", r.status);
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        assert!(r
            .header("access-control-allow-methods")
            .unwrap()
            .contains("POST"));
        let allowed = r
            .header("access-control-allow-headers")
            .unwrap()
            .to_ascii_lowercase();
        assert!(allowed.contains("authorization") && allowed.contains("content-type"));
        assert_eq!(
            r.header("access-control-expose-headers"),
            Some("Retry-After")
        );
    }
    srv.control("/_config", &json!({"rate_per_ip": 0})).await;
    let origin = [
        ("Origin", "https://app.example"),
        ("Content-Type", "application/json"),
    ];
    let unauth = srv.request("POST", "/v1-batch", &origin, b"{}").await;
    let too_big = srv
        .request("POST", "/v1-batch", &origin, &vec![b' '; 1_048_577])
        .await;
    let auth = [
        ("Origin", "https://app.example"),
        ("Content-Type", "application/json"),
        ("Authorization", "Bearer uk_live_demo"),
    ];
    let limited = srv.request("POST", "/v1-batch", &auth, b"{}").await;
    let amp = srv.request("POST", "/batch", &origin, b"{}").await;
    for (r, status) in [(unauth, 401), (too_big, 413), (limited, 429), (amp, 400)] {
        assert_eq!(r.status, status);
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some("*"),
            "{status}"
        );
        assert_eq!(
            r.header("access-control-expose-headers"),
            Some("Retry-After"),
            "{status}"
        );
    }
    assert_eq!(srv.stats().await["requests"]["preflights"], 3);
}

#[tokio::test]
async fn allow_origin_list_echoes_allowed_and_refuses_others() {
    let mut cfg = config();
    cfg.allow_origins = vec!["https://good.example".into()];
    let srv = start(cfg).await;
    let body = v1_batch("o", 1).to_string();
    let with = |origin: &'static str| {
        [
            ("Origin", origin),
            ("Authorization", "Bearer uk_live_demo"),
            ("Content-Type", "application/json"),
        ]
    };
    let ok = srv
        .request(
            "POST",
            "/v1-batch",
            &with("https://good.example"),
            body.as_bytes(),
        )
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://good.example")
    );
    assert_eq!(ok.header("vary"), Some("Origin"));
    let bad = srv
        .request(
            "POST",
            "/v1-batch",
            &with("https://evil.example"),
            body.as_bytes(),
        )
        .await;
    assert_eq!(bad.status, 403);
    assert_eq!(
        bad.json(),
        json!({"success": false, "error": "Origin not allowed", "code": "origin_not_allowed"})
    );
    assert_eq!(bad.header("access-control-allow-origin"), None);
    let pre = srv
        .request(
            "OPTIONS",
            "/v1-batch",
            &[("Origin", "https://evil.example")],
            b"",
        )
        .await;
    assert_eq!(pre.status, 403);
    // Server-side clients send no Origin and are not affected.
    assert_eq!(srv.v1(&v1_batch("o2", 1)).await.status, 200);
    assert_eq!(srv.events().await.len(), 2);
}

#[tokio::test]
async fn binary_prints_its_real_address_and_help_lists_flags() {
    let exe = env!("CARGO_BIN_EXE_collector");
    let help = tokio::process::Command::new(exe)
        .arg("--help")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--addr",
        "--write-key",
        "--admin-key",
        "--read-key",
        "--amp-api-key",
        "--rate-per-ip",
        "--rate-per-org",
        "--window-secs",
        "--monthly-quota",
        "--eps-v2",
        "--eps-batch",
        "--eps-window-secs",
        "--daily-quota",
        "--daily-window-secs",
        "--v1-max-bytes",
        "--v2-max-bytes",
        "--batch-max-bytes",
        "--min-id-length",
        "--fail-rate",
        "--fail-statuses",
        "--drop-rate",
        "--latency-ms",
        "--latency-rate",
        "--seed",
        "--allow-origin",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
    let bad = tokio::process::Command::new(exe)
        .arg("--bogus")
        .output()
        .await
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));

    let mut child = tokio::process::Command::new(exe)
        .args(["--addr", "127.0.0.1:0", "--write-key", "uk_live_cli:cli"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(PATIENCE, lines.next_line())
        .await
        .expect("ready line")
        .unwrap()
        .unwrap();
    let addr = line
        .strip_prefix("collector listening on http://")
        .expect(&line);
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    assert_ne!(addr.port(), 0);
    let h = [
        ("Authorization", "Bearer uk_live_cli"),
        ("Content-Type", "application/json"),
    ];
    let r = collector::client::send(
        addr,
        "POST",
        "/v1-batch",
        &h,
        v1_batch("cli", 1).to_string().as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    child.kill().await.unwrap();
}
