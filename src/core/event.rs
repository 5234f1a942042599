//! The event model: what the application gives ([`EventInput`]), what is persisted
//! ([`StoredEvent`]), and what it is told when an event is refused ([`Rejected`]) or passes with a
//! caveat ([`Warning`]), with their messages.
//!
//! An event is validated once, at enqueue (`validate.rs`), then encoded once into its protocol's
//! JSON; from then on it is opaque bytes plus a little metadata.

use crate::prelude::*;

use super::Millis;
use crate::base::json::ScanError;
use crate::base::text::say;
use crate::protocol::{EventKind, Protocol};

/// An event as the application gives it. Raw JSON fields are text (the bindings pass what
/// `JSON.stringify` produced) and must be objects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventInput {
    /// Which call made it (`track`, `identify`, ...).
    pub kind: EventKind,
    /// The track event name, or the page / screen name.
    pub event: Option<String>,
    /// A caller-given messageId; generated (UUID v4) when absent.
    pub message_id: Option<String>,
    /// The device's or browser's id.
    pub anonymous_id: Option<String>,
    /// The known user's id.
    pub user_id: Option<String>,
    /// The group of a `group` event.
    pub group_id: Option<String>,
    /// The former id of an `alias` event.
    pub previous_id: Option<String>,
    /// When it happened; `now` at enqueue when absent.
    pub timestamp: Option<Millis>,
    /// The event's properties: JSON object text.
    pub properties: Option<String>,
    /// The user's or group's traits: JSON object text.
    pub traits: Option<String>,
    /// The context object: JSON object text (/v1-batch only).
    pub context: Option<String>,
    /// Amplitude: send `$skip_user_properties_sync: true`, so this event does not update the
    /// user's properties (nor count toward their hourly limit). Also set for every event by
    /// `Config::skip_user_properties_sync`.
    pub skip_user_properties_sync: bool,
}

/// An event in the form to persist (IndexedDB, a Durable Object) and hand back to
/// `Pipeline::restore` later: the exact bytes that will be sent, so a resend after a reload is
/// byte-identical and carries the same messageId.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// The event's messageId, also inside `body`.
    pub message_id: String,
    /// When the event was first queued: the give-up horizon counts from here across reloads.
    pub enqueued_at: Millis,
    /// The event's JSON in the pipeline protocol's shape.
    pub body: Vec<u8>,
}

/// Which input field a rule is about; `name()` is the field's name in the JavaScript API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The track event name, or the page / screen name.
    Event,
    /// The messageId.
    MessageId,
    /// The anonymousId (Amplitude's device_id).
    AnonymousId,
    /// The userId.
    UserId,
    /// The groupId.
    GroupId,
    /// The previousId.
    PreviousId,
    /// The timestamp.
    Timestamp,
    /// The properties object.
    Properties,
    /// The traits object.
    Traits,
    /// The context object.
    Context,
    /// The stored body handed to `restore`.
    Stored,
}

impl Field {
    /// The field's name in the JavaScript API.
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
    /// Longer than the protocol allows.
    TooLong {
        /// Characters given.
        chars: usize,
        /// Characters allowed.
        limit: usize,
    },
    /// Not valid JSON, and where.
    NotJson(ScanError),
    /// Valid JSON, but not an object.
    NotObject,
    /// Not 1 to 128 bytes that need no JSON escaping.
    NotPlain,
    /// A timestamp after the year 9999.
    OutOfRange,
}

/// Why `enqueue` or `restore` refused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// A field breaks a rule.
    Invalid {
        /// The event's kind.
        kind: EventKind,
        /// The field.
        field: Field,
        /// The rule it breaks.
        rule: Rule,
    },
    /// Even alone in a request (envelope included), the event exceeds the byte limit.
    TooLarge {
        /// Bytes of the smallest request that would carry it.
        bytes: usize,
        /// The byte limit of a request.
        limit: usize,
    },
    /// The protocol has no events of this kind.
    Unsupported {
        /// The kind.
        kind: EventKind,
        /// The protocol.
        protocol: Protocol,
    },
    /// The queue is at its bound and nothing in it can be evicted (or the policy is RejectNew).
    QueueFull {
        /// Events held.
        events: usize,
        /// Bytes held.
        bytes: usize,
    },
}

impl Rejected {
    /// The stable code the application can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Rejected::Invalid { .. } => "E_INVALID_EVENT",
            Rejected::TooLarge { .. } => "E_TOO_LARGE",
            // Only Amplitude refuses a kind (alias): a build without it leaves this out.
            #[cfg(feature = "amplitude")]
            Rejected::Unsupported { .. } => "E_UNSUPPORTED",
            Rejected::QueueFull { .. } => "E_QUEUE_FULL",
            #[cfg(not(feature = "amplitude"))]
            Rejected::Unsupported { .. } => "",
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
            #[cfg(feature = "amplitude")]
            Rejected::Unsupported { kind, protocol } => (
                "{0} events cannot be sent to {2}",
                *kind,
                Field::Event,
                protocol.name(),
                0,
                0,
            ),
            #[cfg(not(feature = "amplitude"))]
            Rejected::Unsupported { .. } => ("", EventKind::Track, Field::Event, "", 0, 0),
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
        /// The field.
        field: Field,
        /// Top-level keys given.
        keys: usize,
        /// Keys over which the server warns.
        limit: usize,
    },
    /// A top-level value is larger than the server likes.
    ValueTooLarge {
        /// The field.
        field: Field,
        /// Bytes of the largest value.
        bytes: usize,
        /// Bytes over which the server warns.
        limit: usize,
    },
    /// Nested deeper than the server likes.
    TooDeep {
        /// The field.
        field: Field,
        /// Depth given (the object itself is 1).
        depth: usize,
        /// Depth over which the server warns.
        limit: usize,
    },
    /// Amplitude truncates string values beyond `limit` characters.
    LongString {
        /// The field.
        field: Field,
        /// Characters of the longest string.
        chars: usize,
        /// Characters the server keeps.
        limit: usize,
    },
    /// Amplitude would silently remove this id (too short or a placeholder); it is not sent.
    IdRemoved {
        /// The field whose id was dropped.
        field: Field,
    },
    /// Amplitude has no context object: Segment's context fields are sent as its event fields,
    /// the others are not; said for the first member that is not one of Segment's names.
    /// (Cargo feature `amplitude`.)
    #[cfg(feature = "amplitude")]
    ContextNotSent {
        /// The member's key.
        key: String,
    },
    /// A warning the server returned with an accepted request.
    Server {
        /// The server's text.
        message: String,
    },
    /// The server reported an error for an event the request did not contain.
    UnmatchedServerError {
        /// The server's error text.
        error: String,
    },
    /// The server asked to wait longer than `max_retry_after_ms`; the wait was cut to it.
    RetryAfterCapped {
        /// The wait asked for, in milliseconds.
        asked_ms: Millis,
        /// The wait kept (`max_retry_after_ms`).
        limit_ms: Millis,
    },
    /// Amplitude keeps at most 1,800 user-property updates per user per rolling hour and drops
    /// the rest silently: said at 90 % of that and for every update past it (the event is sent).
    /// (Cargo feature `user-properties`.)
    #[cfg(feature = "user-properties")]
    UserPropertyLimit {
        /// The user.
        user_id: String,
        /// Updates in the last hour, this one included.
        updates: u64,
        /// The hourly limit.
        limit: u64,
    },
    /// The server answered with a redirect, which is not followed (it would turn the POST into a
    /// GET): the events are retried with backoff. Usually a wrong API host (`http:` for `https:`,
    /// a moved domain).
    Redirect {
        /// Its `Location` header, empty when unreadable.
        location: String,
    },
}

impl Warning {
    /// The stable code the application can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Warning::TooManyKeys { .. }
            | Warning::ValueTooLarge { .. }
            | Warning::TooDeep { .. } => "W_SOFT_CAP",
            // Amplitude's alone (see `message`).
            #[cfg(feature = "amplitude")]
            Warning::LongString { .. } => "W_TRUNCATED",
            #[cfg(feature = "amplitude")]
            Warning::IdRemoved { .. } => "W_ID_REMOVED",
            #[cfg(feature = "amplitude")]
            Warning::ContextNotSent { .. } => "W_CONTEXT_NOT_SENT",
            Warning::Server { .. } => "W_SERVER",
            Warning::UnmatchedServerError { .. } => "W_UNMATCHED",
            Warning::RetryAfterCapped { .. } => "W_RETRY_AFTER_CAPPED",
            Warning::Redirect { .. } => "W_REDIRECT",
            #[cfg(feature = "user-properties")]
            Warning::UserPropertyLimit { .. } => "W_USER_PROPERTY_LIMIT",
            #[cfg(not(feature = "amplitude"))]
            Warning::LongString { .. } | Warning::IdRemoved { .. } => "",
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
                *keys as u64,
                *limit as u64,
                "",
            ),
            Warning::ValueTooLarge {
                field,
                bytes,
                limit,
            } => (
                "{0} has a {4}-byte value; over {5} the server warns (field: {0})",
                *field,
                *bytes as u64,
                *limit as u64,
                "",
            ),
            Warning::TooDeep {
                field,
                depth,
                limit,
            } => (
                "{0} is nested {4} levels deep; over {5} the server warns (field: {0})",
                *field,
                *depth as u64,
                *limit as u64,
                "",
            ),
            // Only Amplitude's limits and ids give these (core::validate): a build without it
            // leaves their texts out.
            #[cfg(feature = "amplitude")]
            Warning::LongString {
                field,
                chars,
                limit,
            } => (
                "{0} has a {4}-character string; Amplitude truncates at {5} (field: {0})",
                *field,
                *chars as u64,
                *limit as u64,
                "",
            ),
            #[cfg(feature = "amplitude")]
            Warning::IdRemoved { field } => (
                "{0} is not an id Amplitude keeps; it is not sent (field: {0})",
                *field,
                0,
                0,
                "",
            ),
            #[cfg(feature = "amplitude")]
            Warning::ContextNotSent { key } => (
                "context.{1} is not sent to Amplitude (field: {0})",
                Field::Context,
                0,
                0,
                key.as_str(),
            ),
            #[cfg(not(feature = "amplitude"))]
            Warning::LongString { .. } | Warning::IdRemoved { .. } => {
                ("", Field::Event, 0, 0, "")
            }
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
            Warning::RetryAfterCapped { asked_ms, limit_ms } => (
                "server wait of {4} ms cut to max_retry_after_ms ({5})",
                Field::Event,
                *asked_ms,
                *limit_ms,
                "",
            ),
            #[cfg(feature = "user-properties")]
            Warning::UserPropertyLimit {
                user_id,
                updates,
                limit,
            } => (
                "user {1} made {4} property updates in an hour; Amplitude drops those past {5} (field: userId)",
                Field::UserId,
                *updates,
                *limit,
                user_id.as_str(),
            ),
            // A browser hides a redirect's Location from the page: then there is none to name.
            Warning::Redirect { location } => (
                if location.is_empty() {
                    "redirect not followed (check apiHost)"
                } else {
                    "redirect to {1} not followed (check apiHost)"
                },
                Field::Event,
                0,
                0,
                location.as_str(),
            ),
        };
        say(template, field.name(), text, "", "", n, limit)
    }
}
