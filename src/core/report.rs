//! What crosses the engine's boundary besides events: request and response values, and what the
//! application is told.

use crate::prelude::*;
use core::fmt;

use super::event::Warning;
use super::Millis;
use crate::base::text::say;

/// An event admitted to a pipeline. Ids increase in admission order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub u64);

/// A request handed out by `poll_transmit` / `take_for_unload`, to be answered exactly once by
/// `handle_response` or `handle_failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransmitId(pub u64);

/// The result of a successful `enqueue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueued {
    /// Its id in this pipeline.
    pub id: EventId,
    /// Its messageId, given or generated.
    pub message_id: String,
    /// Soft caps passed over; the event is queued anyway.
    pub warnings: Vec<Warning>,
}

/// One HTTP request to make: `POST {api_host}{path}` with this body and the pipeline's headers
/// ([`Pipeline::headers`](crate::core::Pipeline::headers): the same for every request, so a
/// driver sets them up once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The id to answer it with.
    pub id: TransmitId,
    /// The path to post to, after the API host.
    pub path: &'static str,
    /// The exact request body.
    pub body: Vec<u8>,
    /// The events it carries, in body order.
    pub events: Vec<EventId>,
}

/// An HTTP response as the driver received it. Drivers build it with [`Response::new`] or
/// `Response { status, body, ..Default::default() }` and set the headers they could read.
///
/// A driver must not follow redirects (`fetch` with `redirect: "manual"`): a followed 302 turns
/// the POST into a GET. The 3xx itself is given here, with its `Location`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The raw `Retry-After` header, if readable (cross-origin needs it exposed by the server).
    pub retry_after: Option<String>,
    /// The raw `Location` header of a redirect, if readable; only reported (`W_REDIRECT`).
    pub location: Option<String>,
    /// The response body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with this status and body and no headers.
    pub fn new(status: u16, body: Vec<u8>) -> Self {
        Response {
            status,
            body,
            ..Default::default()
        }
    }
}

/// A request that got no HTTP response. The events may or may not have reached the server; they
/// are retried with the same messageIds, which the server de-duplicates. Every failure is
/// retried alike, so one kind is all a driver needs to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetError {
    /// No response: could not connect, the connection broke (offline, DNS, CORS, reset), the
    /// driver gave up waiting (`Config::request_timeout_ms`), or the response was lost (page
    /// hidden, aborted).
    Network,
}

/// Why an event will never be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailReason {
    /// The server rejected this event, with its error text (e.g. `event name too long`).
    Rejected {
        /// The server's error text.
        error: String,
    },
    /// The server refused the whole request for good (4xx other than 408/413/429).
    PermanentHttp {
        /// The HTTP status.
        status: u16,
        /// The server's error text.
        error: String,
    },
    /// It cannot fit the request size the server accepts.
    TooLarge {
        /// Bytes of the smallest request that would carry it.
        bytes: usize,
        /// The byte limit the server accepts.
        limit: usize,
    },
    /// The bounded queue dropped it to make room.
    Evicted,
    /// Not delivered within `give_up_after_ms` of being queued.
    RetryHorizon,
    /// The server answered 2xx `protocol::MAX_UNCONFIRMED` times without confirming the event
    /// (not its success shape, or counts that did not add up): it may or may not be stored.
    Unconfirmed,
    /// Still queued or in flight when a server driver closed the pipeline
    /// ([`Pipeline::abandon`](super::Pipeline::abandon): `closeAndFlush` past its timeout, a
    /// signal). (Cargo feature `server`.)
    #[cfg(feature = "server")]
    Shutdown,
}

impl FailReason {
    /// The stable code the application can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            FailReason::Rejected { .. } => "E_REJECTED",
            FailReason::PermanentHttp { .. } => "E_HTTP",
            FailReason::TooLarge { .. } => "E_TOO_LARGE",
            FailReason::Evicted => "E_EVICTED",
            FailReason::RetryHorizon => "E_RETRY_HORIZON",
            FailReason::Unconfirmed => "E_UNCONFIRMED",
            #[cfg(feature = "server")]
            FailReason::Shutdown => "E_SHUTDOWN",
        }
    }
}

impl FailReason {
    /// The message, built without `core::fmt` (see [`say`](crate::base::text::say)).
    pub fn message(&self) -> String {
        let (template, a, b, text) = match self {
            FailReason::Rejected { error } => {
                ("the server rejected the event: {0}", 0, 0, error.as_str())
            }
            FailReason::PermanentHttp { status, error } => (
                "the server refused the request with HTTP {4}: {0}",
                u64::from(*status),
                0,
                error.as_str(),
            ),
            FailReason::TooLarge { bytes, limit } => (
                "the event needs a {4}-byte request; the server accepts {5}",
                *bytes as u64,
                *limit as u64,
                "",
            ),
            FailReason::Evicted => ("the queue was full and the event was the oldest", 0, 0, ""),
            FailReason::RetryHorizon => ("not delivered within give_up_after_ms", 0, 0, ""),
            FailReason::Unconfirmed => ("the server never confirmed delivery", 0, 0, ""),
            #[cfg(feature = "server")]
            FailReason::Shutdown => ("not delivered before the client was closed", 0, 0, ""),
        };
        say(template, text, "", "", "", a, b)
    }
}

/// `Display` for the message types: each writes its `message()` (built by `say`), so formatting
/// one never goes through `core::fmt`'s machinery.
macro_rules! display_message {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.message())
            }
        }
    )*};
}
display_message!(
    FailReason,
    super::event::Rejected,
    super::event::Warning,
    super::config::ConfigError
);

/// What the application should hear about, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppEvent {
    /// Accepted by the server (duplicates included: the server already had them).
    Delivered {
        /// The events, in request order.
        ids: Vec<EventId>,
        /// Their messageIds, in the same order.
        message_ids: Vec<String>,
    },
    /// Failed for good; told once.
    Failed {
        /// The event.
        id: EventId,
        /// Its messageId.
        message_id: String,
        /// Why.
        reason: FailReason,
    },
    /// No request leaves before `until`.
    RateLimited {
        /// The end of the rate limit.
        until: Millis,
    },
    /// A quota holds all events: `until` is the reset when the server said, else the next probe.
    QuotaHeld {
        /// The reset, or the next probe.
        until: Millis,
    },
    /// Events of this identity wait until `until`; `daily_quota` marks the Amplitude Batch 24 h
    /// quota (then `until` is the next probe), otherwise it is the per-second throttle. (Cargo
    /// feature `amplitude`: only Amplitude pauses an identity.)
    #[cfg(feature = "amplitude")]
    IdentityPaused {
        /// The paused user, when a user is.
        user_id: Option<String>,
        /// The paused device, when a device is.
        device_id: Option<String>,
        /// The end of the pause (of a daily quota: its next probe).
        until: Millis,
        /// A daily quota rather than a throttle.
        daily_quota: bool,
    },
    /// A transient failure (HTTP `status`, or `None` for a network error): attempt `attempt` of
    /// the backoff, no request before `until`.
    Retrying {
        /// No request before this.
        until: Millis,
        /// Transient failures in a row.
        attempt: u32,
        /// The HTTP status, or `None` for a network error.
        status: Option<u16>,
    },
    /// Something the application should know that did not stop delivery.
    Warning(Warning),
}

/// Counters for a status display.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events waiting (not in flight), and their encoded bytes.
    pub queued: usize,
    /// Bytes of the queued events.
    pub queued_bytes: usize,
    /// Events in requests awaiting an answer.
    pub in_flight: usize,
    /// Events delivered since the start.
    pub delivered: u64,
    /// Events failed for good since the start.
    pub failed: u64,
    /// Events put back in the queue after a request that did not deliver them.
    pub retried: u64,
    /// Of `failed`, those evicted from a full queue.
    pub evicted: u64,
    /// No request before this, by the server's word.
    pub rate_limited_until: Option<Millis>,
    /// The quota hold's reset, or its next probe.
    pub quota_held_until: Option<Millis>,
    /// Identities paused now.
    pub paused_identities: usize,
}
