//! Pacing against the simulated servers' documented limits: a backlog drains at the budget with
//! at most one 429, and an identity over its budget waits alone.

use super::sim::{run, Gen};
use super::*;

const START: Millis = 1_700_000_000_000;

fn backlog(n: usize, identity: u8) -> Vec<Gen> {
    (0..n)
        .map(|_| Gen {
            kind: 0,
            identity,
            pad: 10,
            gap: 0,
        })
        .collect()
}

fn roomy(config: Config) -> Config {
    Config {
        max_queue_events: 50_000,
        max_queue_bytes: 64 << 20,
        ..config
    }
}

#[test]
fn an_http_v2_backlog_of_one_device_drains_at_its_budget_without_livelock() {
    let config = roomy(Config::new(Protocol::AmplitudeHttpV2, "amp-key"));
    let o = run(config, &backlog(10_000, 7), vec![]);
    assert!(
        o.violations.is_empty(),
        "{:#?}",
        &o.violations[..o.violations.len().min(5)]
    );
    assert_eq!(o.delivered.len(), 10_000);
    let drained = o.delivered_at.values().max().unwrap() - START;
    let bound = 10_000 * 1000 / 30 * 105 / 100;
    println!(
        "HTTP V2 10,000 events, one device: {drained} ms (bound {bound}), {} 429s, {} requests",
        o.limit_429s, o.requests
    );
    assert!(drained <= bound, "drained in {drained} ms; bound {bound}");
    assert!(o.limit_429s <= 1, "{} 429s", o.limit_429s);
}

#[test]
fn one_hot_user_is_paced_alone_while_fifty_others_keep_their_rate() {
    // Each second: 45 events of the hot user (its budget is 30 a second), and one event each
    // for five of the fifty others, in turn (each of them every ten seconds).
    const SECS: u64 = 400;
    let mut gens = Vec::new();
    for s in 0..SECS {
        for j in 0..50u64 {
            let identity = if j < 45 {
                100
            } else {
                101 + ((s * 5 + j - 45) % 50) as u8
            };
            gens.push(Gen {
                kind: 0,
                identity,
                pad: 10,
                gap: if j == 0 && s > 0 { 1000 } else { 0 },
            });
        }
    }
    let config = roomy(Config::new(Protocol::AmplitudeHttpV2, "amp-key"));
    let o = run(config, &gens, vec![]);
    assert!(
        o.violations.is_empty(),
        "{:#?}",
        &o.violations[..o.violations.len().min(5)]
    );
    let end_of_traffic = START + (SECS - 1) * 1000;
    let (mut others, mut others_on_time, mut hot_on_time) = (0, 0, 0);
    for (i, (mid, _)) in o.accepted.iter().enumerate() {
        let on_time = o
            .delivered_at
            .get(mid)
            .is_some_and(|&t| t <= end_of_traffic);
        if i % 50 < 45 {
            hot_on_time += usize::from(on_time);
        } else {
            others += 1;
            others_on_time += usize::from(on_time);
        }
    }
    let ratio = others_on_time as f64 / others as f64;
    let hot_rate = hot_on_time as f64 / (SECS - 1) as f64;
    println!("others delivered during the traffic: {ratio:.3} of theirs; hot user {hot_rate:.1}/s; {} 429s", o.limit_429s);
    assert!(ratio >= 0.95, "the others kept {ratio:.3} of their rate");
    assert!(hot_rate <= 30.0, "the hot user went {hot_rate:.1}/s");
    assert!(o.limit_429s <= 1, "{} 429s", o.limit_429s);
    assert!(ratio >= 0.95, "drained at {ratio:.3} of the cap");
}

#[test]
fn a_v1_batch_backlog_drains_at_the_per_minute_cap() {
    let config = roomy(Config::new(Protocol::V1Batch, "uk_live_sim"));
    let o = run(config, &backlog(30_000, 1), vec![]);
    assert!(
        o.violations.is_empty(),
        "{:#?}",
        &o.violations[..o.violations.len().min(5)]
    );
    assert_eq!((o.delivered.len(), o.requests), (30_000, 300));
    // At the cap, the 201st request opens the third window, two minutes after the first.
    let took = o.request_times[200] - o.request_times[0];
    let ratio = 120_000.0 / took as f64;
    println!(
        "/v1-batch 30,000 events: {ratio:.3} of the cap, {} 429s",
        o.limit_429s
    );
    assert!(ratio >= 0.95, "drained at {ratio:.3} of the cap");
    assert!(o.limit_429s <= 1, "{} 429s", o.limit_429s);
    assert!(ratio >= 0.95, "drained at {ratio:.3} of the cap");
}

#[test]
fn repeated_throttles_of_one_device_pause_it_longer_until_one_succeeds() {
    let mut p = Pipeline::new(Config {
        seed: 5,
        flush_at: 1,
        ..Config::new(Protocol::AmplitudeHttpV2, "amp-key")
    })
    .unwrap();
    p.enqueue(0, track("a")).unwrap();
    let throttle = r#"{"code":429,"throttled_devices":{"anon-12345":31}}"#;
    let mut now = 0;
    let mut pauses = Vec::new();
    for _ in 0..8 {
        let t = p.poll_transmit(now).expect("sent when the pause ends");
        p.handle_response(now, t.id, status(429, throttle));
        let until = drain(&mut p)
            .into_iter()
            .find_map(|e| match e {
                AppEvent::IdentityPaused { until, .. } => Some(until),
                _ => None,
            })
            .expect("paused");
        pauses.push(until - now);
        now = until;
    }
    assert_eq!(pauses[0], 30_000, "the documented pause first");
    for (n, &d) in pauses.iter().enumerate() {
        let ceiling = (30_000u64 << n).min(300_000);
        assert!((30_000..=ceiling).contains(&d), "pause {n}: {d} ms");
    }
    assert!(pauses.iter().any(|&d| d > 60_000), "they grow: {pauses:?}");
    let t = p.poll_transmit(now).unwrap();
    p.handle_response(now, t.id, ok(1));
    p.enqueue(now, track("b")).unwrap();
    let t = p.poll_transmit(now).unwrap();
    p.handle_response(now, t.id, status(429, throttle));
    let again = drain(&mut p).into_iter().find_map(|e| match e {
        AppEvent::IdentityPaused { until, .. } => Some(until - now),
        _ => None,
    });
    assert_eq!(again, Some(30_000), "a success starts over");
}

#[test]
fn an_identity_over_its_daily_quota_waits_for_its_day_without_probing() {
    let config = roomy(Config {
        identity_events_per_day: 3_000,
        ..Config::new(Protocol::AmplitudeBatch, "amp-key")
    });
    let mut p = Pipeline::new(config).unwrap();
    for i in 0..4_000 {
        p.enqueue(0, track(&format!("e{i}"))).unwrap();
    }
    let other = p
        .enqueue(
            0,
            EventInput {
                anonymous_id: Some("device-other".into()),
                ..track("other")
            },
        )
        .unwrap();
    p.flush(0);
    let mut sent = 0;
    let mut now = 0;
    while let Some(t) = p.poll_transmit(now) {
        sent += t.events.len();
        p.handle_response(now, t.id, ok(t.events.len()));
        now += 100;
    }
    assert_eq!(sent, 3_001, "the day's 3,000, and the other device's event");
    assert_eq!(p.stats().delivered, 3_001);
    let day = 86_400_000 + crate::protocol::PACE_SLACK_MS;
    assert!(drain(&mut p)
        .iter()
        .all(|e| !matches!(e, AppEvent::Failed { .. })));
    let _ = other;
    let mut next = None;
    for _ in 0..100 {
        now = p.poll_timeout().expect("a wake-up is planned");
        next = p.poll_transmit(now);
        if next.is_some() {
            break;
        }
    }
    let t = next.expect("the next day");
    // The first use was logged at the end of its minute; the day runs from there.
    assert!((day..=60_000 + day).contains(&now), "sent again at {now}");
    assert_eq!(t.events.len(), 1_000);
}

#[test]
fn a_v1_batch_client_told_too_high_a_budget_learns_the_cap_from_one_429() {
    // The server admits 100 requests a minute; the client was told 150. Its first window's 429
    // teaches the real budget, after which the backlog drains at the cap.
    let config = roomy(Config {
        requests_per_window: 150,
        ..Config::new(Protocol::V1Batch, "uk_live_sim")
    });
    let o = run(config, &backlog(40_000, 1), vec![]);
    assert!(
        o.violations.is_empty(),
        "{:#?}",
        &o.violations[..o.violations.len().min(5)]
    );
    assert_eq!(o.delivered.len(), 40_000);
    // The server's windows, as it keeps them (one opens at the first request after the last
    // closed), and the requests each admitted: after the first, which taught the budget, every
    // window the backlog outlasted is used to the cap.
    let mut windows: Vec<(Millis, usize)> = Vec::new();
    for &t in &o.request_times {
        match windows.last_mut() {
            Some((start, n)) if t < *start + 60_000 => *n += 1,
            _ => windows.push((t, 1)),
        }
    }
    let counts: Vec<usize> = windows.iter().map(|w| w.1).collect();
    let span = windows[3].0 - windows[1].0;
    let ratio = (counts[1] + counts[2]) as f64 * 60_000.0 / 100.0 / span as f64;
    println!(
        "/v1-batch 40,000 events, told 150 a minute: windows {counts:?}, {ratio:.3} of the cap, {} 429s",
        o.limit_429s
    );
    assert_eq!(&counts[1..3], &[100, 100], "requests per window");
    assert!(o.limit_429s <= 1, "{} 429s", o.limit_429s);
    assert!(ratio >= 0.95, "drained at {ratio:.3} of the cap");
}
