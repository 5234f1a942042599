//! The wire contracts: `/v1-batch`, Amplitude HTTP V2 and Amplitude Batch (`docs/PROTOCOLS.md`).
//!
//! This module owns every number the servers impose ([`Limits`], one place per limit) and the two
//! translations the core needs: an event into its protocol JSON (done once, at enqueue), and a
//! response into an [`Outcome`]. It decides nothing about retrying; the core does, from the
//! `Outcome`.
//!
//! A request body is always `prefix + event (',' event)* + suffix` (see [`Protocol::envelope`]),
//! so the core knows the exact size of any request by adding lengths, without serialising.

#![warn(missing_docs)]

use crate::base::json;
use crate::base::Millis;
use crate::prelude::*;

#[cfg(feature = "amplitude")]
pub mod amplitude;
#[cfg(feature = "amplitude")]
mod amplitude_context;
mod object;
pub mod v1_batch;

#[cfg(feature = "amplitude")]
use object::next_word;
use object::ObjectWriter;

/// Which ingestion API a pipeline speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `POST /v1-batch` with a Bearer write key.
    V1Batch,
    /// Amplitude `POST /2/httpapi`: real time, ordered per device, 30 events/s per identity.
    /// Without the Cargo feature `amplitude` (this one and the next) a pipeline refuses it
    /// (`ConfigError::NoAmplitude`): the build has no Amplitude code.
    AmplitudeHttpV2,
    /// Amplitude `POST /batch`: bulk, unordered, daily per-identity quotas.
    AmplitudeBatch,
}

/// Where an Amplitude project's data lives (`docs/PROTOCOLS.md` B). It picks the API host a
/// driver posts to when the application gives none ([`Protocol::default_host`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ServerZone {
    /// The US data center: `https://api2.amplitude.com`.
    #[default]
    Us,
    /// The EU data center: `https://api.eu.amplitude.com`.
    Eu,
}

/// The kind of an event, which decides its shape on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EventKind {
    /// `track`: an action, named.
    #[default]
    Track,
    /// `identify`: who the user is, with traits.
    Identify,
    /// `page`: a page view.
    Page,
    /// `screen`: a screen view.
    Screen,
    /// `group`: the user joins a group.
    Group,
    /// `alias`: a new id for a user.
    Alias,
}

impl EventKind {
    /// Every kind, in the order of the numbering the JavaScript binding uses.
    pub const ALL: [EventKind; 6] = [
        EventKind::Track,
        EventKind::Identify,
        EventKind::Page,
        EventKind::Screen,
        EventKind::Group,
        EventKind::Alias,
    ];

    /// The kind's name, as /v1-batch's `type` carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Track => "track",
            EventKind::Identify => "identify",
            EventKind::Page => "page",
            EventKind::Screen => "screen",
            EventKind::Group => "group",
            EventKind::Alias => "alias",
        }
    }
}

/// What a protocol allows. Soft caps only warn; the others are hard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Events per request.
    pub max_events: usize,
    /// Bytes per request body, envelope included.
    pub max_bytes: usize,
    /// Characters of a track event name; longer is rejected at enqueue (the server would reject it).
    pub max_event_name_chars: Option<usize>,
    /// Characters of any string value before the server truncates it (warn).
    pub warn_string_chars: Option<usize>,
    /// Soft caps on properties / traits / context (warn): top-level keys, bytes of one value,
    /// nesting depth.
    pub soft_max_keys: usize,
    /// Soft cap: bytes of one top-level value.
    pub soft_max_value_bytes: usize,
    /// Soft cap: nesting depth.
    pub soft_max_depth: usize,
    /// How long a throttled identity waits (Amplitude's documented 30 s; unused by /v1-batch).
    pub identity_pause_ms: Millis,
    /// Requests per `rate_window_ms` per (org, IP) (/v1-batch; 0: not limited by requests).
    pub requests_per_window: u64,
    /// The window the server counts requests (/v1-batch: a minute) or averages an identity's
    /// events per second (Amplitude: 30 s) over.
    pub rate_window_ms: Millis,
    /// Events per second per user and per device, averaged over `rate_window_ms` (Amplitude; 0:
    /// not limited per identity).
    pub identity_events_per_second: u64,
    /// User-property updates a user may make per rolling hour before the server silently drops
    /// the rest (Amplitude, across all its APIs; 0: no such limit).
    pub user_property_updates_per_hour: u64,
    /// Events per user and per device per rolling 24 hours (Amplitude Batch; 0: no quota).
    pub identity_events_per_day: u64,
}

/// The window over which Amplitude averages an identity's events per second.
pub const IDENTITY_RATE_WINDOW_MS: Millis = 30_000;

/// Added to every pacing window: a request reaches the server a little after it leaves, so the
/// server's window may age a use out later than the client's. 500 ms, or a 32nd of a shorter
/// window's length (a 6 s window: 187 ms), so a short window is not paced far below its budget.
pub const PACE_SLACK_MS: Millis = 500;

/// The slack added to a pacing window of `window` ms (see [`PACE_SLACK_MS`]).
pub const fn pace_slack(window: Millis) -> Millis {
    let part = window >> 5;
    if part < PACE_SLACK_MS {
        part
    } else {
        PACE_SLACK_MS
    }
}

/// The shortest backoff step after a failure, however soon a server asks for a resend (or the
/// jitter draws): no answer makes a client send more than `max_in_flight` requests per floor.
pub const RETRY_FLOOR_MS: Millis = 500;

/// 2xx answers that did not confirm an event (see [`Outcome::Unconfirmed`]) before it is reported
/// failed (`E_UNCONFIRMED`). With the backoff between them (1 s doubling, full jitter) ten take
/// minutes: long enough to ride out a captive portal or a misrouted deploy, short enough that a
/// wrong API host surfaces within minutes rather than at the give-up horizon, days later.
pub const MAX_UNCONFIRMED: u8 = 10;

/// A caller-given messageId longer than this is refused: ids are stored inline in the event
/// bytes with a one-byte length, and no sane id is longer.
pub const MAX_MESSAGE_ID_BYTES: usize = 128;

const SOFT_KEYS: usize = 300;
const SOFT_VALUE_BYTES: usize = 32 * 1024;
const SOFT_DEPTH: usize = 8;

impl Protocol {
    /// Every protocol, for tests and fuzzing that cover them all.
    pub const ALL: [Protocol; 3] = [
        Protocol::V1Batch,
        Protocol::AmplitudeHttpV2,
        Protocol::AmplitudeBatch,
    ];

    /// The protocol as this build speaks it: itself, or /v1-batch without the Cargo feature
    /// `amplitude`, whose pipelines refuse the others (see [`Protocol::AmplitudeHttpV2`]). Every
    /// method matches on it, so such a build holds no Amplitude-only path.
    const fn own(self) -> Protocol {
        if cfg!(feature = "amplitude") {
            self
        } else {
            Protocol::V1Batch
        }
    }

    /// What the protocol's server allows.
    pub const fn limits(self) -> Limits {
        match self.own() {
            Protocol::V1Batch => Limits {
                max_events: 100,
                max_bytes: 1_048_576,
                max_event_name_chars: Some(200),
                warn_string_chars: None,
                soft_max_keys: SOFT_KEYS,
                soft_max_value_bytes: SOFT_VALUE_BYTES,
                soft_max_depth: SOFT_DEPTH,
                identity_pause_ms: 0,
                requests_per_window: 100,
                rate_window_ms: 60_000,
                identity_events_per_second: 0,
                user_property_updates_per_hour: 0,
                identity_events_per_day: 0,
            },
            // "< 1 MB and < 2,000 events": the largest sizes strictly below both.
            Protocol::AmplitudeHttpV2 => Limits {
                max_events: 1_999,
                max_bytes: 999_999,
                max_event_name_chars: None,
                warn_string_chars: Some(1024),
                soft_max_keys: SOFT_KEYS,
                soft_max_value_bytes: SOFT_VALUE_BYTES,
                soft_max_depth: SOFT_DEPTH,
                identity_pause_ms: 30_000,
                requests_per_window: 0,
                rate_window_ms: IDENTITY_RATE_WINDOW_MS,
                identity_events_per_second: 30,
                user_property_updates_per_hour: 1_800,
                identity_events_per_day: 0,
            },
            Protocol::AmplitudeBatch => Limits {
                max_events: 2_000,
                max_bytes: 20_000_000,
                max_event_name_chars: None,
                warn_string_chars: Some(1024),
                soft_max_keys: SOFT_KEYS,
                soft_max_value_bytes: SOFT_VALUE_BYTES,
                soft_max_depth: SOFT_DEPTH,
                identity_pause_ms: 30_000,
                requests_per_window: 0,
                rate_window_ms: IDENTITY_RATE_WINDOW_MS,
                identity_events_per_second: 1_000,
                user_property_updates_per_hour: 1_800,
                identity_events_per_day: 500_000,
            },
        }
    }

    /// The path requests go to.
    pub const fn path(self) -> &'static str {
        match self.own() {
            Protocol::V1Batch => "/v1-batch",
            Protocol::AmplitudeHttpV2 => "/2/httpapi",
            Protocol::AmplitudeBatch => "/batch",
        }
    }

    /// The API host (scheme and host, no trailing slash) to post to when the application gives
    /// none: Amplitude's, by zone. /v1-batch has no public default: its host must be given.
    pub const fn default_host(self, zone: ServerZone) -> Option<&'static str> {
        match (self.is_amplitude(), zone) {
            (false, _) => None,
            (true, ServerZone::Us) => Some("https://api2.amplitude.com"),
            (true, ServerZone::Eu) => Some("https://api.eu.amplitude.com"),
        }
    }

    /// The protocol's name in messages.
    pub const fn name(self) -> &'static str {
        match self.own() {
            Protocol::V1Batch => "/v1-batch",
            Protocol::AmplitudeHttpV2 => "Amplitude HTTP V2",
            Protocol::AmplitudeBatch => "Amplitude Batch",
        }
    }

    /// Whether this is one of the Amplitude APIs.
    pub const fn is_amplitude(self) -> bool {
        !matches!(self.own(), Protocol::V1Batch)
    }

    /// HTTP V2 processes a device's events in the order received, so the planner must not let a
    /// later event of a device overtake an earlier one that is paused.
    pub const fn ordered_per_device(self) -> bool {
        matches!(self.own(), Protocol::AmplitudeHttpV2)
    }

    /// Headers of every request. The key travels in `Authorization` for /v1-batch and in the
    /// body for Amplitude.
    pub fn headers(self, write_key: &str) -> Vec<(&'static str, String)> {
        let json = ("Content-Type", String::from("application/json"));
        if self.is_amplitude() {
            return vec![json];
        }
        // push_str rather than `[..].concat()`, whose generic join code costs wasm size.
        let mut bearer = String::from("Bearer ");
        bearer.push_str(write_key);
        // Each list built at its size: no growing code for a push.
        vec![json, ("Authorization", bearer)]
    }

    /// The bytes before the first event and after the last one.
    #[cfg_attr(not(feature = "amplitude"), allow(unused_variables))]
    pub fn envelope(self, write_key: &str, min_id_length: usize) -> (Vec<u8>, Vec<u8>) {
        #[cfg(feature = "amplitude")]
        if self.is_amplitude() {
            return amplitude::envelope(write_key, min_id_length);
        }
        (b"{\"batch\":[".to_vec(), b"]}".to_vec())
    }

    /// Top-level keys of an encoded event: (messageId, device/anonymous id, user id).
    pub const fn stored_keys(self) -> (&'static str, &'static str, &'static str) {
        match self.own() {
            Protocol::V1Batch => ("messageId", "anonymousId", "userId"),
            _ => ("insert_id", "device_id", "user_id"),
        }
    }

    /// Appends the event's protocol JSON to `out`; returns the offset in `out` where the
    /// messageId's characters start (it is JSON-plain, so raw bytes = text).
    pub fn encode_event(self, ev: &EventFields<'_>, out: &mut Vec<u8>) -> usize {
        #[cfg(feature = "amplitude")]
        if self.is_amplitude() {
            return amplitude::encode(ev, out);
        }
        v1_batch::encode(ev, out)
    }

    /// Whether the protocol has events of this kind: Amplitude has no `alias` (aliasing is its
    /// separate User Mapping API).
    pub const fn supports(self, kind: EventKind) -> bool {
        !(self.is_amplitude() && matches!(kind, EventKind::Alias))
    }

    /// Whether the server keeps this user or device id: Amplitude silently removes ids shorter
    /// than `min_id_length` characters and placeholders (see [`amplitude::keeps_id`]).
    #[cfg_attr(not(feature = "amplitude"), allow(unused_variables))]
    pub fn keeps_id(self, id: &str, min_id_length: usize) -> bool {
        #[cfg(feature = "amplitude")]
        if self.is_amplitude() {
            return amplitude::keeps_id(id, min_id_length);
        }
        true
    }

    /// Whether an event carries its `context` object as is (/v1-batch). Amplitude has no such
    /// object: the encoder maps Segment's context fields to its event fields (see
    /// [`Protocol::unsent_context_key`]).
    pub const fn carries_context(self) -> bool {
        !self.is_amplitude()
    }

    /// The first member of the context object `context` that the protocol does not send and
    /// should be said: for Amplitude, one that is not a Segment context name (those are mapped
    /// to its event fields or have none, and are dropped silently). /v1-batch sends them all.
    #[cfg_attr(not(feature = "amplitude"), allow(unused_variables))]
    pub fn unsent_context_key(self, context: &str) -> Option<String> {
        #[cfg(feature = "amplitude")]
        if self.is_amplitude() {
            return amplitude_context::unsent_key(context.as_bytes()).and_then(json::unescape);
        }
        None
    }

    /// Whether every event must carry an anonymousId (/v1-batch), rather than a user id or a
    /// device id (Amplitude, after dropping the ids it would remove).
    pub const fn requires_anonymous_id(self) -> bool {
        !self.is_amplitude()
    }

    /// Classifies the response to a request of `events` events. `retry_after` is the header
    /// already turned into a wait from now. A 2xx confirms delivery only in the protocol's
    /// success shape with counts that add up to `events`; anything else is
    /// [`Outcome::Unconfirmed`].
    pub fn decode(
        self,
        status: u16,
        retry_after: Option<Millis>,
        body: &[u8],
        events: usize,
    ) -> Outcome {
        #[cfg(feature = "amplitude")]
        if self.is_amplitude() {
            return amplitude::decode(status, retry_after, body, events);
        }
        v1_batch::decode(status, retry_after, body, events)
    }
}

/// A validated event, borrowed, in the protocol-neutral shape the encoders read. Raw JSON fields
/// have passed [`json::scan_object`] and are spliced verbatim.
#[derive(Debug, Clone, Copy)]
pub struct EventFields<'a> {
    /// The kind.
    pub kind: EventKind,
    /// The track event name, or the page / screen name.
    pub name: Option<&'a str>,
    /// The messageId (JSON-plain).
    pub message_id: &'a str,
    /// The anonymous / device id.
    pub anonymous_id: Option<&'a str>,
    /// The user id.
    pub user_id: Option<&'a str>,
    /// The group id.
    pub group_id: Option<&'a str>,
    /// The previous id (alias).
    pub previous_id: Option<&'a str>,
    /// When it happened.
    pub timestamp: Millis,
    /// Properties: JSON object text.
    pub properties: Option<&'a str>,
    /// Traits: JSON object text.
    pub traits: Option<&'a str>,
    /// Context: JSON object text.
    pub context: Option<&'a str>,
    /// Amplitude: `$skip_user_properties_sync: true`, so the event does not update the user's
    /// properties. (Cargo feature `user-properties`.)
    #[cfg(feature = "user-properties")]
    pub skip_user_properties_sync: bool,
}

/// An error the server attached to one event of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    /// Index into the request's events, when the server gave one.
    pub index: Option<usize>,
    /// The messageId it named, when it named one.
    pub message_id: Option<String>,
    /// The server's error text.
    pub error: String,
}

/// What a response means, before any policy is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every event accepted (duplicates included: the server already had them).
    Accepted {
        /// Warnings the server attached.
        warnings: Vec<String>,
    },
    /// The request succeeded but these events were rejected, permanently; the rest are accepted.
    Partial {
        /// The events rejected, and why.
        errors: Vec<EventError>,
        /// Warnings the server attached.
        warnings: Vec<String>,
    },
    /// Sending too fast: nothing accepted; wait `retry_after` (or back off without one).
    RateLimited {
        /// The wait the server asked for, from now.
        retry_after: Option<Millis>,
    },
    /// The monthly quota is spent: nothing accepted; hold until `retry_after` (the reset).
    Quota {
        /// The wait until the reset, from now.
        retry_after: Option<Millis>,
    },
    /// The body was too large: nothing accepted; the server's limit when it said.
    TooLarge {
        /// The server's byte limit, when it said.
        limit_bytes: Option<usize>,
    },
    /// Amplitude 429 naming identities or events: nothing accepted. `daily_*` are over the Batch
    /// API's 24 h quota (hold long); the others are over the per-second rate (pause briefly).
    #[cfg(feature = "amplitude")]
    Throttled {
        /// Users over the per-second rate.
        users: Vec<String>,
        /// Devices over the per-second rate.
        devices: Vec<String>,
        /// Indexes of throttled events in the request.
        events: Vec<usize>,
        /// Users over the daily quota.
        daily_users: Vec<String>,
        /// Devices over the daily quota.
        daily_devices: Vec<String>,
        /// The wait the server asked for, from now.
        retry_after: Option<Millis>,
    },
    /// Amplitude 400 naming bad events by index: nothing accepted; those events are permanently
    /// bad, the others may be resent.
    #[cfg(feature = "amplitude")]
    InvalidEvents {
        /// Indexes of the bad events in the request.
        indexes: Vec<usize>,
        /// The server's error text.
        error: String,
    },
    /// Refused for good (4xx): nothing accepted, do not retry.
    Permanent {
        /// The HTTP status.
        status: u16,
        /// The server's error text.
        error: String,
    },
    /// A 2xx that does not confirm delivery: not the protocol's success shape (a captive
    /// portal's page, a proxy's answer), or counts that do not add up to the request's events.
    /// Nothing is known to be accepted: resend with the same messageIds, with backoff.
    Unconfirmed {
        /// The HTTP status.
        status: u16,
    },
    /// 3xx, 5xx or anything unexpected: retry with backoff.
    Transient {
        /// The HTTP status.
        status: u16,
    },
}

/// A response body to read fields from: the body if it is a well-formed object, else `{}`.
pub(crate) fn document(body: &[u8]) -> &[u8] {
    if json::scan_object(body).is_ok() {
        body
    } else {
        b"{}"
    }
}

/// What both protocols make of a status once their special ones are handled: other 4xx (but 408)
/// are refused for good, with the server's error text; 408, 5xx and anything unexpected are
/// transient.
pub(crate) fn by_status(doc: &[u8], status: u16) -> Outcome {
    match status {
        400..=499 if status != 408 => Outcome::Permanent {
            status,
            error: error_text(doc, status),
        },
        _ => Outcome::Transient { status },
    }
}

/// The server's `error` text, or a stand-in naming the status.
pub(crate) fn error_text(doc: &[u8], status: u16) -> String {
    if let Some(e) = json::string_field(doc, "error") {
        return e;
    }
    crate::base::text::say("HTTP {4}", "", "", "", "", u64::from(status), 0)
}

#[cfg(test)]
mod tests;
