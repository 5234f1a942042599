//! Amplitude destinations: pauses keyed per user and device, per-device order, daily quotas,
//! and the 400 that names invalid events.

use super::*;

fn amp(protocol: Protocol) -> Pipeline {
    Pipeline::new(Config {
        seed: 3,
        flush_at: 1,
        ..Config::new(protocol, "api-key")
    })
    .unwrap()
}

fn amp_event(user: &str, device: &str) -> EventInput {
    EventInput {
        kind: EventKind::Track,
        event: Some("Play".into()),
        user_id: (!user.is_empty()).then(|| user.into()),
        anonymous_id: Some(device.into()),
        ..Default::default()
    }
}

#[test]
fn amplitude_throttle_pauses_only_the_named_identities() {
    let mut p = amp(Protocol::AmplitudeBatch);
    let hot = p.enqueue(0, amp_event("user-hot", "device-1")).unwrap();
    let cold = p.enqueue(0, amp_event("user-cold", "device-2")).unwrap();
    let t = p.poll_transmit(0).unwrap();
    assert_eq!(t.events.len(), 2);
    assert_eq!(t.path, "/batch");
    let body = r#"{"code":429,"error":"Too many requests for some devices and users","throttled_users":{"user-hot":31},"throttled_events":[0]}"#;
    p.handle_response(10, t.id, status(429, body));
    assert_eq!(
        drain(&mut p),
        vec![AppEvent::IdentityPaused {
            user_id: Some("user-hot".into()),
            device_id: None,
            until: 30_010,
            daily_quota: false
        }]
    );
    let t = p.poll_transmit(10).expect("the others flow at once");
    assert_eq!(t.events, vec![cold.id]);
    p.handle_response(11, t.id, ok(t.events.len()));
    assert!(p.poll_transmit(12).is_none());
    assert_eq!(p.poll_timeout(), Some(30_010));
    let t = p.poll_transmit(30_010).expect("the pause ends");
    assert_eq!(t.events, vec![hot.id]);
}

#[test]
fn http_v2_keeps_device_order_behind_a_paused_user() {
    let mut p = amp(Protocol::AmplitudeHttpV2);
    let first = p.enqueue(0, amp_event("user-hot", "device-1")).unwrap();
    p.enqueue(0, amp_event("", "device-1")).unwrap();
    let other = p.enqueue(0, amp_event("", "device-9")).unwrap();
    let t = p.poll_transmit(0).unwrap();
    let body = r#"{"code":429,"throttled_users":{"user-hot":40}}"#;
    p.handle_response(1, t.id, status(429, body));
    let t = p.poll_transmit(1).unwrap();
    assert_eq!(
        t.events,
        vec![other.id],
        "device-1's later event waits behind its paused one"
    );
    p.handle_response(2, t.id, ok(t.events.len()));
    let t = p.poll_transmit(30_001).unwrap();
    assert_eq!(t.events[0], first.id);
    assert_eq!(t.events.len(), 2);
}

#[test]
fn amplitude_daily_quota_holds_and_probes_one_event() {
    let mut p = amp(Protocol::AmplitudeBatch);
    for _ in 0..3 {
        p.enqueue(0, amp_event("user-daily", "device-1")).unwrap();
    }
    let t = p.poll_transmit(0).unwrap();
    p.handle_response(
        0,
        t.id,
        status(
            429,
            r#"{"code":429,"exceeded_daily_quota_users":{"user-daily":500001}}"#,
        ),
    );
    assert!(matches!(
        p.poll_event(),
        Some(AppEvent::IdentityPaused {
            daily_quota: true,
            until: 3_600_000,
            ..
        })
    ));
    assert!(
        p.poll_transmit(60_000).is_none(),
        "held, not retried every 30 s"
    );
    let probe = p.poll_transmit(3_600_000).unwrap();
    assert_eq!(probe.events.len(), 1);
    p.handle_response(3_600_001, probe.id, ok(probe.events.len()));
    assert_eq!(
        p.poll_transmit(3_600_001).unwrap().events.len(),
        2,
        "hold lifted"
    );
    assert_eq!(p.stats().failed, 0, "never dropped");
}

#[test]
fn amplitude_invalid_events_fail_and_the_rest_are_resent() {
    let mut p = amp(Protocol::AmplitudeHttpV2);
    let a = p.enqueue(0, amp_event("user-1", "device-1")).unwrap();
    let b = p.enqueue(0, amp_event("user-2", "device-2")).unwrap();
    let t = p.poll_transmit(0).unwrap();
    let body = r#"{"code":400,"error":"Request missing required field","events_with_invalid_fields":{"time":[1]}}"#;
    p.handle_response(1, t.id, status(400, body));
    assert!(
        matches!(p.poll_event(), Some(AppEvent::Failed { id, reason: FailReason::Rejected { .. }, .. }) if id == b.id)
    );
    let t = p.poll_transmit(1).unwrap();
    assert_eq!(t.events, vec![a.id]);
}

#[test]
fn amplitude_body_is_the_documented_shape() {
    let mut p = amp(Protocol::AmplitudeHttpV2);
    let e = p
        .enqueue(1_700_000_000_000, amp_event("user-1", "device-1"))
        .unwrap();
    let t = p.poll_transmit(1_700_000_000_000).unwrap();
    assert_eq!(t.path, "/2/httpapi");
    assert_eq!(
        p.headers(),
        vec![("Content-Type", "application/json".to_string())]
    );
    let expected = format!(
        r#"{{"api_key":"api-key","events":[{{"event_type":"Play","insert_id":"{}","user_id":"user-1","device_id":"device-1","time":1700000000000}}],"options":{{"min_id_length":5}}}}"#,
        e.message_id
    );
    assert_eq!(String::from_utf8(t.body).unwrap(), expected);
}

#[test]
fn throttling_an_identity_outside_the_request_is_a_rate_limit_for_it() {
    let mut p = amp(Protocol::AmplitudeHttpV2);
    p.enqueue(0, amp_event("user-1", "device-1")).unwrap();
    let t = p.poll_transmit(0).unwrap();
    let body = r#"{"code":429,"throttled_users":{"someone-else":40}}"#;
    p.handle_response(
        0,
        t.id,
        Response {
            retry_after: Some("5".into()),
            location: None,
            ..status(429, body)
        },
    );
    let evs = drain(&mut p);
    assert!(
        matches!(&evs[0], AppEvent::IdentityPaused { user_id: Some(u), .. } if u == "someone-else")
    );
    assert_eq!(
        evs[1],
        AppEvent::RateLimited { until: 5_000 },
        "resending unchanged would fail the same way"
    );
}

/// Amplitude's user-property limit, `$skip_user_properties_sync` and its cap on ids.
#[cfg(feature = "user-properties")]
mod user_properties {
    use super::*;

    fn identify(user: &str) -> EventInput {
        EventInput {
            kind: EventKind::Identify,
            traits: Some(r#"{"plan":"pro"}"#.into()),
            ..amp_event(user, "device-1")
        }
    }

    fn limit_warnings(w: &[Warning]) -> Vec<&Warning> {
        w.iter()
            .filter(|w| w.code() == "W_USER_PROPERTY_LIMIT")
            .collect()
    }

    #[test]
    fn updates_past_ninety_percent_of_the_hourly_limit_are_warned_and_still_sent() {
        let mut p = Pipeline::new(Config {
            max_queue_events: 5_000,
            ..Config::new(Protocol::AmplitudeHttpV2, "api-key")
        })
        .unwrap();
        let mut warned = Vec::new();
        for i in 0..1_900u64 {
            let e = p.enqueue(i, identify("user-heavy")).unwrap();
            if !limit_warnings(&e.warnings).is_empty() {
                warned.push(i + 1);
            }
            // Another user's updates and plain tracks do not count toward it.
            let other = p.enqueue(i, amp_event("user-light", "device-2")).unwrap();
            assert!(limit_warnings(&other.warnings).is_empty());
        }
        assert_eq!(warned[0], 1_620, "at 90 % of 1,800");
        assert_eq!(
            &warned[1..],
            (1_801..=1_900).collect::<Vec<_>>(),
            "then each one past it"
        );
        let e = p.enqueue(1_900, identify("user-heavy")).unwrap();
        assert_eq!(
            limit_warnings(&e.warnings),
            vec![&Warning::UserPropertyLimit {
                user_id: "user-heavy".into(),
                updates: 1_901,
                limit: 1_800
            }]
        );
        assert!(e.warnings[0].message().contains("user-heavy"));
        assert_eq!(p.stats().queued, 3_801, "every event is still sent");
        let later = p
            .enqueue(3_600_000 + 1_900, identify("user-heavy"))
            .unwrap();
        assert!(limit_warnings(&later.warnings).is_empty(), "a rolling hour");
    }

    #[test]
    fn skipping_the_sync_is_a_top_level_member_and_does_not_count() {
        for (config_skip, event_skip) in [(true, false), (false, true)] {
            let mut p = Pipeline::new(Config {
                skip_user_properties_sync: config_skip,
                flush_at: 1,
                ..Config::new(Protocol::AmplitudeBatch, "api-key")
            })
            .unwrap();
            for i in 0..1_700 {
                let e = p
                    .enqueue(
                        i,
                        EventInput {
                            skip_user_properties_sync: event_skip,
                            ..identify("user-heavy")
                        },
                    )
                    .unwrap();
                assert!(limit_warnings(&e.warnings).is_empty());
                if i == 0 {
                    let body = p.stored_form(e.id).unwrap().body;
                    let body = String::from_utf8(body).unwrap();
                    assert!(
                        body.ends_with(r#","$skip_user_properties_sync":true}"#),
                        "{body}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_id_over_the_character_cap_is_warned() {
        let mut p = amp(Protocol::AmplitudeHttpV2);
        let long = "u".repeat(1_025);
        let e = p.enqueue(0, amp_event(&long, "device-1")).unwrap();
        assert_eq!(
            e.warnings,
            vec![Warning::LongString {
                field: Field::UserId,
                chars: 1_025,
                limit: 1_024
            }]
        );
        assert_eq!(e.warnings[0].code(), "W_TRUNCATED");
        let ok = p.enqueue(0, amp_event(&long[..1_024], "device-1")).unwrap();
        assert!(ok.warnings.is_empty());
    }
}
