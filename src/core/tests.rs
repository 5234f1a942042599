//! Pipeline behaviour, call by call.

use super::*;

pub(crate) fn track(name: &str) -> EventInput {
    EventInput {
        kind: EventKind::Track,
        event: Some(name.into()),
        anonymous_id: Some("anon-12345".into()),
        properties: Some(r#"{"plan":"pro","n":1}"#.into()),
        ..Default::default()
    }
}

fn ok() -> Response {
    Response {
        status: 200,
        retry_after: None,
        body: br#"{"success":true,"accepted":1,"failed":0,"errors":[],"warnings":[]}"#.to_vec(),
    }
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
    p.handle_response(11_050, t.id, ok());
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
