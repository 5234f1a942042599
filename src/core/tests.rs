//! Pipeline behaviour, call by call.

use super::*;

/// Amplitude HTTP V2 and Batch: identity pauses, ordering, daily quotas, invalid events.
mod amplitude;
/// Hostile and broken answers, and a property test over arbitrary ones.
mod hostile;
/// The text of every message the application can be given.
mod messages;
/// Pacing to the servers' budgets, proven in the simulation.
#[cfg(all(not(target_arch = "wasm32"), feature = "pacing"))]
mod pacing;
// The simulation is a proptest harness; proptest is a native-only dev-dependency.
#[cfg(not(target_arch = "wasm32"))]
mod sim;

pub(crate) fn track(name: &str) -> EventInput {
    EventInput {
        kind: EventKind::Track,
        event: Some(name.into()),
        anonymous_id: Some("anon-12345".into()),
        properties: Some(r#"{"plan":"pro","n":1}"#.into()),
        ..Default::default()
    }
}

/// A 2xx confirming `n` events, in both protocols' success shapes at once.
pub(crate) fn ok(n: usize) -> Response {
    let body = format!(
        r#"{{"success":true,"accepted":{n},"failed":0,"errors":[],"warnings":[],"code":200,"events_ingested":{n}}}"#
    );
    Response::new(200, body.into_bytes())
}

#[test]
fn smoke_enqueue_flush_deliver() {
    let mut p = Pipeline::new(Config::new(Protocol::V1Batch, "uk_live_x")).unwrap();
    let e = p.enqueue(1000, track("Signed Up")).unwrap();
    assert_eq!(e.message_id.len(), 36);
    assert!(
        p.poll_transmit(1000).is_none(),
        "not due before the interval"
    );
    assert_eq!(p.poll_timeout(), Some(11_000));
    let t = p.poll_transmit(11_000).expect("due at the interval");
    assert_eq!(t.path, "/v1-batch");
    assert_eq!(t.events, vec![e.id]);
    let body = String::from_utf8(t.body.clone()).unwrap();
    assert!(
        body.starts_with(r#"{"batch":[{"type":"track","messageId":""#),
        "{body}"
    );
    p.handle_response(11_050, t.id, ok(t.events.len()));
    assert_eq!(
        p.poll_event(),
        Some(AppEvent::Delivered {
            ids: vec![e.id],
            message_ids: vec![e.message_id]
        })
    );
    assert_eq!(p.stats().delivered, 1);
    assert_eq!(p.poll_timeout(), None);
}

fn v1() -> Pipeline {
    Pipeline::new(Config {
        seed: 42,
        ..Config::new(Protocol::V1Batch, "uk_live_x")
    })
    .unwrap()
}

fn status(code: u16, body: &str) -> Response {
    Response {
        status: code,
        retry_after: None,
        location: None,
        body: body.as_bytes().to_vec(),
    }
}

fn drain(p: &mut Pipeline) -> Vec<AppEvent> {
    std::iter::from_fn(|| p.poll_event()).collect()
}

fn big(n: usize) -> EventInput {
    EventInput {
        properties: Some(format!("{{\"blob\":\"{}\"}}", "x".repeat(n))),
        ..track("Big")
    }
}

#[test]
fn flush_at_sends_at_once_and_caps_events_per_request() {
    let mut p = v1();
    for i in 0..250 {
        p.enqueue(0, track(&format!("e{i}"))).unwrap();
    }
    let t = p.poll_transmit(0).expect("100 queued: due");
    assert_eq!(t.events.len(), 100);
    assert!(
        p.poll_transmit(0).is_none(),
        "one request in flight by default"
    );
    p.handle_response(5, t.id, ok(t.events.len()));
    let t2 = p.poll_transmit(5).unwrap();
    assert_eq!(t2.events.len(), 100);
    assert_eq!(t2.events[0], EventId(101), "packed in order");
    p.handle_response(6, t2.id, ok(t2.events.len()));
    assert!(
        p.poll_transmit(6).is_none(),
        "50 left: wait for the interval"
    );
    p.flush(7);
    assert_eq!(p.poll_transmit(7).unwrap().events.len(), 50);
}

#[test]
fn requests_never_exceed_the_byte_limit_and_sizes_are_exact() {
    let mut p = v1();
    for _ in 0..30 {
        p.enqueue(0, big(100_000)).unwrap();
    }
    let t = p.poll_transmit(0).expect("over 1 MiB queued: due");
    assert!(t.body.len() <= 1_048_576);
    assert_eq!(t.events.len(), 10);
    use crate::base::json;
    assert!(json::scan_object(&t.body).is_ok(), "valid JSON body");
    assert_eq!(
        json::items(json::field(&t.body, "batch").unwrap()).count(),
        10
    );
    let one = p.stored_form(t.events[0]).unwrap().body.len();
    assert_eq!(t.body.len(), "{\"batch\":[]}".len() + 10 * one + 9);
    let e = p.enqueue(0, big(1_048_576)).unwrap_err();
    assert_eq!(e.code(), "E_TOO_LARGE");
    assert!(e.to_string().contains("the limit is 1048576 bytes"), "{e}");
}

#[test]
fn unload_packs_within_the_budget_and_keeps_the_rest() {
    let mut p = v1();
    for _ in 0..20 {
        p.enqueue(0, big(10_000)).unwrap();
    }
    let ts = p.take_for_unload(1, 65_536);
    let total: usize = ts.iter().map(|t| t.body.len()).sum();
    assert!(total <= 65_536);
    let sent: usize = ts.iter().map(|t| t.events.len()).sum();
    assert_eq!(sent, 6, "six 10 KB events fit 64 KiB");
    assert_eq!(p.stats().queued, 14);
    assert_eq!(p.stats().in_flight, 6);
    assert!(
        p.take_for_unload(1, 65_536 - total).is_empty(),
        "budget spent"
    );
    for t in ts {
        p.handle_failure(2, t.id, NetError::Network);
    }
    assert_eq!(
        p.stats().queued,
        20,
        "an unload send is not assumed delivered"
    );
}

#[test]
fn restore_is_byte_identical_and_deduplicated() {
    let mut a = v1();
    let e = a.enqueue(0, track("Persisted")).unwrap();
    let stored = a.stored_form(e.id).unwrap();
    assert_eq!(
        a.restore(1, stored.clone()).unwrap(),
        e.id,
        "same messageId: same event"
    );
    assert_eq!(a.stats().queued, 1);
    let mut b = Pipeline::new(Config {
        seed: 7,
        ..Config::new(Protocol::V1Batch, "uk_live_x")
    })
    .unwrap();
    let id = b.restore(50, stored.clone()).unwrap();
    assert_eq!(b.restore(51, stored.clone()).unwrap(), id);
    b.flush(52);
    let t = b.poll_transmit(52).unwrap();
    assert_eq!(t.body, [&b"{\"batch\":["[..], &stored.body, b"]}"].concat());
    let mut corrupt = stored.clone();
    corrupt.body.truncate(20);
    assert_eq!(
        b.restore(53, corrupt).unwrap_err().code(),
        "E_INVALID_EVENT"
    );
    let mut other = stored.clone();
    other.message_id = "someone-else".into();
    assert!(b.restore(53, other).is_err());
    let mut amp = Pipeline::new(Config::new(Protocol::AmplitudeBatch, "key")).unwrap();
    assert!(
        amp.restore(0, stored).is_err(),
        "a /v1-batch body is not an Amplitude event"
    );
}

#[test]
fn evictions_are_reported() {
    let mut p = Pipeline::new(Config {
        max_queue_events: 3,
        ..Config::new(Protocol::V1Batch, "k")
    })
    .unwrap();
    let first = p.enqueue(0, track("a")).unwrap();
    for n in ["b", "c", "d"] {
        p.enqueue(0, track(n)).unwrap();
    }
    assert_eq!(
        drain(&mut p),
        vec![AppEvent::Failed {
            id: first.id,
            message_id: first.message_id,
            reason: FailReason::Evicted
        }]
    );
    assert_eq!(
        (p.stats().queued, p.stats().evicted, p.stats().failed),
        (3, 1, 1)
    );
    let mut strict = Pipeline::new(Config {
        max_queue_events: 1,
        overflow: Overflow::RejectNew,
        ..Config::new(Protocol::V1Batch, "k")
    })
    .unwrap();
    strict.enqueue(0, track("a")).unwrap();
    assert_eq!(
        strict.enqueue(0, track("b")).unwrap_err().code(),
        "E_QUEUE_FULL"
    );
}

#[test]
fn in_flight_events_are_never_evicted() {
    let mut p = Pipeline::new(Config {
        max_queue_events: 2,
        flush_at: 2,
        ..Config::new(Protocol::V1Batch, "k")
    })
    .unwrap();
    p.enqueue(0, track("a")).unwrap();
    p.enqueue(0, track("b")).unwrap();
    let t = p.poll_transmit(0).unwrap();
    assert_eq!(p.enqueue(0, track("c")).unwrap_err().code(), "E_QUEUE_FULL");
    p.handle_response(1, t.id, ok(t.events.len()));
    assert!(p.enqueue(1, track("c")).is_ok());
}

#[test]
fn give_up_horizon_fails_loudly() {
    let mut p = Pipeline::new(Config {
        give_up_after_ms: 60_000,
        ..Config::new(Protocol::V1Batch, "k")
    })
    .unwrap();
    let e = p.enqueue(0, track("a")).unwrap();
    let mut now = 0;
    let mut failed = None;
    for _ in 0..100 {
        if let Some(t) = p.poll_transmit(now) {
            p.handle_response(now, t.id, status(503, ""));
        }
        for ev in drain(&mut p) {
            if let AppEvent::Failed { reason, .. } = ev {
                failed = Some(reason);
            }
        }
        if failed.is_some() {
            break;
        }
        now = p.poll_timeout().expect("something is waiting");
        p.handle_timeout(now);
    }
    assert_eq!(failed, Some(FailReason::RetryHorizon));
    assert!(now <= 60_000 + 1, "failed at the horizon, not later: {now}");
    assert_eq!(p.stats().failed, 1);
    let _ = e;
}

#[test]
fn partial_success_fails_only_the_named_events() {
    let mut p = v1();
    let ids: Vec<Enqueued> = (0..3)
        .map(|i| p.enqueue(0, track(&format!("e{i}"))).unwrap())
        .collect();
    p.flush(0);
    let t = p.poll_transmit(0).unwrap();
    let body = format!(
        r#"{{"success":false,"accepted":2,"failed":1,"errors":[{{"index":1,"messageId":"{}","error":"event name too long"}}],"warnings":["w"]}}"#,
        ids[1].message_id
    );
    p.handle_response(1, t.id, status(200, &body));
    let evs = drain(&mut p);
    assert_eq!(
        evs,
        vec![
            AppEvent::Failed {
                id: ids[1].id,
                message_id: ids[1].message_id.clone(),
                reason: FailReason::Rejected {
                    error: "event name too long".into()
                }
            },
            AppEvent::Delivered {
                ids: vec![ids[0].id, ids[2].id],
                message_ids: vec![ids[0].message_id.clone(), ids[2].message_id.clone()]
            },
            AppEvent::Warning(Warning::Server {
                message: "w".into()
            }),
        ]
    );
}

#[test]
fn rate_limit_holds_every_request_until_retry_after() {
    let mut p = v1();
    p.enqueue(0, track("a")).unwrap();
    p.flush(0);
    let t = p.poll_transmit(0).unwrap();
    let body = r#"{"success":false,"error":"Too many requests","code":"rate_limited"}"#;
    p.handle_response(
        10,
        t.id,
        Response {
            retry_after: Some("30".into()),
            location: None,
            ..status(429, body)
        },
    );
    assert_eq!(drain(&mut p), vec![AppEvent::RateLimited { until: 30_010 }]);
    assert_eq!(p.stats().rate_limited_until, Some(30_010));
    assert!(p.poll_transmit(30_009).is_none());
    assert!(
        p.take_for_unload(30_009, 65_536).is_empty(),
        "not even on unload"
    );
    assert_eq!(p.poll_timeout(), Some(30_010));
    let again = p
        .poll_transmit(30_010)
        .expect("retried right at Retry-After");
    assert_eq!(again.body, t.body, "same bytes, same messageId");
    let date = Response {
        retry_after: Some("Thu, 01 Jan 1970 00:01:00 GMT".into()),
        location: None,
        ..status(429, body)
    };
    p.handle_response(30_020, again.id, date);
    assert!(p.poll_transmit(59_999).is_none());
    assert!(p.poll_transmit(60_000).is_some());
}

#[test]
fn monthly_quota_holds_probes_and_resumes() {
    let mut p = v1();
    for i in 0..5 {
        p.enqueue(0, track(&format!("e{i}"))).unwrap();
    }
    p.flush(0);
    let t = p.poll_transmit(0).unwrap();
    let quota = Response {
        retry_after: Some("864000".into()),
        location: None,
        ..status(
            429,
            r#"{"success":false,"error":"Monthly event quota exceeded"}"#,
        )
    };
    p.handle_response(0, t.id, quota.clone());
    assert_eq!(
        drain(&mut p),
        vec![AppEvent::QuotaHeld { until: 864_000_000 }]
    );
    assert!(
        p.poll_transmit(1_000).is_none(),
        "no retry on the normal schedule"
    );
    assert_eq!(p.poll_timeout(), Some(3_600_000), "next probe in an hour");
    let probe = p.poll_transmit(3_600_000).expect("probe");
    assert_eq!(probe.events.len(), 1, "a probe is one small request");
    assert!(p.poll_transmit(3_600_000).is_none());
    p.handle_response(3_600_100, probe.id, quota);
    assert!(p.poll_transmit(3_700_000).is_none());
    let probe = p
        .poll_transmit(7_200_100)
        .expect("second probe an hour later");
    p.handle_response(7_200_200, probe.id, ok(probe.events.len()));
    assert_eq!(p.stats().quota_held_until, None);
    let rest = p
        .poll_transmit(7_200_200)
        .expect("resumes at once (retries are due)");
    assert_eq!(rest.events.len(), 4);
}

#[test]
fn a_413_replans_from_limit_bytes() {
    let mut p = v1();
    for _ in 0..8 {
        p.enqueue(0, big(3_000)).unwrap();
    }
    let huge = p.enqueue(0, big(9_000)).unwrap();
    p.flush(0);
    let t = p.poll_transmit(0).unwrap();
    assert_eq!(t.events.len(), 9);
    let refusal = r#"{"success":false,"error":"Request body too large: maximum 8000 bytes","limit_bytes":8000}"#;
    p.handle_response(1, t.id, status(413, refusal));
    let mut sent = 0;
    let mut now = 1;
    while let Some(t) = p.poll_transmit(now) {
        assert!(t.body.len() <= 8000, "{}", t.body.len());
        sent += t.events.len();
        p.handle_response(now, t.id, ok(t.events.len()));
        now += 1;
    }
    assert_eq!(sent, 8);
    let failed: Vec<AppEvent> = drain(&mut p)
        .into_iter()
        .filter(|e| matches!(e, AppEvent::Failed { .. }))
        .collect();
    assert!(
        matches!(&failed[..], [AppEvent::Failed { id, reason: FailReason::TooLarge { limit: 8000, .. }, .. }] if *id == huge.id)
    );
}

#[test]
fn other_4xx_fail_permanently_with_the_server_text() {
    let mut p = v1();
    let e = p.enqueue(0, track("a")).unwrap();
    p.flush(0);
    let t = p.poll_transmit(0).unwrap();
    p.handle_response(
        1,
        t.id,
        status(
            403,
            r#"{"success":false,"error":"read keys cannot ingest"}"#,
        ),
    );
    assert_eq!(
        drain(&mut p),
        vec![AppEvent::Failed {
            id: e.id,
            message_id: e.message_id,
            reason: FailReason::PermanentHttp {
                status: 403,
                error: "read keys cannot ingest".into()
            }
        }]
    );
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn backoff_grows_and_resets() {
    let mut p = v1();
    p.enqueue(0, track("a")).unwrap();
    p.flush(0);
    let mut now = 0;
    for attempt in 1..=6u32 {
        let t = p.poll_transmit(now).expect("due after backoff");
        p.handle_failure(now, t.id, NetError::Network);
        let Some(AppEvent::Retrying {
            until,
            attempt: a,
            status: None,
        }) = p.poll_event()
        else {
            panic!()
        };
        assert_eq!(a, attempt);
        assert!(until - now <= 1000 << (attempt - 1));
        now = until;
    }
    let t = p.poll_transmit(now).unwrap();
    p.handle_response(now, t.id, ok(t.events.len()));
    assert_eq!(p.backoff_attempt(), 0);
}

#[test]
fn caller_message_ids_are_kept_and_deduplicated() {
    let mut p = v1();
    let input = EventInput {
        message_id: Some("order-123-paid".into()),
        ..track("Paid")
    };
    let a = p.enqueue(0, input.clone()).unwrap();
    let b = p.enqueue(0, input).unwrap();
    assert_eq!((a.message_id.as_str(), a.id), ("order-123-paid", b.id));
    assert_eq!(p.stats().queued, 1);
}

#[test]
fn stale_or_repeated_answers_are_ignored() {
    let mut p = v1();
    p.enqueue(0, track("a")).unwrap();
    p.flush(0);
    let t = p.poll_transmit(0).unwrap();
    p.handle_response(1, t.id, ok(t.events.len()));
    p.handle_response(2, t.id, ok(t.events.len()));
    p.handle_failure(3, t.id, NetError::Network);
    p.handle_response(4, TransmitId(999), ok(1));
    assert_eq!(drain(&mut p).len(), 1);
    assert_eq!(p.stats().delivered, 1);
}

#[test]
fn forget_drops_a_queued_event_silently_and_leaves_flights_alone() {
    let mut p = v1();
    let a = p.enqueue(0, track("A")).unwrap();
    let b = p.enqueue(0, track("B")).unwrap();
    assert_eq!(p.forget(&a.message_id), Some(a.id));
    assert_eq!(p.forget(&a.message_id), None, "already gone");
    assert_eq!(p.forget("never-seen"), None);
    assert!(
        drain(&mut p).is_empty(),
        "forgetting is not a failure to report"
    );
    assert_eq!((p.stats().queued, p.stats().failed), (1, 0));
    p.flush(1);
    let t = p.poll_transmit(1).unwrap();
    assert_eq!(t.events, vec![b.id]);
    assert_eq!(p.forget(&b.message_id), None, "in flight: not ours to drop");
    assert_eq!(p.stats().in_flight, 1);
}

#[cfg(not(target_arch = "wasm32"))] // proptest is a native-only dev-dependency
mod arbitrary_events {
    use super::*;
    use crate::base::json;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(prop_oneof![
            3 => "[a-zA-Z0-9 _-]{0,12}",
            1 => any::<String>(),
            1 => Just("undefined".to_string()),
        ])
    }

    fn object() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(prop_oneof![
            2 => Just(r#"{"a":1,"b":[true,null,"x"],"c":{"d":-1.5e3}}"#.to_string()),
            1 => "[{}\\[\\]\":,a1 ]{0,30}",
            1 => any::<String>(),
        ])
    }

    proptest! {
        #![proptest_config(crate::base::proptest_config(500))]

        /// Whatever an application passes: a typed refusal, or a queued event whose request body
        /// is valid JSON and whose stored form restores elsewhere byte for byte.
        #[test]
        fn any_input_is_refused_or_sent_as_valid_json(
            protocol in prop::sample::select(vec![Protocol::V1Batch, Protocol::AmplitudeHttpV2, Protocol::AmplitudeBatch]),
            kind in prop::sample::select(vec![EventKind::Track, EventKind::Identify, EventKind::Page, EventKind::Screen, EventKind::Group, EventKind::Alias]),
            event in text(), message_id in text(), anonymous_id in text(), user_id in text(),
            group_id in text(), previous_id in text(), timestamp in proptest::option::of(any::<u64>()),
            properties in object(), traits in object(), context in object(),
        ) {
            let input = EventInput { kind, event, message_id, anonymous_id, user_id, group_id, previous_id, timestamp, properties, traits, context, skip_user_properties_sync: false };
            let mut p = Pipeline::new(Config::new(protocol, "key-1")).unwrap();
            match p.enqueue(1_700_000_000_000, input) {
                Err(e) => {
                    prop_assert!(e.code().starts_with("E_"));
                    prop_assert!(!e.to_string().is_empty());
                }
                Ok(q) => {
                    let stored = p.stored_form(q.id).unwrap();
                    p.flush(1_700_000_000_000);
                    let t = p.poll_transmit(1_700_000_000_000).unwrap();
                    prop_assert!(json::scan_object(&t.body).is_ok(), "{}", String::from_utf8_lossy(&t.body));
                    let mut other = Pipeline::new(Config { seed: 9, ..Config::new(protocol, "key-1") }).unwrap();
                    other.restore(0, stored.clone()).unwrap();
                    other.flush(0);
                    prop_assert_eq!(other.poll_transmit(0).unwrap().body, t.body);
                }
            }
        }

        #[test]
        fn any_stored_body_is_refused_or_restored(body in any::<Vec<u8>>(), id in "[a-z0-9-]{0,10}") {
            let mut p = Pipeline::new(Config::new(Protocol::V1Batch, "key-1")).unwrap();
            let mut body = body;
            if body.len() % 2 == 0 {
                body = format!(r#"{{"messageId":"{id}","anonymousId":"a","x":{}}}"#, String::from_utf8_lossy(&body)).into_bytes();
            }
            if p.restore(0, StoredEvent { message_id: id, enqueued_at: 0, body }).is_ok() {
                p.flush(0);
                prop_assert!(json::scan_object(&p.poll_transmit(0).unwrap().body).is_ok());
            }
        }
    }
}

#[test]
fn a_503_with_retry_after_waits_at_least_that_long() {
    let mut p = v1();
    p.enqueue(0, track("a")).unwrap();
    p.flush(0);
    let t = p.poll_transmit(0).unwrap();
    p.handle_response(
        0,
        t.id,
        Response {
            retry_after: Some("120".into()),
            location: None,
            ..status(503, "")
        },
    );
    assert!(matches!(
        p.poll_event(),
        Some(AppEvent::Retrying {
            until: 120_000,
            attempt: 1,
            status: Some(503)
        })
    ));
    assert!(p.poll_transmit(119_999).is_none());
    assert!(p.poll_transmit(120_000).is_some());
}

#[test]
fn a_new_leader_sends_restored_events_on_flush() {
    // Tab A queued 50 events (one request of them was in flight when it closed); tab B takes
    // over, restores them from storage next to its own, and the application flushes.
    let mut a = v1();
    let stored: Vec<StoredEvent> = (0..50)
        .map(|i| {
            let e = a.enqueue(0, track(&format!("a{i}"))).unwrap();
            a.stored_form(e.id).unwrap()
        })
        .collect();
    let mut b = Pipeline::new(Config {
        seed: 2,
        ..Config::new(Protocol::V1Batch, "uk_live_x")
    })
    .unwrap();
    b.enqueue(5_000, track("own")).unwrap();
    for s in stored.iter().cloned() {
        b.restore(6_000, s).unwrap();
    }
    assert!(
        b.poll_transmit(6_000).is_none(),
        "queued 6 s ago: 4 s of the interval left"
    );
    assert_eq!(
        b.poll_timeout(),
        Some(10_000),
        "the interval counts from the first enqueue"
    );
    b.flush(6_001);
    let t = b
        .poll_transmit(6_001)
        .expect("flush sends what is held, restored included");
    assert_eq!(t.events.len(), 51);

    // A page loading yesterday's leftovers sends them at once.
    let mut c = Pipeline::new(Config {
        seed: 3,
        ..Config::new(Protocol::V1Batch, "uk_live_x")
    })
    .unwrap();
    c.enqueue(86_400_000, track("fresh")).unwrap();
    c.restore(86_400_000, stored[0].clone()).unwrap();
    let t = c
        .poll_transmit(86_400_000)
        .expect("overdue since yesterday");
    assert_eq!(t.events.len(), 2);
}

#[test]
fn server_drivers_derive_the_anonymous_id_of_a_user_who_gave_none() {
    let user_only = || EventInput {
        user_id: Some("user-123".into()),
        anonymous_id: None,
        ..track("Invoice Paid")
    };
    let mut browser = v1();
    assert!(
        browser.enqueue(0, user_only()).is_err(),
        "/v1-batch needs an anonymousId"
    );
    let mut server = Pipeline::new(Config {
        derive_anonymous_id: true,
        flush_at: 2,
        ..Config::new(Protocol::V1Batch, "uk_live_x")
    })
    .unwrap();
    server.enqueue(0, user_only()).unwrap();
    server.enqueue(0, user_only()).unwrap();
    let t = server.poll_transmit(0).expect("two events make a batch");
    let body = String::from_utf8(t.body).unwrap();
    let derived = derive_id(Derived::AnonymousId, b"user-123");
    assert_eq!(
        body.matches(&format!(r#""anonymousId":"{derived}""#))
            .count(),
        2,
        "the same derived id on every event of that user: {body}"
    );
    // An id the caller gave is kept.
    let mut given = user_only();
    given.anonymous_id = Some("device-9".into());
    server.enqueue(0, given).unwrap();
}

#[test]
fn abandon_fails_everything_queued_or_in_flight_with_e_shutdown() {
    let mut p = Pipeline::new(Config {
        flush_at: 2,
        ..Config::new(Protocol::V1Batch, "uk_live_x")
    })
    .unwrap();
    p.enqueue(0, track("a")).unwrap();
    p.enqueue(0, track("b")).unwrap();
    let t = p.poll_transmit(0).expect("two events make a batch");
    p.enqueue(0, track("c")).unwrap();
    assert_eq!((p.stats().queued, p.stats().in_flight), (1, 2));
    drain(&mut p);
    p.abandon(5);
    let failed: Vec<_> = drain(&mut p)
        .into_iter()
        .filter_map(|e| match e {
            AppEvent::Failed { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        failed,
        vec![FailReason::Shutdown; 3],
        "every event reported once"
    );
    assert_eq!(FailReason::Shutdown.code(), "E_SHUTDOWN");
    let s = p.stats();
    assert_eq!((s.queued, s.in_flight, s.failed, s.delivered), (0, 0, 3, 0));
    // A late answer to the abandoned request delivers nothing twice and reports nothing more.
    p.handle_response(6, t.id, status(200, r#"{"success":true}"#));
    assert!(drain(&mut p).is_empty());
    assert_eq!(p.stats().delivered, 0);
    assert_eq!(p.poll_transmit(7).map(|t| t.events.len()), None);
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn drop_first_keeps_the_tail_in_order() {
    for n in 0..=4 {
        let mut v = vec![(1u64, 10u64), (2, 20), (3, 30), (4, 40)];
        let mut want = v.clone();
        want.drain(..n);
        drop_first(&mut v, n);
        assert_eq!(v, want, "n = {n}");
    }
}

#[test]
fn a_context_seen_clean_is_not_scanned_again_and_every_other_is_checked() {
    let mut p = v1();
    let with = |c: &str| EventInput {
        context: Some(c.into()),
        ..track("Ctx")
    };
    let clean = r#"{"library":{"name":"x"},"page":{"path":"/"}}"#;
    let deep = r#"{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1}}}}}}}}}"#;
    let warned = |p: &mut Pipeline, c: &str| {
        let w = p.enqueue(0, with(c)).unwrap().warnings;
        matches!(
            w[..],
            [Warning::TooDeep {
                field: Field::Context,
                ..
            }]
        )
    };
    // Before any context was seen clean, an empty one is no match for the empty `clean`.
    assert!(p.enqueue(0, with("")).is_err());
    for _ in 0..2 {
        assert!(p.enqueue(0, with(clean)).unwrap().warnings.is_empty());
    }
    // A context that warns warns every time, also right after itself and after a clean one.
    assert!(warned(&mut p, deep));
    assert!(warned(&mut p, deep));
    assert!(p.enqueue(0, with(clean)).unwrap().warnings.is_empty());
    assert!(warned(&mut p, deep));
    // After a clean one, any other text is checked: refused if it is not an object of JSON.
    assert!(p.enqueue(0, with(clean)).unwrap().warnings.is_empty());
    for bad in ["[1]", &clean[..clean.len() - 1], ""] {
        assert!(
            p.enqueue(0, with(bad)).is_err(),
            "{bad:?} was taken after {clean:?}"
        );
        assert!(p.enqueue(0, with(clean)).unwrap().warnings.is_empty());
    }
    // Every event carries its context, checked or not.
    let t = {
        p.flush(0);
        p.poll_transmit(0).unwrap()
    };
    let body = String::from_utf8(t.body.clone()).unwrap();
    assert_eq!(body.matches(r#""page":{"path":"/"}"#).count(), 7, "{body}");
}
