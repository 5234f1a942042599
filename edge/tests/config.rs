//! The configuration: defaults, and every refusal naming its field.

mod common;

use batchwire::core::Protocol;
use batchwire_edge::EdgeConfig;
use common::env;

const GOOD: &str = r#"{"version": 1, "shards": 4, "maxBodyBytes": 2048, "cors": ["https://app.example.com/"],
  "perIp": {"requests": 10, "windowSecs": 5}, "adminKeySecret": "ADMIN",
  "sources": {"uk_live_a": {"destination": "amp", "mapping": {"events": {"rename": {"a": "b"}, "drop": []}}}},
  "destinations": {"amp": {"protocol": "amplitude-http-v2", "serverZone": "EU", "keySecret": "AMP",
    "options": {"flushAt": 50, "maxRetryAfterMs": 600000, "identityEventsPerSecond": 10}}}}"#;

#[test]
fn a_full_configuration_loads() {
    let c = EdgeConfig::load(Some(GOOD), &env(&[("AMP", "k"), ("ADMIN", "adm")])).unwrap();
    assert_eq!((c.shards, c.max_body_bytes), (4, 2048));
    assert_eq!(c.cors, ["https://app.example.com"]);
    assert_eq!((c.per_ip_requests, c.per_ip_window_ms), (10, 5_000));
    assert_eq!(c.admin_key.as_deref(), Some("adm"));
    let d = &c.destinations[0];
    assert_eq!(
        (d.protocol, d.url.as_str()),
        (Protocol::AmplitudeHttpV2, "https://api.eu.amplitude.com")
    );
    assert_eq!(
        (d.config.flush_at, d.config.identity_events_per_second),
        (50, 10)
    );
    assert_eq!(d.config.write_key, "k");
    assert!(c.destination_of_shard("amp#3").is_some());
    assert!(c.destination_of_shard("amp#4").is_none());
    assert!(c.destination_of_shard("other#0").is_none());
}

#[test]
fn no_configuration_is_the_demo_one() {
    let c = EdgeConfig::load(None, &env(&[])).unwrap();
    assert_eq!(c.sources[0].key, "uk_live_demo");
    let d = &c.destinations[0];
    assert_eq!(
        (d.name.as_str(), d.url.as_str()),
        ("upstream", "http://127.0.0.1:8787")
    );
    assert_eq!(d.config.write_key, "uk_live_demo");
    assert_eq!(
        (c.shards, c.cors.clone(), c.admin_key.clone()),
        (16, vec!["*".to_string()], None)
    );
    let c = EdgeConfig::load(
        None,
        &env(&[
            ("UPSTREAM_URL", "http://h:1/"),
            ("UPSTREAM_WRITE_KEY", "uk_live_x"),
            ("EDGE_ADMIN_KEY", "a"),
        ]),
    )
    .unwrap();
    let d = &c.destinations[0];
    assert_eq!(
        (d.url.as_str(), d.config.write_key.as_str()),
        ("http://h:1", "uk_live_x")
    );
    assert_eq!(c.admin_key.as_deref(), Some("a"));
}

#[test]
fn every_error_names_its_field() {
    let base: serde_json::Value = serde_json::from_str(GOOD).unwrap();
    let with = |path: &[&str], v: serde_json::Value| {
        let mut c = base.clone();
        let mut at = &mut c;
        for p in &path[..path.len() - 1] {
            at = &mut at[*p];
        }
        let last = path[path.len() - 1];
        if v.is_null() {
            at.as_object_mut().unwrap().remove(last);
        } else {
            at[last] = v;
        }
        c.to_string()
    };
    use serde_json::json;
    let cases = [
        (with(&["version"], json!(2)), "version"),
        (with(&["shards"], json!(0)), "shards"),
        (with(&["shards"], json!(1025)), "shards"),
        (with(&["shards"], json!("4")), "shards"),
        (with(&["maxBodyBytes"], json!(0)), "maxBodyBytes"),
        (with(&["cors"], json!("*")), "cors"),
        (with(&["cors"], json!(["https://a", 3])), "cors[1]"),
        (with(&["perIp", "windowSecs"], json!(0)), "perIp.windowSecs"),
        (with(&["perIp", "burst"], json!(1)), "perIp.burst"),
        (with(&["adminKeySecret"], json!(7)), "adminKeySecret"),
        (with(&["extra"], json!(1)), "extra"),
        (
            with(&["sources", "uk_live_a", "destination"], json!("nope")),
            "sources.uk_live_a.destination",
        ),
        (
            with(
                &["sources", "uk_live_a", "mapping", "columns"],
                json!({"a": "userId"}),
            ),
            "sources.uk_live_a.mapping.columns",
        ),
        (
            with(
                &["sources", "uk_live_a", "mapping", "events"],
                json!({"rename": {"a": "x", "b": "x"}}),
            ),
            "sources.uk_live_a.mapping",
        ),
        (
            with(&["sources", "uk_live_a", "color"], json!(1)),
            "sources.uk_live_a.color",
        ),
        (with(&["sources"], json!({})), "sources"),
        (
            with(&["destinations", "amp", "protocol"], json!("segment")),
            "destinations.amp.protocol",
        ),
        (
            with(&["destinations", "amp", "serverZone"], json!("APAC")),
            "destinations.amp.serverZone",
        ),
        (
            with(&["destinations", "amp", "url"], json!("ftp://x")),
            "destinations.amp.url",
        ),
        (
            with(&["destinations", "amp", "keySecret"], json!("MISSING")),
            "destinations.amp.keySecret",
        ),
        (
            with(&["destinations", "amp", "keySecret"], json!(null)),
            "destinations.amp.keySecret",
        ),
        (
            with(
                &["destinations", "amp", "options", "storage"],
                json!("memory"),
            ),
            "destinations.amp.options.storage",
        ),
        (
            with(&["destinations", "amp", "options", "flushAt"], json!(-1)),
            "destinations.amp.options.flushAt",
        ),
        (
            with(&["destinations", "amp", "options", "flushAt"], json!(0)),
            "destinations.amp.options.flushAt",
        ),
        (
            with(&["destinations", "amp", "options", "maxInFlight"], json!(0)),
            "destinations.amp.options.maxInFlight",
        ),
        (
            with(
                &["destinations", "amp", "options", "backoffMaxMs"],
                json!(1),
            ),
            "destinations.amp.options.backoffMaxMs",
        ),
        (
            with(
                &["destinations", "amp", "options", "skipUserPropertiesSync"],
                json!(1),
            ),
            "destinations.amp.options.skipUserPropertiesSync",
        ),
        (
            with(&["destinations", "amp", "region"], json!("x")),
            "destinations.amp.region",
        ),
        (
            with(&["destinations"], json!({"a#b": {}})),
            "destinations.a#b",
        ),
    ];
    let e = env(&[("AMP", "k")]);
    for (text, field) in cases {
        let err = EdgeConfig::load(Some(&text), &e).expect_err(&text);
        assert_eq!(err.field, field, "{text}: {err}");
        assert!(!err.message.is_empty());
    }
    let v1 = r#"{"sources": {"k": {"destination": "d"}}, "destinations": {"d": {"protocol": "v1-batch", "keySecret": "K"}}}"#;
    let err = EdgeConfig::load(Some(v1), &env(&[("K", "x")])).unwrap_err();
    assert_eq!(err.field, "destinations.d.url");
    let err = EdgeConfig::load(Some("{nope"), &e).unwrap_err();
    assert_eq!(err.field, "BATCHWIRE_EDGE_CONFIG");
    let err = EdgeConfig::load(None, &env(&[("UPSTREAM_URL", "127.0.0.1:8787")])).unwrap_err();
    assert_eq!(err.field, "UPSTREAM_URL");
}
