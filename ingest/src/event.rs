//! A /v1-batch-shaped JSON event object (an NDJSON line, a CSV row made into one, an edge
//! request's event) to the engine's `EventInput`, with the mapping applied.

use batchwire::core::{derive_id, Derived, EventInput, EventKind};
use serde_json::{Map, Value};

use crate::mapping::Mapping;

/// Members of a /v1-batch event (and of Segment's) that carry nothing the engine sends: read and
/// ignored.
pub const IGNORED: [&str; 8] = [
    "sentAt",
    "receivedAt",
    "originalTimestamp",
    "integrations",
    "channel",
    "version",
    "writeKey",
    "_metadata",
];

/// An NDJSON line to an event (`Ok(None)`: dropped by the mapping). A line without a messageId
/// gets the one derived from its bytes.
pub fn parse_ndjson(line: &[u8], mapping: &Mapping) -> Result<Option<EventInput>, String> {
    let v: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(obj) = v else {
        return Err("not a JSON object".into());
    };
    build(obj, line, mapping)
}

/// A /v1-batch-shaped event object to an event, with `mapping` applied (`Ok(None)`: the mapping
/// drops it). `content` is what a missing messageId is derived from
/// (`derive_id(Derived::MessageId, content)`): the input line, the CSV cells, or the object's
/// bytes as received, so the same input always gets the same id.
pub fn build(
    mut obj: Map<String, Value>,
    content: &[u8],
    mapping: &Mapping,
) -> Result<Option<EventInput>, String> {
    let mut e = EventInput::default();
    if let Some(t) = obj.remove("type") {
        let t = t.as_str().ok_or("`type` must be a string")?;
        e.kind = EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == t)
            .ok_or_else(|| {
                format!("`type` {t:?} is not track, identify, page, screen, group or alias")
            })?;
    }
    let name = match (obj.remove("event"), obj.remove("name")) {
        (Some(v), _) | (None, Some(v)) => {
            Some(v.as_str().ok_or("`event` must be a string")?.to_string())
        }
        _ => None,
    };
    e.event = match name {
        Some(n) => match mapping.event_name(n) {
            Some(n) => Some(n),
            None => return Ok(None),
        },
        None => None,
    };
    e.message_id = id(&mut obj, "messageId")?;
    e.user_id = id(&mut obj, "userId")?;
    e.anonymous_id = id(&mut obj, "anonymousId")?;
    e.group_id = id(&mut obj, "groupId")?;
    e.previous_id = id(&mut obj, "previousId")?;
    e.timestamp = match obj.remove("timestamp") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .ok_or("`timestamp` must be epoch milliseconds or ISO 8601 text")?,
        ),
        Some(Value::String(s)) => {
            Some(parse_iso8601(&s).ok_or_else(|| format!("`timestamp` {s:?} is not ISO 8601"))?)
        }
        Some(_) => return Err("`timestamp` must be epoch milliseconds or ISO 8601 text".into()),
    };
    e.properties = match obj.remove("properties") {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => Some(Value::Object(mapping.properties(p)).to_string()),
        Some(_) => return Err("`properties` must be an object".into()),
    };
    e.traits = object(&mut obj, "traits")?;
    e.context = object(&mut obj, "context")?;
    if let Some(Value::Bool(b)) = obj.remove("skipUserPropertiesSync") {
        e.skip_user_properties_sync = b;
    }
    if let Some(k) = obj.keys().find(|k| !IGNORED.contains(&k.as_str())) {
        return Err(format!("unknown field `{k}`"));
    }
    if e.message_id.is_none() {
        e.message_id = Some(derive_id(Derived::MessageId, content));
    }
    Ok(Some(e))
}

/// Takes an id member: a string, or a number written as text.
pub fn id(obj: &mut Map<String, Value>, field: &str) -> Result<Option<String>, String> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(format!("`{field}` must be a string")),
    }
}

/// Takes an object member as JSON text.
pub fn object(obj: &mut Map<String, Value>, field: &str) -> Result<Option<String>, String> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v.to_string())),
        Some(_) => Err(format!("`{field}` must be an object")),
    }
}

/// `YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|±HH:MM]` to epoch milliseconds (UTC when no offset).
pub fn parse_iso8601(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !(1..=12).contains(&mo) {
        return None;
    }
    if d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    let (mut h, mut mi, mut sec, mut ms) = (0, 0, 0, 0);
    let mut i = 10;
    if matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        h = num(11..13)?;
        if b.get(13) != Some(&b':') {
            return None;
        }
        mi = num(14..16)?;
        i = 16;
        if b.get(16) == Some(&b':') {
            sec = num(17..19)?;
            i = 19;
            if b.get(19) == Some(&b'.') {
                let start = 20;
                let mut end = start;
                while b.get(end).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                }
                if end == start {
                    return None;
                }
                let digits = &s[start..end.min(start + 3)];
                ms = digits.parse::<i64>().ok()? * 10_i64.pow(3 - digits.len() as u32);
                i = end;
            }
        }
        if h > 23 || mi > 59 || sec > 60 {
            return None;
        }
    }
    let offset_min = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = num(i + 1..i + 3)?;
            let om = match b.get(i + 3) {
                Some(b':') => num(i + 4..i + 6)?,
                _ => num(i + 3..i + 5)?,
            };
            let end = if b.get(i + 3) == Some(&b':') {
                i + 6
            } else {
                i + 5
            };
            if end != b.len() {
                return None;
            }
            let m = oh * 60 + om;
            if sign == b'+' {
                m
            } else {
                -m
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let total = ((days * 24 + h) * 60 + mi - offset_min) * 60_000 + sec * 1000 + ms;
    u64::try_from(total).ok()
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_iso8601("2024-02-29T12:34:56.789Z"),
            Some(1_709_210_096_789)
        );
        assert_eq!(
            parse_iso8601("2024-02-29T14:34:56.789+02:00"),
            Some(1_709_210_096_789)
        );
        assert_eq!(parse_iso8601("2024-02-29"), Some(1_709_164_800_000));
        assert_eq!(parse_iso8601("2023-02-29"), None);
        assert_eq!(parse_iso8601("yesterday"), None);
        assert_eq!(parse_iso8601("2024-01-01T00:00:00Zjunk"), None);
    }

    #[test]
    fn ndjson_shape_and_derived_ids() {
        let m = Mapping::default();
        let line = br#"{"type":"track","event":"Bought","userId":"u-123","properties":{"a":1},"timestamp":"2024-01-01T00:00:00Z"}"#;
        let e = parse_ndjson(line, &m).unwrap().unwrap();
        assert_eq!(e.event.as_deref(), Some("Bought"));
        assert_eq!(e.timestamp, Some(1_704_067_200_000));
        assert_eq!(
            e.message_id.as_deref(),
            Some(derive_id(Derived::MessageId, line).as_str())
        );
        let again = parse_ndjson(line, &m).unwrap().unwrap();
        assert_eq!(
            again.message_id, e.message_id,
            "re-reading derives the same id"
        );
        assert!(parse_ndjson(br#"{"evnt":"x"}"#, &m)
            .unwrap_err()
            .contains("unknown field"));
        assert!(parse_ndjson(b"{nope", &m).unwrap_err().contains("not JSON"));
    }

    #[test]
    fn mapping_renames_drops_and_keeps_given_ids() {
        let m = Mapping::parse(
            r#"{"events":{"rename":{"Account Upgraded":"upgrade"},"drop":["Ping"]},
                "properties":{"rename":{"plan":"tier"},"drop":["email"]}}"#,
        )
        .unwrap();
        let line = br#"{"type":"track","event":"Account Upgraded","messageId":"m-1","anonymousId":"a-1","properties":{"plan":"pro","email":"x@y","n":2}}"#;
        let e = parse_ndjson(line, &m).unwrap().unwrap();
        assert_eq!(e.event.as_deref(), Some("upgrade"));
        assert_eq!(e.message_id.as_deref(), Some("m-1"));
        assert_eq!(e.properties.as_deref(), Some(r#"{"tier":"pro","n":2}"#));
        let ping = br#"{"type":"track","event":"Ping","anonymousId":"a-1"}"#;
        assert_eq!(parse_ndjson(ping, &m).unwrap(), None);
        let page = br#"{"type":"page","name":"Account Upgraded","anonymousId":"a-1"}"#;
        let e = parse_ndjson(page, &m).unwrap().unwrap();
        assert_eq!(
            (e.kind, e.event.as_deref()),
            (EventKind::Page, Some("upgrade"))
        );
    }
}
