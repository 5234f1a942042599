//! Arbitrary stored forms (a corrupted IndexedDB record) into `restore`: refused or accepted,
//! never a panic; an accepted one must still send as valid JSON.
#![no_main]

use batchwire::core::{Config, Pipeline, Protocol, StoredEvent};
use batchwire::base::json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [sel, id_len, rest @ ..] = data else {
        return;
    };
    let protocol = Protocol::ALL[usize::from(*sel) % 3];
    let (id, body) = rest.split_at(usize::from(*id_len).min(rest.len()));
    let stored = StoredEvent {
        message_id: String::from_utf8_lossy(id).into_owned(),
        enqueued_at: 1_700_000_000_000,
        body: body.to_vec(),
    };
    let mut pipeline = Pipeline::new(Config::new(protocol, "fuzz-key")).unwrap();
    if pipeline.restore(1_700_000_000_000, stored).is_ok() {
        pipeline.flush(1_700_000_000_000);
        let t = pipeline.poll_transmit(1_700_000_000_000).expect("flushed");
        json::scan_object(&t.body).expect("valid JSON body");
    }
});
