//! Load test on loopback: starts its own collector on 127.0.0.1:0 in this process, has N
//! keep-alive clients post realistic 100-event `/v1-batch` bodies for a fixed time, and reports
//! sustained requests/s, events/s, latency and the process's memory before and after.
//!
//! `cargo run --release -p collector --example load -- --secs 10 --concurrency 16`
//!
//! Bounded by design: it stops after `--secs` (at most 600) or `--max-requests`, whichever first,
//! and it only ever talks to the server it started.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use collector::client::Conn;
use collector::Config;
use tokio::net::TcpListener;

struct Args {
    secs: u64,
    concurrency: usize,
    events: usize,
    max_requests: u64,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        secs: 10,
        concurrency: 16,
        events: 100,
        max_requests: 10_000_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut num = || -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--secs" => a.secs = num()?.clamp(1, 600),
            "--concurrency" => a.concurrency = num()?.clamp(1, 1024) as usize,
            "--events" => a.events = num()?.clamp(1, 100) as usize,
            "--max-requests" => a.max_requests = num()?.max(1),
            "-h" | "--help" => {
                return Err(
                    "usage: load [--secs 10] [--concurrency 16] [--events 100] [--max-requests N]"
                        .into(),
                )
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(a)
}

/// (VmRSS, VmHWM) in KiB from /proc/self/status; zeros where unavailable.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A realistic browser track event (~500 bytes); `{MID}` is replaced per event.
const EVENT: &str = r#"{"type":"track","event":"Product Viewed","messageId":"{MID}","anonymousId":"3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f","userId":"user-48213","timestamp":"2026-01-15T10:21:33.412Z","properties":{"product_id":"sku-10442","name":"Trail Running Shoe","category":"Footwear","price":129.95,"currency":"USD","quantity":1,"position":3,"in_stock":true},"context":{"library":{"name":"batchwire","version":"0.1.0"},"page":{"path":"/products/sku-10442","url":"https://shop.example/products/sku-10442","referrer":"https://shop.example/search?q=shoes"},"locale":"en-US","userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"}}"#;

fn body(worker: usize, seq: u64, events: usize) -> Vec<u8> {
    let (head, tail) = EVENT.split_once("{MID}").unwrap_or((EVENT, ""));
    let mut b = Vec::with_capacity(events * (EVENT.len() + 16) + 16);
    b.extend_from_slice(b"{\"batch\":[");
    for i in 0..events {
        if i > 0 {
            b.push(b',');
        }
        b.extend_from_slice(head.as_bytes());
        b.extend_from_slice(format!("w{worker}-{seq}-{i}").as_bytes());
        b.extend_from_slice(tail.as_bytes());
    }
    b.extend_from_slice(b"]}");
    b
}

#[tokio::main]
async fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut cfg = Config::default();
    // The load is the point: the per-minute limits would stop it after 100 requests.
    cfg.limits.rate_per_ip = u64::MAX;
    cfg.limits.rate_per_org = u64::MAX;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let server = tokio::spawn(collector::serve(listener, cfg));
    let (rss_before, _) = memory_kib();
    println!(
        "load: {} clients x {} events/request for {} s against {addr} (in-process collector)",
        args.concurrency, args.events, args.secs
    );

    let sent = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.secs);
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let (sent, failed, bytes) = (sent.clone(), failed.clone(), bytes.clone());
        let (events, max) = (args.events, args.max_requests);
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut conn = Conn::connect(addr).await.expect("connect");
            let headers = [
                ("Authorization", "Bearer uk_live_demo"),
                ("Content-Type", "application/json"),
            ];
            let mut seq = 0u64;
            while Instant::now() < deadline && sent.fetch_add(1, Ordering::Relaxed) < max {
                let b = body(w, seq, events);
                seq += 1;
                let t = Instant::now();
                match conn.request("POST", "/v1-batch", &headers, &b).await {
                    Ok(r) if r.status == 200 => {
                        bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
                        latencies.push(t.elapsed());
                    }
                    Ok(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        conn = Conn::connect(addr).await.expect("reconnect");
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.unwrap_or_default());
    }
    let elapsed = start.elapsed().as_secs_f64();
    let (rss_after, hwm) = memory_kib();

    // Ask the server itself how much it ingested: the client's count is not proof.
    let stats = collector::client::send(addr, "GET", "/_stats?log=false", &[], b"")
        .await
        .map(|r| r.json())
        .unwrap_or_default();
    server.abort();

    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    let ok = latencies.len() as f64;
    println!(
        "requests ok: {}  failed: {}  in {elapsed:.1} s",
        latencies.len(),
        failed.load(Ordering::Relaxed)
    );
    println!(
        "sustained: {:.0} requests/s, {:.0} events/s, {:.1} MB/s of request bodies",
        ok / elapsed,
        ok * args.events as f64 / elapsed,
        bytes.load(Ordering::Relaxed) as f64 / elapsed / 1e6
    );
    println!(
        "latency ms: p50 {:.2}  p99 {:.2}  max {:.2}",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "server: ingested {} events, stored {} (evicted {}), duplicates {}",
        stats["events"]["ingested"],
        stats["events"]["stored"],
        stats["events"]["evicted"],
        stats["events"]["duplicates"]
    );
    println!(
        "memory (whole process, server + clients): RSS before {:.1} MiB, after {:.1} MiB, peak {:.1} MiB",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
}
