//! What the edge writes down: the part a front hands a shard (binary, opaque to JavaScript), the
//! queue entries (`q:…`) and the dead letters (`d:<messageId>`) of a shard's storage (JSON text,
//! readable with any storage browser).

use batchwire::core::{Millis, StoredEvent};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Appends one event to a part: `enqueued_at` (u64 LE), the messageId (u8 length, bytes), the
/// encoded event (u32 LE length, bytes).
pub fn push_part(out: &mut Vec<u8>, e: &StoredEvent) {
    out.extend_from_slice(&e.enqueued_at.to_le_bytes());
    out.push(e.message_id.len() as u8);
    out.extend_from_slice(e.message_id.as_bytes());
    out.extend_from_slice(&(e.body.len() as u32).to_le_bytes());
    out.extend_from_slice(&e.body);
}

/// The events of a part, in order; `Err` when it was not made by `push_part`.
pub fn read_part(mut p: &[u8]) -> Result<Vec<StoredEvent>, &'static str> {
    const BAD: &str = "not a part made by ingest";
    let mut out = Vec::new();
    while !p.is_empty() {
        let (at, rest) = p.split_at_checked(8).ok_or(BAD)?;
        let enqueued_at = Millis::from_le_bytes(at.try_into().map_err(|_| BAD)?);
        let (&n, rest) = rest.split_first().ok_or(BAD)?;
        let (mid, rest) = rest.split_at_checked(n as usize).ok_or(BAD)?;
        let (len, rest) = rest.split_at_checked(4).ok_or(BAD)?;
        let len = u32::from_le_bytes(len.try_into().map_err(|_| BAD)?) as usize;
        let (body, rest) = rest.split_at_checked(len).ok_or(BAD)?;
        out.push(StoredEvent {
            message_id: String::from_utf8(mid.to_vec()).map_err(|_| BAD)?,
            enqueued_at,
            body: body.to_vec(),
        });
        p = rest;
    }
    Ok(out)
}

/// The storage key of queue entry `seq`: fixed-width hex, so key order is enqueue order.
pub fn queue_key(seq: u64) -> String {
    format!("q:{seq:016x}")
}

/// The sequence number of a queue key, if it is one.
pub fn queue_seq(key: &str) -> Option<u64> {
    let hex = key.strip_prefix("q:")?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// The storage key of the dead letter of `message_id`.
pub fn dead_key(message_id: &str) -> String {
    format!("d:{message_id}")
}

/// A queue entry's value: `{"messageId":…,"enqueuedAt":…,"event":<the encoded event>}`.
pub fn queue_value(e: &StoredEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(e.body.len() + e.message_id.len() + 48);
    out.extend_from_slice(b"{\"messageId\":");
    out.extend_from_slice(json_str(&e.message_id).as_bytes());
    out.extend_from_slice(b",\"enqueuedAt\":");
    out.extend_from_slice(e.enqueued_at.to_string().as_bytes());
    out.extend_from_slice(b",\"event\":");
    out.extend_from_slice(&e.body);
    out.push(b'}');
    out
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry<'a> {
    message_id: String,
    #[serde(default)]
    enqueued_at: Option<Millis>,
    #[serde(borrow)]
    event: &'a RawValue,
}

/// Reads a queue entry or a dead letter back into the stored form (a dead letter has no
/// `enqueuedAt`: it counts from `now`, when it is replayed).
pub fn read_entry(value: &[u8], now: Millis) -> Result<StoredEvent, String> {
    let e: Entry = serde_json::from_slice(value).map_err(|e| e.to_string())?;
    Ok(StoredEvent {
        message_id: e.message_id,
        enqueued_at: e.enqueued_at.unwrap_or(now),
        body: e.event.get().as_bytes().to_vec(),
    })
}

/// A dead letter's reason, at most (a server's error text can be anything): cut at a character
/// boundary.
pub const MAX_REASON_BYTES: usize = 1024;

/// A dead letter's value: `{"messageId","code","reason","failedAt","event"}`.
pub fn dead_value(message_id: &str, code: &str, reason: &str, at: Millis, body: &[u8]) -> Vec<u8> {
    let mut end = reason.len().min(MAX_REASON_BYTES);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let reason = &reason[..end];
    let mut out = Vec::with_capacity(body.len() + reason.len() + 96);
    out.extend_from_slice(b"{\"messageId\":");
    out.extend_from_slice(json_str(message_id).as_bytes());
    out.extend_from_slice(b",\"code\":");
    out.extend_from_slice(json_str(code).as_bytes());
    out.extend_from_slice(b",\"reason\":");
    out.extend_from_slice(json_str(reason).as_bytes());
    out.extend_from_slice(b",\"failedAt\":");
    out.extend_from_slice(at.to_string().as_bytes());
    out.extend_from_slice(b",\"event\":");
    out.extend_from_slice(body);
    out.push(b'}');
    out
}

fn json_str(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, body: &str) -> StoredEvent {
        StoredEvent {
            message_id: id.into(),
            enqueued_at: 1_700_000_000_123,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn parts_round_trip_and_refuse_garbage() {
        let (a, b) = (ev("m-1", r#"{"messageId":"m-1"}"#), ev("m-2", "{}"));
        let mut part = Vec::new();
        push_part(&mut part, &a);
        push_part(&mut part, &b);
        assert_eq!(read_part(&part).unwrap(), vec![a, b]);
        assert!(read_part(&part[..part.len() - 1]).is_err());
        assert!(read_part(b"junk").is_err());
    }

    #[test]
    fn keys_sort_in_enqueue_order_and_values_read_back() {
        assert!(queue_key(9) < queue_key(10) && queue_key(255) < queue_key(4096));
        assert_eq!(queue_seq(&queue_key(77)), Some(77));
        assert_eq!(queue_seq("d:m-1"), None);
        let e = ev("m-\"1", r#"{"messageId":"m-\"1","n":[1,2]}"#);
        assert_eq!(read_entry(&queue_value(&e), 5).unwrap(), e);
        let d = dead_value("m-1", "E_HTTP", "no \"key\"", 9, br#"{"a":1}"#);
        let v: serde_json::Value = serde_json::from_slice(&d).unwrap();
        assert_eq!(v["reason"], "no \"key\"");
        assert_eq!(v["event"]["a"], 1);
        let back = read_entry(&d, 42).unwrap();
        let long = "é".repeat(MAX_REASON_BYTES);
        let d = dead_value("m-1", "E_HTTP", &long, 9, b"{}");
        let v: serde_json::Value = serde_json::from_slice(&d).unwrap();
        assert_eq!(v["reason"].as_str().unwrap().len(), MAX_REASON_BYTES);
        assert_eq!((back.enqueued_at, back.body), (42, br#"{"a":1}"#.to_vec()));
    }
}
