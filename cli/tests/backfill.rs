//! `batchwire send` / `check` end to end against the reference collector.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;

const HIGH: [&str; 4] = ["--rate-per-ip", "1000000", "--rate-per-org", "1000000"];

/// 100,000 events through Amplitude Batch (2,000 a request) with 30 % of requests failing and
/// 10 % stored and then dropped without an answer: each stored exactly once.
#[test]
fn amplitude_batch_100k_with_failures_and_drops_arrive_exactly_once() {
    let d = dir("batch100k");
    let f = d.join("events.ndjson");
    std::fs::write(&f, ndjson(100_000, 5_000)).unwrap();
    let base = collector(&[
        "--fail-rate",
        "0.3",
        "--drop-rate",
        "0.1",
        "--seed",
        "7",
        "--eps-batch",
        "1000000",
    ]);
    let out = send(
        &base,
        "amplitude-batch",
        AMP_KEY,
        &["--identity-events-per-second", "0"],
        &[&f],
    )
    .output()
    .unwrap();
    assert_success(&out);
    let s = summary(&out);
    assert_eq!(s["delivered"], 100_000);
    assert!(
        s["retried"].as_u64().unwrap() > 0,
        "faults were injected: {s}"
    );
    assert_exactly_once(&stored(&base), 100_000);
    let st = stats(&base);
    assert!(st["dropped"].as_u64().unwrap() > 0, "{st}");
}

/// The same on /v1-batch (100 events a request), fewer events to keep the test quick: every
/// failure costs the engine's 500 ms retry floor. Users without an anonymousId get the derived one.
#[test]
fn v1_batch_with_failures_and_drops_arrive_exactly_once() {
    let d = dir("v1faults");
    let f = d.join("events.ndjson");
    std::fs::write(&f, ndjson(4_000, 40)).unwrap();
    let mut flags = HIGH.to_vec();
    flags.extend(["--fail-rate", "0.3", "--drop-rate", "0.1", "--seed", "3"]);
    let base = collector(&flags);
    let out = send(
        &base,
        "v1-batch",
        KEY,
        &["--requests-per-window", "0"],
        &[&f],
    )
    .output()
    .unwrap();
    assert_success(&out);
    let events = stored(&base);
    assert_exactly_once(&events, 4_000);
    let e = &events[0];
    let anon = e["anonymousId"].as_str().expect("a derived anonymousId");
    let user = e["userId"].as_str().unwrap();
    assert_eq!(
        anon,
        batchwire::core::derive_id(batchwire::core::Derived::AnonymousId, user.as_bytes())
    );
}

/// `kill -9` at a random moment, then the same command again: every event stored exactly once,
/// and the second run skipped what the checkpoint recorded.
#[test]
fn killed_and_resumed_sends_each_event_exactly_once() {
    let d = dir("resume");
    let f = d.join("events.ndjson");
    let n = 6_000;
    std::fs::write(&f, ndjson(n, 60)).unwrap();
    let mut flags = HIGH.to_vec();
    flags.extend(["--latency-ms", "25", "--drop-rate", "0.3", "--seed", "11"]);
    let base = collector(&flags);
    let extra = ["--requests-per-window", "0", "--max-batch-bytes", "8000"];
    // Three runs killed at random points after some acknowledgements (a whole run takes about
    // 2 s), each resuming the one before.
    let cp = d.join("events.ndjson.batchwire-checkpoint");
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    for _ in 0..3 {
        let mut child = send(&base, "v1-batch", KEY, &extra, &[&f])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let start = std::fs::read_to_string(&cp).map_or(0, |t| t.lines().count() as u64);
        let target_lines = start + 1 + (seed >> 33) % 10; // of 120 requests
        eprintln!("killing at {target_lines} checkpoint lines (seed {seed})");
        for _ in 0..2_000 {
            let lines = std::fs::read_to_string(&cp).map_or(0, |t| t.lines().count() as u64);
            if lines >= target_lines {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let before = stored(&base).len() as u64;
    assert!(before < n, "killed before the end ({before} stored)");

    let out = send(&base, "v1-batch", KEY, &extra, &[&f])
        .output()
        .unwrap();
    assert_success(&out);
    let s = summary(&out);
    let skipped = s["skipped"].as_u64().unwrap();
    assert!(
        skipped > 0 && skipped < n,
        "resumed from the checkpoint: {s}"
    );
    assert_eq!(skipped + s["delivered"].as_u64().unwrap(), n, "{s}");
    assert_exactly_once(&stored(&base), n);

    // A third run finds everything done and sends nothing.
    let out = send(&base, "v1-batch", KEY, &extra, &[&f])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(summary(&out)["requests"], 0);
}

/// `check` names every bad line with its number and rule, and sends nothing.
#[test]
fn check_names_all_twenty_bad_lines() {
    let d = dir("check");
    let f = d.join("mixed.ndjson");
    let good = ndjson(180, 10);
    let mut good = good.lines();
    let long_name = "x".repeat(201);
    let long_id = "m".repeat(129);
    let bad = [
        "{not json".to_string(),
        "[1,2]".to_string(),
        r#"{"type":"track","userId":"u-1"}"#.to_string(), // no event name (engine)
        format!(r#"{{"type":"track","event":"{long_name}","userId":"u-1"}}"#), // too long (engine)
        format!(r#"{{"event":"e","userId":"u-1","messageId":"{long_id}"}}"#), // engine
        r#"{"event":"e","userId":"u-1","timestamp":"yesterday"}"#.to_string(),
        r#"{"event":"e","userId":"u-1","properties":[1]}"#.to_string(),
        r#"{"event":"e","userId":"u-1","evnt":"typo"}"#.to_string(),
        r#"{"type":"page_view","event":"e","userId":"u-1"}"#.to_string(),
        r#"{"event":"e"}"#.to_string(), // no identity (engine)
        r#"{"event":"e","userId":"u-1","traits":"x"}"#.to_string(),
        r#"{"event":"e","userId":{"a":1}}"#.to_string(),
        r#"{"event":"e","userId":"u-1","timestamp":-5}"#.to_string(),
        r#"{"event":"e","userId":"u-1","context":7}"#.to_string(),
        r#"{"type":"group","userId":"u-1"}"#.to_string(), // no groupId (engine)
        r#"{"type":"alias","userId":"u-1"}"#.to_string(), // no previousId (engine)
        r#"{"event":"e","userId":"u-1","timestamp":"2024-13-01"}"#.to_string(),
        r#"{"event":"e","userId":"u-1","timestamp":"99999-01-01"}"#.to_string(),
        "\"just a string\"".to_string(),
        r#"{"event":"e","userId":"u-1","properties":{"a":1}"#.to_string(),
    ];
    assert_eq!(bad.len(), 20);
    let mut text = String::new();
    let mut bad_lines = Vec::new();
    let mut k = 0;
    for line in 1..=200u64 {
        if line % 10 == 3 && k < bad.len() {
            text.push_str(&bad[k]);
            k += 1;
            bad_lines.push(line);
        } else {
            text.push_str(good.next().unwrap());
        }
        text.push('\n');
    }
    std::fs::write(&f, text).unwrap();
    let out = batchwire().arg("check").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8_lossy(&out.stdout);
    let named: Vec<u64> = report
        .lines()
        .map(|l| {
            let rest = l.strip_prefix(&format!("{}:", f.display())).unwrap();
            rest.split(':').next().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(named, bad_lines, "{report}");
    assert!(report.contains("E_INVALID_EVENT"), "engine rules: {report}");
    assert!(report.contains("E_PARSE"), "{report}");

    let clean = d.join("clean.ndjson");
    std::fs::write(&clean, ndjson(50, 5)).unwrap();
    let out = batchwire().arg("check").arg(&clean).output().unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
}

/// CSV through a mapping file, and gzip NDJSON (named without .gz: the magic bytes decide).
#[test]
fn csv_with_mapping_and_gzip_input() {
    let d = dir("csvgz");
    let csv = d.join("events.csv");
    std::fs::write(
        &csv,
        "user,what,when,price,secret,i\n\
         user-1,Signed Up,2024-01-02T03:04:05Z,9.5,s1,0\n\
         user-2,Bought,1704164645000,12,s2,1\n\
         user-3,\"Bought, twice\",2024-01-02,0,s3,2\n",
    )
    .unwrap();
    let map = d.join("mapping.json");
    std::fs::write(
        &map,
        r#"{"version":1,
            "events":{"rename":{"Signed Up":"signup"}},
            "properties":{"rename":{"price":"amount"},"drop":["secret"]},
            "columns":{"user":"userId","what":"event","when":"timestamp",
                       "price":"properties.price:number","secret":"properties.secret",
                       "i":"properties.i:number"}}"#,
    )
    .unwrap();
    let gz = d.join("more.ndjson");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for i in 3..10 {
        writeln!(
            enc,
            r#"{{"event":"Signed Up","userId":"user-{i}","properties":{{"i":{i},"secret":"x"}}}}"#
        )
        .unwrap();
    }
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();

    let base = collector(&HIGH);
    let m = map.to_str().unwrap();
    let out = send(&base, "v1-batch", KEY, &["--mapping", m], &[&csv, &gz])
        .output()
        .unwrap();
    assert_success(&out);
    let events = stored(&base);
    assert_exactly_once(&events, 10);
    let by_i = |i: u64| {
        events
            .iter()
            .find(|e| e["properties"]["i"] == i)
            .unwrap()
            .clone()
    };
    let first = by_i(0);
    assert_eq!(first["event"], "signup");
    assert_eq!(first["userId"], "user-1");
    assert_eq!(first["properties"]["amount"], 9.5);
    assert!(first["properties"].get("secret").is_none());
    assert_eq!(first["timestamp"], "2024-01-02T03:04:05.000Z");
    assert_eq!(by_i(1)["timestamp"], "2024-01-02T03:04:05.000Z");
    assert_eq!(by_i(2)["event"], "Bought, twice");
    assert_eq!(by_i(5)["event"], "signup");
    assert!(by_i(5)["properties"].get("secret").is_none());

    // A bad mapping is refused at load, before anything is read.
    std::fs::write(&map, r#"{"columns":{"user":"usr"}}"#).unwrap();
    let out = send(&base, "v1-batch", KEY, &["--mapping", m], &[&csv])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a field"));
}

/// A server that refuses the events: exit status 1 and every event in the rejects file with why.
#[test]
fn rejected_events_go_to_the_rejects_file_and_fail_the_exit_status() {
    let d = dir("rejects");
    let f = d.join("events.ndjson");
    let mut text = ndjson(30, 3);
    text.push_str("{broken\n");
    std::fs::write(&f, text).unwrap();
    let base = collector(&HIGH);
    let rejects = d.join("rejects.ndjson");
    let r = rejects.to_str().unwrap();
    let out = send(&base, "v1-batch", "uk_wrong_key", &["--rejects", r], &[&f])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 31);
    assert_eq!(
        lines.iter().filter(|l| l["code"] == "E_HTTP").count(),
        30,
        "{lines:?}"
    );
    assert!(lines
        .iter()
        .any(|l| l["code"] == "E_PARSE" && l["line"] == 31));
    assert!(lines
        .iter()
        .all(|l| l["reason"].as_str().is_some_and(|r| !r.is_empty())));
    assert_eq!(stored(&base).len(), 0);
    // The key fixed: a plain resume leaves the failed events alone; --retry-failed sends them.
    let again = send(&base, "v1-batch", "uk_live_demo", &["--rejects", r], &[&f])
        .output()
        .unwrap();
    assert_eq!(summary(&again)["skipped"], 31);
    assert_eq!(stored(&base).len(), 0);
    let retried = send(
        &base,
        "v1-batch",
        "uk_live_demo",
        &["--rejects", r, "--retry-failed"],
        &[&f],
    )
    .output()
    .unwrap();
    assert_eq!(summary(&retried)["delivered"], 30, "{retried:?}");
    assert_eq!(retried.status.code(), Some(1), "line 31 is still broken");
    assert_eq!(stored(&base).len(), 30);
}

/// Paced to a scaled /v1-batch cap (10 requests per 6 s window; 15 requests to send, the CLI told the window): the
/// backlog drains without meeting more than one 429.
#[test]
fn paced_to_the_servers_request_cap() {
    let d = dir("paced");
    let f = d.join("events.ndjson");
    std::fs::write(&f, ndjson(1_500, 30)).unwrap();
    let base = collector(&["--rate-per-ip", "10", "--window-secs", "6"]);
    let extra = ["--requests-per-window", "10", "--rate-window-ms", "6000"];
    let out = send(&base, "v1-batch", KEY, &extra, &[&f])
        .output()
        .unwrap();
    assert_success(&out);
    assert_exactly_once(&stored(&base), 1_500);
    let st = stats(&base);
    let limited = st["requests"]["by_status"]["429"].as_u64().unwrap_or(0);
    assert!(limited <= 1, "{limited} requests answered 429: {st}");
}

/// HTTP V2 keeps each device's order: the CLI sends one request at a time there (the engine
/// keeps a device's order across requests only so), many requests of several devices each.
#[test]
fn http_v2_keeps_each_devices_order_with_requests_in_flight() {
    let d = dir("v2order");
    let f = d.join("events.ndjson");
    let mut text = String::new();
    for i in 0..600u64 {
        text.push_str(&format!(
            "{{\"event\":\"e\",\"userId\":\"user-{:03}\",\"anonymousId\":\"device-{:03}\",\
             \"properties\":{{\"i\":{i}}}}}\n",
            i % 20,
            i % 20
        ));
    }
    std::fs::write(&f, text).unwrap();
    let base = collector(&["--eps-v2", "1000"]);
    let out = send(
        &base,
        "amplitude-http-v2",
        AMP_KEY,
        &[
            "--max-batch-bytes",
            "4000",
            "--identity-events-per-second",
            "1000",
        ],
        &[&f],
    )
    .output()
    .unwrap();
    assert_success(&out);
    let events = stored(&base);
    assert_exactly_once(&events, 600);
    let mut last: std::collections::HashMap<String, u64> = Default::default();
    for e in &events {
        let device = e["device_id"].as_str().unwrap().to_string();
        let i = e["event_properties"]["i"].as_u64().unwrap();
        if let Some(prev) = last.insert(device.clone(), i) {
            assert!(prev < i, "{device}: {i} stored after {prev}");
        }
    }
    assert!(summary(&out)["requests"].as_u64().unwrap() > 4);
}

/// gzip NDJSON on stdin (`-`), read once: nothing is counted ahead from a pipe.
#[test]
fn gzip_from_stdin() {
    let d = dir("stdin");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(ndjson(250, 5).as_bytes()).unwrap();
    let gz = enc.finish().unwrap();
    let base = collector(&HIGH);
    let cp = d.join("cp");
    let mut child = send(
        &base,
        "v1-batch",
        KEY,
        &["--checkpoint", cp.to_str().unwrap()],
        &[std::path::Path::new("-")],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    child.stdin.take().unwrap().write_all(&gz).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_success(&out);
    assert_exactly_once(&stored(&base), 250);
}
