//! Answers a hostile or broken server gives: unreadable `Retry-After`s, absurd waits, redirects,
//! 2xx bodies that confirm nothing; and a property test feeding arbitrary statuses, headers and
//! bodies, with the invariants that matter to a user: every event reported exactly once, and no
//! flood of requests whatever the answers.

use super::*;
use crate::protocol::{MAX_UNCONFIRMED, RETRY_FLOOR_MS};

fn with_header(r: Response, retry_after: &str) -> Response {
    Response {
        retry_after: Some(retry_after.into()),
        ..r
    }
}

fn one_event(protocol: Protocol) -> (Pipeline, Transmit) {
    let key = if protocol.is_amplitude() {
        "amp-key"
    } else {
        "uk_live_x"
    };
    // A 1 ms backoff step: only the floor stands between a failure and a resend.
    let mut p = Pipeline::new(Config {
        seed: 7,
        backoff_base_ms: 1,
        ..Config::new(protocol, key)
    })
    .unwrap();
    let input = EventInput {
        user_id: Some("user-12345".into()),
        ..track("a")
    };
    p.enqueue(0, input).unwrap();
    p.flush(0);
    let t = p.poll_transmit(0).unwrap();
    (p, t)
}

#[test]
fn an_unreadable_retry_after_is_ignored_and_never_means_at_once() {
    for header in ["-5", "1.5", "0", "Thu, 01 Jan 1970 00:00:01 GMT", "soon"] {
        let (mut p, t) = one_event(Protocol::V1Batch);
        let body = r#"{"success":false,"error":"Too many requests","code":"rate_limited"}"#;
        p.handle_response(100, t.id, with_header(status(429, body), header));
        assert!(
            p.poll_transmit(100 + RETRY_FLOOR_MS - 1).is_none(),
            "{header}: resent before the floor"
        );
        assert!(
            p.poll_timeout().unwrap() >= 100 + RETRY_FLOOR_MS,
            "{header}"
        );
        let (mut p, t) = one_event(Protocol::AmplitudeHttpV2);
        p.handle_response(100, t.id, with_header(status(503, "{}"), header));
        assert!(
            p.poll_transmit(100 + RETRY_FLOOR_MS - 1).is_none(),
            "{header}"
        );
    }
}

#[test]
fn an_absurd_wait_is_capped_with_a_warning_and_the_horizon_still_fires() {
    let mut p = Pipeline::new(Config {
        give_up_after_ms: 600_000,
        ..Config::new(Protocol::V1Batch, "uk_live_x")
    })
    .unwrap();
    let e = p.enqueue(0, track("a")).unwrap();
    p.flush(0);
    let mut now = 0;
    let mut capped = 0;
    let mut horizon = false;
    while now < 10_000_000 && !horizon {
        if let Some(t) = p.poll_transmit(now) {
            let body = r#"{"success":false,"error":"Too many requests","code":"rate_limited"}"#;
            p.handle_response(now, t.id, with_header(status(429, body), "999999999"));
        }
        for ev in drain(&mut p) {
            match ev {
                AppEvent::Warning(w @ Warning::RetryAfterCapped { .. }) => {
                    assert_eq!(w.code(), "W_RETRY_AFTER_CAPPED");
                    capped += 1;
                }
                AppEvent::RateLimited { until } => assert!(until <= now + 300_000),
                AppEvent::Failed {
                    message_id, reason, ..
                } => {
                    assert_eq!(
                        (message_id, reason),
                        (e.message_id.clone(), FailReason::RetryHorizon)
                    );
                    assert_eq!(now, 600_000, "at the horizon, not later");
                    horizon = true;
                }
                other => panic!("{other:?}"),
            }
        }
        now = p.poll_timeout().unwrap_or(now + 1);
        p.handle_timeout(now);
    }
    assert!(horizon, "the horizon fired under a rate limit");
    assert_eq!(capped, 2, "waits of 300 s: sent at 0 and 300,000");
}

#[test]
fn a_redirect_is_a_transient_failure_that_names_the_location() {
    let (mut p, t) = one_event(Protocol::V1Batch);
    let redirect = Response {
        location: Some("https://portal.example/login".into()),
        ..status(302, "")
    };
    p.handle_response(10, t.id, redirect);
    let events = drain(&mut p);
    let w = Warning::Redirect {
        location: "https://portal.example/login".into(),
    };
    assert_eq!(events[0], AppEvent::Warning(w.clone()));
    assert_eq!(w.code(), "W_REDIRECT");
    assert!(matches!(
        events[1],
        AppEvent::Retrying {
            status: Some(302),
            ..
        }
    ));
    assert_eq!((p.stats().queued, p.stats().delivered), (1, 0));
    let again = p.poll_transmit(p.poll_timeout().unwrap()).unwrap();
    assert_eq!(again.body, t.body, "same bytes, same messageId");
}

#[test]
fn a_redirect_without_a_location_says_so_without_an_empty_target() {
    // What the browser driver gives for every redirect: it cannot read the Location.
    let (mut p, t) = one_event(Protocol::V1Batch);
    p.handle_response(10, t.id, status(302, ""));
    let events = drain(&mut p);
    let AppEvent::Warning(w) = &events[0] else {
        panic!("no warning first: {events:?}");
    };
    assert_eq!(w.code(), "W_REDIRECT");
    assert_eq!(w.message(), "redirect not followed (check apiHost)");
    let named = Warning::Redirect {
        location: "https://portal.example/login".into(),
    };
    assert_eq!(
        named.message(),
        "redirect to https://portal.example/login not followed (check apiHost)"
    );
}

#[test]
fn a_2xx_that_confirms_nothing_is_resent_then_reported_unconfirmed() {
    for protocol in [Protocol::V1Batch, Protocol::AmplitudeBatch] {
        for body in [
            "<html>Sign in to the hotel Wi-Fi</html>",
            r#"{"success":false,"accepted":0,"failed":1,"errors":[]}"#,
            r#"{"success":true,"accepted":3,"failed":0}"#,
            r#"{"code":200,"events_ingested":0}"#,
        ] {
            let (mut p, first) = one_event(protocol);
            let mut t = first.clone();
            let mut answers = 0;
            loop {
                p.handle_response(t.id.0, t.id, status(200, body));
                answers += 1;
                let events = drain(&mut p);
                assert!(
                    !events
                        .iter()
                        .any(|e| matches!(e, AppEvent::Delivered { .. })),
                    "{body}: an unconfirmed answer delivered"
                );
                if let Some(AppEvent::Failed { reason, .. }) =
                    events.iter().find(|e| matches!(e, AppEvent::Failed { .. }))
                {
                    assert_eq!(reason.code(), "E_UNCONFIRMED");
                    break;
                }
                let at = p.poll_timeout().expect("a resend is planned");
                t = p.poll_transmit(at).expect("resent");
                assert_eq!(t.body, first.body, "same bytes, same messageId");
            }
            assert_eq!(answers, usize::from(MAX_UNCONFIRMED), "{body}");
            assert_eq!(p.stats().queued, 0);
        }
    }
}

/// One arbitrary answer: a status, a `Retry-After`, a `Location` and a body, each from values
/// chosen to reach every branch (and nonsense), or arbitrary bytes.
#[cfg(not(target_arch = "wasm32"))]
mod arbitrary {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    pub enum Body {
        /// The protocol's success shape for the request's events.
        Confirm,
        Fixed(&'static str),
        Bytes(Vec<u8>),
    }

    #[derive(Debug, Clone)]
    pub struct Answer {
        pub status: u16,
        pub retry_after: Option<&'static str>,
        pub body: Body,
        /// No response at all (a network failure or timeout).
        pub lost: bool,
    }

    fn answer() -> impl Strategy<Value = Answer> {
        let status = prop_oneof![
            prop::sample::select(vec![
                200u16, 201, 204, 301, 302, 307, 308, 400, 401, 403, 404, 405, 408, 413, 429, 500,
                502, 503, 504
            ]),
            0u16..1000,
        ];
        let retry_after = proptest::option::of(prop::sample::select(vec![
            "-5",
            "1.5",
            "0",
            "1",
            "30",
            "999999999",
            "99999999999999999999999",
            "Thu, 01 Jan 1970 00:00:01 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "soon",
            "",
        ]));
        let body = prop_oneof![
            3 => Just(Body::Confirm),
            4 => prop::sample::select(vec![
                "",
                "<html>portal</html>",
                "{}",
                r#"{"success":true}"#,
                r#"{"success":false,"accepted":0,"failed":1,"errors":[]}"#,
                r#"{"success":false,"accepted":0,"failed":1,"errors":[{"index":0,"error":"bad"}]}"#,
                r#"{"success":false,"accepted":0,"failed":1,"errors":[{"index":99,"error":"bad"}]}"#,
                r#"{"success":false,"error":"Too many requests","code":"rate_limited"}"#,
                r#"{"success":false,"error":"Monthly event quota exceeded"}"#,
                r#"{"success":false,"error":"too large","limit_bytes":2000}"#,
                r#"{"code":400,"error":"Invalid","events_with_invalid_fields":{"time":[0]}}"#,
                r#"{"code":429,"throttled_devices":{"anon-12345":31},"throttled_events":[0]}"#,
                r#"{"code":429,"throttled_users":{"nobody-here":31}}"#,
                r#"{"code":429,"exceeded_daily_quota_devices":{"anon-12345":500001}}"#,
                r#"{"code":200,"events_ingested":1}"#,
            ]).prop_map(Body::Fixed),
            1 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Body::Bytes),
        ];
        (status, retry_after, body, prop::bool::weighted(0.1)).prop_map(
            |(status, retry_after, body, lost)| Answer {
                status,
                retry_after,
                body,
                lost,
            },
        )
    }

    /// Only failures that ask for no wait: what would make a naive client resend in a loop.
    fn failure() -> impl Strategy<Value = Answer> {
        let status = prop::sample::select(vec![200u16, 302, 429, 500, 503]);
        let retry_after = proptest::option::of(prop::sample::select(vec!["0", "-5", "1.5"]));
        let body = prop::sample::select(vec![
            "",
            "<html>portal</html>",
            r#"{"success":false,"error":"Too many requests","code":"rate_limited"}"#,
        ])
        .prop_map(Body::Fixed);
        (status, retry_after, body, prop::bool::weighted(0.2)).prop_map(
            |(status, retry_after, body, lost)| Answer {
                status,
                retry_after,
                body,
                lost,
            },
        )
    }

    fn confirm(protocol: Protocol, n: usize) -> Vec<u8> {
        if protocol.is_amplitude() {
            format!(r#"{{"code":200,"events_ingested":{n}}}"#)
        } else {
            format!(r#"{{"success":true,"accepted":{n},"failed":0,"errors":[],"warnings":[]}}"#)
        }
        .into_bytes()
    }

    proptest! {
        #![proptest_config(crate::base::proptest_config(64))]

        #[test]
        fn any_answers_lose_nothing_report_once_and_never_flood(
            protocol in prop::sample::select(Protocol::ALL.to_vec()),
            events in 1usize..60,
            in_flight in 1usize..=3,
            flush_at in 1usize..20,
            seed in any::<u64>(),
            backoff_base_ms in prop_oneof![Just(1u64), 1u64..2_000],
            answers in prop_oneof![
                prop::collection::vec(answer(), 1..80),
                prop::collection::vec(failure(), 1..10),
            ],
        ) {
            let key = if protocol.is_amplitude() { "amp-key" } else { "uk_live_x" };
            let mut p = Pipeline::new(Config {
                seed,
                backoff_base_ms,
                flush_at,
                max_in_flight: in_flight,
                give_up_after_ms: 3_600_000,
                quota_probe_ms: 60_000,
                ..Config::new(protocol, key)
            }).unwrap();
            let mut ids = std::collections::HashMap::new();
            for i in 0..events {
                let input = EventInput {
                    user_id: Some(format!("user-{:05}", i % 4)),
                    ..track(&format!("e{i}"))
                };
                let e = p.enqueue(0, input).unwrap();
                ids.insert(e.message_id, 0u32);
            }
            p.flush(0);
            let mut now: Millis = 0;
            let mut pending: Vec<(Millis, Transmit)> = Vec::new();
            let mut per_minute = std::collections::BTreeMap::<Millis, usize>::new();
            let mut next_answer = 0;
            for _ in 0..100_000 {
                while let Some(t) = p.poll_transmit(now) {
                    *per_minute.entry(now / 60_000).or_default() += 1;
                    pending.push((now + 5 + (t.id.0 * 37) % 300, t));
                }
                for ev in drain(&mut p) {
                    let reported: Vec<String> = match ev {
                        AppEvent::Delivered { message_ids, .. } => message_ids,
                        AppEvent::Failed { message_id, .. } => vec![message_id],
                        _ => continue,
                    };
                    for m in reported {
                        let n = ids.get_mut(&m).expect("reported an unknown event");
                        *n += 1;
                        prop_assert_eq!(*n, 1, "{} reported twice", m);
                    }
                }
                let next = pending.iter().map(|x| x.0).chain(p.poll_timeout()).min();
                let Some(next) = next else { break };
                prop_assert!(next >= now, "time went back");
                now = next;
                pending.sort_by_key(|x| x.0);
                while pending.first().is_some_and(|x| x.0 <= now) {
                    let (_, t) = pending.remove(0);
                    let a = answers[next_answer % answers.len()].clone();
                    next_answer += 1;
                    if a.lost {
                        p.handle_failure(now, t.id, NetError::Network);
                        continue;
                    }
                    let body = match a.body {
                        Body::Confirm => confirm(protocol, t.events.len()),
                        Body::Fixed(b) => b.as_bytes().to_vec(),
                        Body::Bytes(b) => b,
                    };
                    let r = Response {
                        retry_after: a.retry_after.map(String::from),
                        location: Some("https://elsewhere.example/".into()),
                        ..Response::new(a.status, body)
                    };
                    p.handle_response(now, t.id, r);
                }
                p.handle_timeout(now);
            }
            for (m, n) in &ids {
                prop_assert_eq!(*n, 1, "{} lost: never reported", m);
            }
            // Failures wait at least the floor per request slot; every other request ends
            // events for good (delivered, rejected) or halves the request size (413).
            let bound = in_flight * (60_000 / RETRY_FLOOR_MS as usize) + 2 * events + 40;
            for (minute, &n) in &per_minute {
                prop_assert!(n <= bound, "{} requests in minute {}; bound {}", n, minute, bound);
            }
        }
    }
}

#[test]
fn a_partial_answer_naming_one_event_twice_confirms_nothing() {
    // `failed: 2` with both errors naming the same event: the second failed event is not named,
    // so which of the others were accepted is unknown.
    let mut p = v1();
    let ids: Vec<Enqueued> = (0..3)
        .map(|i| p.enqueue(0, track(&format!("e{i}"))).unwrap())
        .collect();
    p.flush(0);
    let t = p.poll_transmit(0).unwrap();
    let m = &ids[1].message_id;
    let body = format!(
        r#"{{"success":false,"accepted":1,"failed":2,"errors":[{{"index":1,"messageId":"{m}","error":"x"}},{{"messageId":"{m}","error":"y"}}]}}"#
    );
    p.handle_response(1, t.id, status(200, &body));
    let events = drain(&mut p);
    assert!(
        events
            .iter()
            .all(|e| !matches!(e, AppEvent::Delivered { .. } | AppEvent::Failed { .. })),
        "{events:?}"
    );
    assert_eq!((p.stats().queued, p.stats().delivered), (3, 0));
    let again = p.poll_transmit(p.poll_timeout().unwrap()).unwrap();
    assert_eq!(again.body, t.body, "resent whole, same messageIds");
}
