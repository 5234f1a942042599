//! The reference collector, embedded (the library the `collector` binary runs, with the same
//! flags) on 127.0.0.1 port 0, and helpers to run the `batchwire` binary against it.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use collector::config::{parse_args, Cli};

pub const KEY: &str = "uk_live_demo";
pub const AMP_KEY: &str = "amp_demo_key";

/// Starts a collector with these flags; returns its base URL. It runs until the test ends.
pub fn collector(flags: &[&str]) -> String {
    let args = flags.iter().map(|s| s.to_string());
    let cfg = match parse_args(args) {
        Ok(Cli::Run(c)) => *c,
        _ => panic!("bad collector flags {flags:?}"),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            collector::serve(l, cfg).await
        })
    });
    format!("http://{}", rx.recv().unwrap())
}

/// The events the collector stored (de-duplicated by it), as JSON objects.
pub fn stored(base: &str) -> Vec<serde_json::Value> {
    let mut text = String::new();
    ureq::get(&format!("{base}/_events"))
        .call()
        .unwrap()
        .into_reader()
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The collector's `/_stats` without the log.
pub fn stats(base: &str) -> serde_json::Value {
    let text = ureq::get(&format!("{base}/_stats?log=false"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// How many times each value of `properties.i` (/v1-batch) or `event_properties.i` (Amplitude)
/// was stored.
pub fn counts_of_i(events: &[serde_json::Value]) -> HashMap<u64, u32> {
    let mut m = HashMap::new();
    for e in events {
        let i = e
            .get("properties")
            .or_else(|| e.get("event_properties"))
            .and_then(|p| p.get("i"))
            .and_then(|v| v.as_u64())
            .unwrap_or_else(|| panic!("no i in {e}"));
        *m.entry(i).or_insert(0) += 1;
    }
    m
}

/// Asserts every i in 0..n was stored exactly once.
pub fn assert_exactly_once(events: &[serde_json::Value], n: u64) {
    let c = counts_of_i(events);
    let missing = (0..n).filter(|i| !c.contains_key(i)).count();
    let twice = c.values().filter(|&&k| k > 1).count();
    if let Some((&i, _)) = c.iter().find(|(_, &k)| k > 1) {
        for e in events.iter().filter(|e| {
            e.get("properties")
                .or_else(|| e.get("event_properties"))
                .and_then(|p| p.get("i"))
                .and_then(|v| v.as_u64())
                == Some(i)
        }) {
            eprintln!("stored twice: {e}");
        }
    }
    assert_eq!(
        (missing, twice, events.len() as u64),
        (0, 0, n),
        "missing, duplicated, stored"
    );
}

/// A fresh directory for a test's files.
pub fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// NDJSON of `n` track events, `users` distinct users, `properties.i` numbering them.
pub fn ndjson(n: u64, users: u64) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "{{\"type\":\"track\",\"event\":\"Backfilled {}\",\"userId\":\"user-{:05}\",\
             \"properties\":{{\"i\":{i}}},\"timestamp\":\"2024-03-01T12:00:00Z\"}}\n",
            i % 5,
            i % users
        ));
    }
    s
}

pub fn batchwire() -> Command {
    Command::new(env!("CARGO_BIN_EXE_batchwire"))
}

/// Fails the test with the program's stderr unless it exited with success.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `batchwire send` with fast retries (the engine's 500 ms floor still holds).
pub fn send(base: &str, protocol: &str, key: &str, extra: &[&str], files: &[&Path]) -> Command {
    let mut c = batchwire();
    c.args([
        "send",
        "--protocol",
        protocol,
        "--api-host",
        base,
        "--key",
        key,
        "--backoff-base-ms",
        "1",
        "--backoff-max-ms",
        "1",
        "--no-progress",
    ]);
    c.args(extra);
    c.args(files);
    c
}

/// The JSON summary `send` prints last on stdout.
pub fn summary(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_else(|| {
        panic!(
            "no summary; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    serde_json::from_str(last).unwrap()
}
