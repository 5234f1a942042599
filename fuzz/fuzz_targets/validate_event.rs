//! Arbitrary events into validation and encoding. Fields are split on 0xFF; the first byte picks
//! the protocol and kind. Whatever is accepted must encode into a request body that is valid
//! JSON, and its stored form must restore.
#![no_main]

use batchwire::core::{Config, EventInput, EventKind, Pipeline, Protocol};
use batchwire::base::json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [sel, rest @ ..] = data else { return };
    let protocol = Protocol::ALL[usize::from(sel & 3) % 3];
    let kind = EventKind::ALL[usize::from(sel >> 2) % 6];
    let mut fields = rest
        .split(|&b| b == 0xFF)
        .map(|f| (!f.is_empty()).then(|| String::from_utf8_lossy(f).into_owned()));
    let mut next = || fields.next().flatten();
    let input = EventInput {
        kind,
        event: next(),
        message_id: next(),
        anonymous_id: next(),
        user_id: next(),
        group_id: next(),
        previous_id: next(),
        timestamp: next().and_then(|t| t.parse().ok()),
        properties: next(),
        traits: next(),
        context: next(),
    };
    if let Some(p) = &input.properties {
        let _ = json::scan_object(p.as_bytes());
        let _ = json::members(p.as_bytes()).count();
    }
    let mut pipeline = Pipeline::new(Config::new(protocol, "fuzz-key")).unwrap();
    let Ok(queued) = pipeline.enqueue(1_700_000_000_000, input) else {
        return;
    };
    let stored = pipeline.stored_form(queued.id).expect("held");
    assert_eq!(stored.message_id, queued.message_id);
    pipeline.flush(1_700_000_000_000);
    let t = pipeline.poll_transmit(1_700_000_000_000).expect("flushed");
    json::scan_object(&t.body).expect("every request body is valid JSON");
    let mut other = Pipeline::new(Config {
        seed: 1,
        ..Config::new(protocol, "fuzz-key")
    })
    .unwrap();
    other
        .restore(1_700_000_000_001, stored)
        .expect("a stored form restores");
});
