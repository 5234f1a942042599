//! Arbitrary responses into every protocol's decoder, and through a live pipeline (so the policy
//! applied to each outcome is fuzzed too). Input: protocol byte, status (2 bytes), Retry-After
//! length byte and text, then the body.
#![no_main]

use batchwire::core::{Config, EventInput, EventKind, Pipeline, Protocol, Response};
use batchwire::base::json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [p, s0, s1, ra_len, rest @ ..] = data else {
        return;
    };
    let protocol = Protocol::ALL[usize::from(*p) % 3];
    let status = u16::from_be_bytes([*s0, *s1]) % 600;
    let ra_len = usize::from(*ra_len).min(rest.len());
    let (ra, body) = rest.split_at(ra_len);
    let retry_after = (!ra.is_empty()).then(|| String::from_utf8_lossy(ra).into_owned());
    for (k, v) in json::members(body) {
        let _ = (
            json::unescape(k),
            json::string(v),
            json::uint(v),
            json::items(v).count(),
        );
    }
    let _ =
        batchwire::core::parse_retry_after(retry_after.as_deref().unwrap_or(""), 1_700_000_000_000);
    let _ = protocol.decode(status, Some(5_000), body);

    let mut pipeline = Pipeline::new(Config {
        flush_at: 1,
        ..Config::new(protocol, "fuzz-key")
    })
    .unwrap();
    for i in 0..3 {
        let input = EventInput {
            kind: EventKind::Track,
            event: Some("Fuzzed".into()),
            user_id: Some(["user-", &i.to_string()].concat()),
            anonymous_id: Some("device-1".into()),
            ..Default::default()
        };
        pipeline.enqueue(1_700_000_000_000, input).unwrap();
    }
    let mut now = 1_700_000_000_000;
    let t = pipeline.poll_transmit(now).expect("flush_at 1: due");
    pipeline.handle_response(
        now,
        t.id,
        Response {
            status,
            retry_after,
            body: body.to_vec(),
        },
    );
    // Whatever the response said, the engine must keep working and account for every event.
    for _ in 0..20 {
        while let Some(t) = pipeline.poll_transmit(now) {
            pipeline.handle_response(
                now,
                t.id,
                Response {
                    status: 200,
                    retry_after: None,
                    body: Vec::new(),
                },
            );
        }
        while pipeline.poll_event().is_some() {}
        match pipeline.poll_timeout() {
            Some(next) => now = next,
            None => break,
        }
        pipeline.handle_timeout(now);
    }
    let stats = pipeline.stats();
    assert_eq!(
        stats.delivered + stats.failed + (stats.queued + stats.in_flight) as u64,
        3
    );
});
