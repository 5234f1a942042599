//! The event model and its validation.
//!
//! An event is validated once, at enqueue, then encoded once into its protocol's JSON; from then
//! on it is opaque bytes plus a little metadata. Hard rules reject with a [`Rejected`] that names
//! the rule and the field; soft caps pass with a [`Warning`].
//!
//! Decisions:
//! - /v1-batch requires `anonymousId` on every event, so an event with only a `userId` is
//!   rejected (the core derives no ids; the bindings always supply an anonymousId).
//! - Amplitude needs a `user_id` or `device_id` that survives its id rules (at least
//!   `min_id_length` characters, not in its list of placeholder ids). Ids that would not survive
//!   are dropped here, with a warning, exactly as the server would drop them; an event left with
//!   none is rejected. `context` is not sent to Amplitude (warning); `alias` is refused there.
//! - Empty-string ids count as absent.
//! - A caller-given messageId must be 1..=128 bytes needing no JSON escaping.

use crate::prelude::*;

use super::{as_str, Millis};
use crate::base::json::{self, ScanError};
use crate::base::text::say;
use crate::protocol::{amplitude, EventKind, Protocol};

/// An event as the application gives it. Raw JSON fields are text (the bindings pass what
/// `JSON.stringify` produced) and must be objects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventInput {
    pub kind: EventKind,
    /// The track event name, or the page / screen name.
    pub event: Option<String>,
    pub message_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub user_id: Option<String>,
    pub group_id: Option<String>,
    pub previous_id: Option<String>,
    /// When it happened; `now` at enqueue when absent.
    pub timestamp: Option<Millis>,
    pub properties: Option<String>,
    pub traits: Option<String>,
    pub context: Option<String>,
}

/// An event in the form to persist (IndexedDB, a Durable Object) and hand back to
/// `Pipeline::restore` later: the exact bytes that will be sent, so a resend after a reload is
/// byte-identical and carries the same messageId.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub message_id: String,
    /// When the event was first queued: the give-up horizon counts from here across reloads.
    pub enqueued_at: Millis,
    /// The event's JSON in the pipeline protocol's shape.
    pub body: Vec<u8>,
}

/// Which input field a rule is about; `name()` is the field's name in the JavaScript API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Event,
    MessageId,
    AnonymousId,
    UserId,
    GroupId,
    PreviousId,
    Timestamp,
    Properties,
    Traits,
    Context,
    /// The stored body handed to `restore`.
    Stored,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::Event => "event",
            Field::MessageId => "messageId",
            Field::AnonymousId => "anonymousId",
            Field::UserId => "userId",
            Field::GroupId => "groupId",
            Field::PreviousId => "previousId",
            Field::Timestamp => "timestamp",
            Field::Properties => "properties",
            Field::Traits => "traits",
            Field::Context => "context",
            Field::Stored => "body",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Field::Event => "name",
            other => other.name(),
        }
    }
}

/// The rule an input broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Absent or empty where required; the text says what is required.
    Missing(&'static str),
    TooLong {
        chars: usize,
        limit: usize,
    },
    NotJson(ScanError),
    NotObject,
    NotPlain,
    OutOfRange,
}

/// Why `enqueue` or `restore` refused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    Invalid {
        kind: EventKind,
        field: Field,
        rule: Rule,
    },
    /// Even alone in a request (envelope included), the event exceeds the byte limit.
    TooLarge {
        bytes: usize,
        limit: usize,
    },
    Unsupported {
        kind: EventKind,
        protocol: Protocol,
    },
    /// The queue is at its bound and nothing in it can be evicted (or the policy is RejectNew).
    QueueFull {
        events: usize,
        bytes: usize,
    },
}

impl Rejected {
    pub fn code(&self) -> &'static str {
        match self {
            Rejected::Invalid { .. } => "E_INVALID_EVENT",
            Rejected::TooLarge { .. } => "E_TOO_LARGE",
            Rejected::Unsupported { .. } => "E_UNSUPPORTED",
            Rejected::QueueFull { .. } => "E_QUEUE_FULL",
        }
    }
}

impl Rejected {
    /// The message, built without `core::fmt` (see [`say`](crate::base::text::say)), by one `say` call for every
    /// variant: {0} kind, {1} field label, {2} a detail, {3} field name, {4} and {5} numbers.
    pub fn message(&self) -> String {
        let (template, kind, field, detail, a, b) = match self {
            Rejected::Invalid { kind, field, rule } => {
                let (template, detail, a, b) = match rule {
                    Rule::Missing(why) => ("{0} event {2} (field: {3})", *why, 0, 0),
                    Rule::TooLong { chars, limit } => (
                        "{0} event {1} is {4} characters; the limit is {5} (field: {3})",
                        "",
                        *chars as u64,
                        *limit as u64,
                    ),
                    Rule::NotJson(e) => (
                        "{0} event {1} is not valid JSON: {2} at byte {4} (field: {3})",
                        e.what,
                        e.at as u64,
                        0,
                    ),
                    Rule::NotObject => ("{0} event {1} must be a JSON object (field: {3})", "", 0, 0),
                    Rule::NotPlain => (
                        "{0} event {1} must be 1 to 128 bytes without quotes, backslashes or control characters (field: {3})",
                        "",
                        0,
                        0,
                    ),
                    Rule::OutOfRange => ("{0} event {1} is after the year 9999 (field: {3})", "", 0, 0),
                };
                (template, *kind, *field, detail, a, b)
            }
            Rejected::TooLarge { bytes, limit } => (
                "event needs a {4}-byte request on its own; the limit is {5} bytes (field: properties)",
                EventKind::Track,
                Field::Event,
                "",
                *bytes as u64,
                *limit as u64,
            ),
            Rejected::Unsupported { kind, protocol } => (
                "{0} events cannot be sent to {2}",
                *kind,
                Field::Event,
                protocol.name(),
                0,
                0,
            ),
            Rejected::QueueFull { events, bytes } => (
                "the queue is full ({4} events, {5} bytes) and nothing can be evicted",
                EventKind::Track,
                Field::Event,
                "",
                *events as u64,
                *bytes as u64,
            ),
        };
        let (label, name) = (field.label(), field.name());
        say(template, kind.as_str(), label, detail, name, a, b)
    }
}

impl core::error::Error for Rejected {}

/// Something the application should know that did not stop delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// Soft caps (the server stores the event but warns).
    TooManyKeys {
        field: Field,
        keys: usize,
        limit: usize,
    },
    ValueTooLarge {
        field: Field,
        bytes: usize,
        limit: usize,
    },
    TooDeep {
        field: Field,
        depth: usize,
        limit: usize,
    },
    /// Amplitude truncates string values beyond `limit` characters.
    LongString {
        field: Field,
        chars: usize,
        limit: usize,
    },
    /// Amplitude would silently remove this id (too short or a placeholder); it is not sent.
    IdRemoved { field: Field },
    /// Amplitude has no context object; it is not sent.
    ContextNotSent,
    /// A warning the server returned with an accepted request.
    Server { message: String },
    /// The server reported an error for an event the request did not contain.
    UnmatchedServerError { error: String },
}

impl Warning {
    pub fn code(&self) -> &'static str {
        match self {
            Warning::TooManyKeys { .. }
            | Warning::ValueTooLarge { .. }
            | Warning::TooDeep { .. } => "W_SOFT_CAP",
            Warning::LongString { .. } => "W_TRUNCATED",
            Warning::IdRemoved { .. } => "W_ID_REMOVED",
            Warning::ContextNotSent => "W_CONTEXT_NOT_SENT",
            Warning::Server { .. } => "W_SERVER",
            Warning::UnmatchedServerError { .. } => "W_UNMATCHED",
        }
    }
}

impl Warning {
    /// The message, built without `core::fmt` (see [`say`](crate::base::text::say)).
    pub fn message(&self) -> String {
        // {0} field name, {4} the measure, {5} the limit, {1} the server's text.
        let (template, field, n, limit, text) = match self {
            Warning::TooManyKeys { field, keys, limit } => (
                "{0} has {4} keys; over {5} the server warns (field: {0})",
                *field,
                *keys,
                *limit,
                "",
            ),
            Warning::ValueTooLarge {
                field,
                bytes,
                limit,
            } => (
                "{0} has a {4}-byte value; over {5} the server warns (field: {0})",
                *field,
                *bytes,
                *limit,
                "",
            ),
            Warning::TooDeep {
                field,
                depth,
                limit,
            } => (
                "{0} is nested {4} levels deep; over {5} the server warns (field: {0})",
                *field,
                *depth,
                *limit,
                "",
            ),
            Warning::LongString {
                field,
                chars,
                limit,
            } => (
                "{0} has a {4}-character string; Amplitude truncates at {5} (field: {0})",
                *field,
                *chars,
                *limit,
                "",
            ),
            Warning::IdRemoved { field } => (
                "{0} is not an id Amplitude keeps; it is not sent (field: {0})",
                *field,
                0,
                0,
                "",
            ),
            Warning::ContextNotSent => (
                "context is not sent to Amplitude (field: context)",
                Field::Context,
                0,
                0,
                "",
            ),
            Warning::Server { message } => {
                ("server warning: {1}", Field::Event, 0, 0, message.as_str())
            }
            Warning::UnmatchedServerError { error } => (
                "server reported an error for an unknown event: {1}",
                Field::Event,
                0,
                0,
                error.as_str(),
            ),
        };
        say(template, field.name(), text, "", "", n as u64, limit as u64)
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    as_str(s).filter(|s| !s.is_empty())
}

fn check_object(
    kind: EventKind,
    field: Field,
    text: Option<&str>,
    protocol: Protocol,
    warnings: &mut Vec<Warning>,
) -> Result<(), Rejected> {
    let Some(text) = text else { return Ok(()) };
    // The limits are looked up here, not passed: a `Limits` built on the caller's stack cost
    // a store per field there (wasm size).
    let limits = protocol.limits();
    let stats = json::scan_object(text.as_bytes()).map_err(|e| Rejected::Invalid {
        kind,
        field,
        rule: if e.what == "not an object" {
            Rule::NotObject
        } else {
            Rule::NotJson(e)
        },
    })?;
    if stats.keys > limits.soft_max_keys {
        warnings.push(Warning::TooManyKeys {
            field,
            keys: stats.keys,
            limit: limits.soft_max_keys,
        });
    }
    if stats.max_value_bytes > limits.soft_max_value_bytes {
        warnings.push(Warning::ValueTooLarge {
            field,
            bytes: stats.max_value_bytes,
            limit: limits.soft_max_value_bytes,
        });
    }
    // Depth counts containers including the object itself: `{"a":{}}` is 2 deep.
    if stats.depth > limits.soft_max_depth {
        warnings.push(Warning::TooDeep {
            field,
            depth: stats.depth,
            limit: limits.soft_max_depth,
        });
    }
    if let Some(limit) = limits.warn_string_chars {
        if stats.max_string_chars > limit {
            warnings.push(Warning::LongString {
                field,
                chars: stats.max_string_chars,
                limit,
            });
        }
    }
    Ok(())
}

/// `id` if Amplitude keeps it, else none and a warning (per id: looping over an array of the
/// two cost its by-value iterator in the wasm).
fn amplitude_keeps<'a>(
    id: Option<&'a str>,
    field: Field,
    min_id_length: usize,
    warnings: &mut Vec<Warning>,
) -> Option<&'a str> {
    if id.is_some_and(|s| !amplitude::valid_id(s, min_id_length)) {
        warnings.push(Warning::IdRemoved { field });
        return None;
    }
    id
}

/// The validated, protocol-ready view of an input, borrowing from it.
pub(crate) fn validate<'a>(
    protocol: Protocol,
    min_id_length: usize,
    input: &'a EventInput,
    message_id: &'a str,
    now: Millis,
    warnings: &mut Vec<Warning>,
) -> Result<crate::protocol::EventFields<'a>, Rejected> {
    let kind = input.kind;
    let limits = protocol.limits();
    let invalid = |field, rule| Rejected::Invalid { kind, field, rule };
    if message_id.is_empty()
        || message_id.len() > crate::protocol::MAX_MESSAGE_ID_BYTES
        || !json::is_plain(message_id)
    {
        return Err(invalid(Field::MessageId, Rule::NotPlain));
    }
    let name = non_empty(&input.event);
    if kind == EventKind::Track {
        let Some(n) = name else {
            return Err(invalid(
                Field::Event,
                Rule::Missing("needs a non-empty name"),
            ));
        };
        let chars = json::char_count(n);
        if let Some(limit) = limits.max_event_name_chars {
            if chars > limit {
                return Err(invalid(Field::Event, Rule::TooLong { chars, limit }));
            }
        }
        if let Some(limit) = limits.warn_string_chars {
            if chars > limit {
                warnings.push(Warning::LongString {
                    field: Field::Event,
                    chars,
                    limit,
                });
            }
        }
    }
    let group_id = non_empty(&input.group_id);
    if kind == EventKind::Group && group_id.is_none() {
        return Err(invalid(Field::GroupId, Rule::Missing("needs a groupId")));
    }
    let previous_id = non_empty(&input.previous_id);
    let mut user_id = non_empty(&input.user_id);
    let mut anonymous_id = non_empty(&input.anonymous_id);
    if kind == EventKind::Alias {
        if protocol.is_amplitude() {
            return Err(Rejected::Unsupported { kind, protocol });
        }
        if previous_id.is_none() {
            return Err(invalid(
                Field::PreviousId,
                Rule::Missing("needs a previousId"),
            ));
        }
        if user_id.is_none() {
            return Err(invalid(
                Field::UserId,
                Rule::Missing("needs the new userId"),
            ));
        }
    }
    if protocol.is_amplitude() {
        user_id = amplitude_keeps(user_id, Field::UserId, min_id_length, warnings);
        anonymous_id = amplitude_keeps(anonymous_id, Field::AnonymousId, min_id_length, warnings);
        if user_id.is_none() && anonymous_id.is_none() {
            return Err(invalid(
                Field::UserId,
                Rule::Missing("needs a userId or anonymousId that Amplitude keeps (at least min_id_length characters, not a placeholder)"),
            ));
        }
        if input.context.is_some() {
            warnings.push(Warning::ContextNotSent);
        }
    } else if anonymous_id.is_none() {
        return Err(invalid(
            Field::AnonymousId,
            Rule::Missing("needs an anonymousId (/v1-batch requires one on every event)"),
        ));
    }
    let timestamp = input.timestamp.unwrap_or(now);
    if timestamp > crate::base::time::MAX_TIMESTAMP {
        return Err(invalid(Field::Timestamp, Rule::OutOfRange));
    }
    check_object(
        kind,
        Field::Properties,
        as_str(&input.properties),
        protocol,
        warnings,
    )?;
    check_object(
        kind,
        Field::Traits,
        as_str(&input.traits),
        protocol,
        warnings,
    )?;
    let context = if protocol.is_amplitude() {
        None
    } else {
        as_str(&input.context)
    };
    check_object(kind, Field::Context, context, protocol, warnings)?;
    Ok(crate::protocol::EventFields {
        kind,
        name,
        message_id,
        anonymous_id,
        user_id,
        group_id,
        previous_id,
        timestamp,
        properties: as_str(&input.properties),
        traits: as_str(&input.traits),
        context,
    })
}

/// What an encoded event says about itself: where its messageId sits and who it belongs to.
pub(crate) struct StoredMeta {
    pub msg_off: usize,
    pub msg_len: usize,
    /// A messageId member differs from the one expected.
    pub mismatch: bool,
    pub user: Option<String>,
    pub device: Option<String>,
}

/// Reads the messageId (checked against `message_id`), user and device members of an encoded
/// event: for `restore`, and for naming the identities of a throttled event (one reader for
/// both keeps one copy in the wasm).
pub(crate) fn read_stored(protocol: Protocol, body: &[u8], message_id: &[u8]) -> StoredMeta {
    let (mid_key, device_key, user_key) = protocol.stored_keys();
    let mut meta = StoredMeta {
        msg_off: 0,
        msg_len: 0,
        mismatch: false,
        user: None,
        device: None,
    };
    for (k, v) in json::members(body) {
        if json::same(k, mid_key.as_bytes()) {
            let inner = v
                .get(1..v.len().saturating_sub(1))
                .filter(|_| matches!(v.first(), Some(b'"')));
            if !inner.is_some_and(|m| json::same(m, message_id)) {
                meta.mismatch = true;
            }
            // `v` is a sub-slice of `body`, so this is its offset; +1 skips the quote.
            meta.msg_off = v.as_ptr() as usize - body.as_ptr() as usize + 1;
            meta.msg_len = message_id.len();
        } else if json::same(k, device_key.as_bytes()) {
            meta.device = json::string(v);
        } else if json::same(k, user_key.as_bytes()) {
            meta.user = json::string(v);
        }
    }
    meta
}

/// Checks a stored body is one of ours for this protocol; its bytes are trusted no further.
pub(crate) fn inspect_stored(
    protocol: Protocol,
    stored: &StoredEvent,
) -> Result<StoredMeta, Rejected> {
    let corrupt = |rule| Rejected::Invalid {
        kind: EventKind::Track,
        field: Field::Stored,
        rule,
    };
    let body = &stored.body;
    json::scan_object(body).map_err(|e| corrupt(Rule::NotJson(e)))?;
    let meta = read_stored(protocol, body, stored.message_id.as_bytes());
    if meta.mismatch {
        return Err(corrupt(Rule::Missing(
            "has a stored body whose messageId does not match",
        )));
    }
    let id = stored.message_id.as_str();
    if meta.msg_len == 0 || id.len() > crate::protocol::MAX_MESSAGE_ID_BYTES || !json::is_plain(id)
    {
        return Err(Rejected::Invalid {
            kind: EventKind::Track,
            field: Field::MessageId,
            rule: Rule::NotPlain,
        });
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(name: &str) -> EventInput {
        EventInput {
            kind: EventKind::Track,
            event: Some(name.into()),
            anonymous_id: Some("anon-1".into()),
            ..Default::default()
        }
    }

    fn check(p: Protocol, input: &EventInput) -> Result<Vec<Warning>, Rejected> {
        let mut w = Vec::new();
        validate(p, 5, input, "mid-1", 1000, &mut w).map(|_| w)
    }

    #[test]
    fn names_rule_and_field_when_rejecting() {
        let e = check(Protocol::V1Batch, &track(&"é".repeat(201))).unwrap_err();
        assert_eq!(e.code(), "E_INVALID_EVENT");
        assert_eq!(
            e.to_string(),
            "track event name is 201 characters; the limit is 200 (field: event)"
        );
        assert!(
            check(Protocol::V1Batch, &track(&"é".repeat(200))).is_ok(),
            "chars, not bytes"
        );
        let e = check(Protocol::V1Batch, &track("")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "track event needs a non-empty name (field: event)"
        );
        let e = check(
            Protocol::V1Batch,
            &EventInput {
                properties: Some("[1]".into()),
                ..track("x")
            },
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "track event properties must be a JSON object (field: properties)"
        );
        let e = check(
            Protocol::V1Batch,
            &EventInput {
                traits: Some("{\"a\":}".into()),
                ..track("x")
            },
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "track event traits is not valid JSON: unexpected character at byte 5 (field: traits)"
        );
        let no_anon = EventInput {
            anonymous_id: None,
            user_id: Some("u".into()),
            ..track("x")
        };
        let e = check(Protocol::V1Batch, &no_anon).unwrap_err();
        assert!(e.to_string().ends_with("(field: anonymousId)"));
        assert!(check(
            Protocol::AmplitudeHttpV2,
            &EventInput {
                user_id: Some("user-1".into()),
                ..no_anon
            }
        )
        .is_ok());
    }

    #[test]
    fn soft_caps_warn() {
        let many: Vec<String> = (0..301).map(|i| format!("\"k{i}\":1")).collect();
        let props = format!("{{{}}}", many.join(","));
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(8), "]".repeat(8));
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(33_000));
        let input = EventInput {
            properties: Some(props),
            traits: Some(deep),
            context: Some(big),
            ..track("x")
        };
        let w = check(Protocol::V1Batch, &input).unwrap();
        let codes: Vec<&str> = w.iter().map(Warning::code).collect();
        assert_eq!(codes, vec!["W_SOFT_CAP"; 3]);
        assert!(matches!(w[1], Warning::TooDeep { depth: 9, .. }));
        let shallow = format!("{{\"a\":{}1{}}}", "[".repeat(7), "]".repeat(7));
        assert!(check(
            Protocol::V1Batch,
            &EventInput {
                traits: Some(shallow),
                ..track("x")
            }
        )
        .unwrap()
        .is_empty());
    }

    #[test]
    fn amplitude_drops_ids_it_would_remove() {
        let input = EventInput {
            user_id: Some("null".into()),
            anonymous_id: Some("dev-12345".into()),
            ..track("x")
        };
        let mut w = Vec::new();
        let f = validate(Protocol::AmplitudeBatch, 5, &input, "m", 0, &mut w).unwrap();
        assert_eq!((f.user_id, f.anonymous_id), (None, Some("dev-12345")));
        assert_eq!(
            w,
            vec![Warning::IdRemoved {
                field: Field::UserId
            }]
        );
        let input = EventInput {
            anonymous_id: Some("abc".into()),
            ..track("x")
        };
        assert!(check(Protocol::AmplitudeHttpV2, &input).is_err());
        let alias = EventInput {
            kind: EventKind::Alias,
            ..track("x")
        };
        assert_eq!(
            check(Protocol::AmplitudeHttpV2, &alias).unwrap_err().code(),
            "E_UNSUPPORTED"
        );
        let long = EventInput {
            properties: Some(format!("{{\"s\":\"{}\"}}", "y".repeat(1025))),
            ..track("x")
        };
        let mut long = long;
        long.anonymous_id = Some("device-1".into());
        assert_eq!(
            check(Protocol::AmplitudeHttpV2, &long).unwrap()[0].code(),
            "W_TRUNCATED"
        );
    }

    #[test]
    fn message_ids_must_be_plain() {
        let mut w = Vec::new();
        for bad in ["", "a\"b", "a\\b", "a\nb"] {
            assert!(
                validate(Protocol::V1Batch, 5, &track("x"), bad, 0, &mut w).is_err(),
                "{bad:?}"
            );
        }
        let long = "m".repeat(129);
        assert!(validate(Protocol::V1Batch, 5, &track("x"), &long, 0, &mut w).is_err());
    }
}
