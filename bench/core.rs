//! Native benchmark of the delivery engine: `cargo bench -p batchwire --bench core`.
//!
//! - Throughput of enqueue alone (validate + encode once + store, into queues of the default
//!   10,000-event bound), and of the whole cycle a driver runs (enqueue, plan and build the request
//!   body, acknowledge it, drain the app events), for a realistic track event with 10 properties
//!   and a small context. Median of 7 runs of 200,000 events. Target: 1,000,000 events/s.
//! - Memory held per queued event as a ratio of its encoded JSON bytes, measured by a counting
//!   global allocator with 10,000 events queued (the default bound). Target: at most 1.5.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use batchwire::core::{Config, EventInput, EventKind, Pipeline, Protocol, Response};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const RUNS: usize = 7;
const EVENTS: usize = 200_000;
const QUEUE: usize = 10_000;
const NOW: u64 = 1_795_573_057_123;

fn event(protocol: Protocol) -> EventInput {
    let amplitude = protocol != Protocol::V1Batch;
    EventInput {
        kind: EventKind::Track,
        event: Some("Product Added".into()),
        anonymous_id: Some("3f1c2e9a-6b7d-4e21-9a0c-5d8f7b6e4a21".into()),
        user_id: Some("user-48213".into()),
        properties: Some(
            r#"{"product_id":"sku-12345","name":"Ergonomic Keyboard","price":129.99,"currency":"EUR","quantity":2,"category":"peripherals","coupon":null,"in_stock":true,"tags":["wireless","bluetooth"],"position":3}"#
                .into(),
        ),
        context: (!amplitude).then(|| {
            r#"{"page":{"path":"/shop/keyboards","title":"Keyboards"},"locale":"en-GB","userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"}"#
                .into()
        }),
        ..Default::default()
    }
}

fn pipeline(protocol: Protocol) -> Pipeline {
    let config = Config {
        seed: 0x5eed,
        max_queue_events: EVENTS + 1,
        max_queue_bytes: 1 << 30,
        // Not paced: the clock stands still here, and the default budgets (100 requests a
        // minute; 30 events a second per identity) would hold most of the cycle's events.
        requests_per_window: 0,
        identity_events_per_second: 0,
        ..Config::new(protocol, "uk_live_bench")
    };
    Pipeline::new(config).expect("valid config")
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

/// Events per second: enqueue only (queue grows), then the full cycle (queue stays small).
fn throughput(protocol: Protocol) -> (f64, f64) {
    let template = event(protocol);
    // The protocol's success answer for a request of `n` events (the engine checks the count).
    let ok = |n: usize| {
        let body = match protocol {
            Protocol::V1Batch => format!(r#"{{"success":true,"accepted":{n},"failed":0}}"#),
            _ => format!(
                r#"{{"code":200,"events_ingested":{n},"payload_size_bytes":1,"server_upload_time":1}}"#
            ),
        };
        Response {
            status: 200,
            retry_after: None,
            location: None,
            body: body.into_bytes(),
        }
    };
    let mut enqueue_rates = Vec::new();
    let mut cycle_rates = Vec::new();
    for _ in 0..RUNS {
        // Enqueue alone, into queues of the default bound (10,000), fresh for each block.
        let mut elapsed = 0.0;
        for _ in 0..EVENTS / QUEUE {
            let inputs: Vec<EventInput> = (0..QUEUE).map(|_| template.clone()).collect();
            let mut p = pipeline(protocol);
            let start = Instant::now();
            for input in inputs {
                black_box(p.enqueue(NOW, input).expect("valid event"));
            }
            elapsed += start.elapsed().as_secs_f64();
        }
        enqueue_rates.push(EVENTS as f64 / elapsed);

        let inputs: Vec<EventInput> = (0..EVENTS).map(|_| template.clone()).collect();
        let mut p = pipeline(protocol);
        let start = Instant::now();
        let mut bytes = 0usize;
        for input in inputs {
            black_box(p.enqueue(NOW, input).expect("valid event"));
            while let Some(t) = p.poll_transmit(NOW) {
                bytes += t.body.len();
                p.handle_response(NOW, t.id, ok(t.events.len()));
            }
            while p.poll_event().is_some() {}
        }
        cycle_rates.push(EVENTS as f64 / start.elapsed().as_secs_f64());
        assert_eq!(p.stats().delivered as usize, EVENTS);
        black_box(bytes);
    }
    (median(enqueue_rates), median(cycle_rates))
}

/// (bytes held per event, encoded JSON bytes per event) with `n` events queued.
fn memory(protocol: Protocol, n: usize) -> (f64, f64) {
    let mut p = pipeline(protocol);
    let before = LIVE.load(Ordering::Relaxed);
    // Each input is built and consumed inside the loop, so the difference is what the pipeline
    // keeps.
    for _ in 0..n {
        p.enqueue(NOW, event(protocol)).expect("valid event");
    }
    let held = LIVE.load(Ordering::Relaxed) - before;
    let json = p.stats().queued_bytes;
    black_box(&p);
    (held as f64 / n as f64, json as f64 / n as f64)
}

fn main() {
    println!(
        "batchwire core bench: median of {RUNS} runs x {EVENTS} events (10-property track event)"
    );
    println!("reproduce: cargo bench -p batchwire --bench core\n");
    println!("| protocol | enqueue events/s | enqueue+plan+encode+ack events/s | JSON B/event | held B/event | memory ratio |");
    println!("|---|---:|---:|---:|---:|---:|");
    for protocol in [Protocol::V1Batch, Protocol::AmplitudeHttpV2] {
        let (enqueue, cycle) = throughput(protocol);
        let (held, json) = memory(protocol, QUEUE);
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2}x |",
            protocol.name(),
            enqueue,
            cycle,
            json,
            held,
            held / json
        );
    }
    println!("\ntargets: >= 1,000,000 events/s; memory ratio <= 1.50x (10,000 events queued)");
}
