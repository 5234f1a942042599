//! Pipeline configuration. Every knob has a default chosen for a browser page; the protocol's
//! limits clamp the ones a server also bounds.

use crate::prelude::*;

use super::Millis;
use crate::base::text::say;
use crate::protocol::Protocol;

/// What to do when the bounded queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Make room by dropping the oldest queued (not in-flight) events, each reported as
    /// `Failed { reason: Evicted }`: recent events are usually worth more than old ones.
    #[default]
    DropOldest,
    /// Refuse the new event with `E_QUEUE_FULL`.
    RejectNew,
}

/// How a pipeline delivers: its protocol and key, its flush rules, bounds, backoff and horizon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The wire contract spoken.
    pub protocol: Protocol,
    /// The /v1-batch write key (sent as `Authorization: Bearer`) or the Amplitude `api_key`.
    pub write_key: String,
    /// A batch leaves once this many events wait (clamped to `1..=` the protocol's maximum).
    pub flush_at: usize,
    /// A waiting event leaves at most this long after it was queued.
    pub flush_interval_ms: Millis,
    /// Bytes per request body; default and ceiling: the protocol's limit.
    pub max_batch_bytes: usize,
    /// Requests in flight at once. 1 keeps order and is kind to rate limits.
    pub max_in_flight: usize,
    /// Bounds on what is held (queued and in flight).
    pub max_queue_events: usize,
    /// Bytes held at most (encoded events, queued and in flight).
    pub max_queue_bytes: usize,
    /// What a full queue does with a new event.
    pub overflow: Overflow,
    /// Backoff after transient failures: full jitter below `min(max, base·2^(n-1))`.
    pub backoff_base_ms: Millis,
    /// The longest backoff step.
    pub backoff_max_ms: Millis,
    /// An event not delivered this long after it was first queued fails with `RetryHorizon`.
    pub give_up_after_ms: Millis,
    /// While a quota holds events, one small request tests it this often.
    pub quota_probe_ms: Millis,
    /// Seeds messageIds and jitter. The driver must draw it from a real entropy source
    /// (`crypto.getRandomValues`): two pipelines with one seed mint the same messageIds, and the
    /// server would de-duplicate distinct events away.
    pub seed: u64,
    /// Amplitude's `min_id_length` option, also applied locally to drop ids it would remove.
    pub min_id_length: usize,
    /// The longest wait a server's rate limit imposes (`Retry-After` on a 429 or 5xx, an
    /// identity throttle): a longer one is cut to this, with a `W_RETRY_AFTER_CAPPED` warning,
    /// so a wrong or hostile header cannot stall delivery for years. Monthly-quota holds keep
    /// their own rule (held until the reset, probed every `quota_probe_ms`). Default 300,000.
    pub max_retry_after_ms: Millis,
    /// For drivers (the engine does not time requests): a request without a complete response
    /// this long after it left is aborted and reported with `handle_failure(Network)`; its events
    /// are retried with the same messageIds. Default 30,000.
    pub request_timeout_ms: Millis,
    /// /v1-batch: requests per rolling `rate_window_ms` (default 100 a minute, the per-(org, IP)
    /// limit; raise it for an org with a raised limit). A backlog drains at this rate instead of
    /// meeting 429s; a rate-limit answer lowers it to what the window admitted. 0: not paced.
    /// Unused by Amplitude.
    pub requests_per_window: u64,
    /// The window the server counts over: /v1-batch's requests (default 60,000) or Amplitude's
    /// events per identity (default 30,000). For a server whose windows differ.
    pub rate_window_ms: Millis,
    /// Amplitude: events per second per user and per device, averaged over 30 s (default 30 on
    /// HTTP V2, 1,000 on Batch, Amplitude's limits). No request carries more of an identity's
    /// events than its budget has room for; an identity over it waits alone while the others
    /// flow. 0: not paced. Unused by /v1-batch.
    pub identity_events_per_second: u64,
    /// Amplitude Batch: events per user and per device per rolling 24 hours (default 500,000,
    /// Amplitude's daily quota). An identity that has used it waits until its oldest use of
    /// the day ages out, without probing the server. 0: not tracked. (Cargo feature `pacing`.)
    #[cfg(feature = "pacing")]
    pub identity_events_per_day: u64,
    /// Server drivers (the Node entry's server mode, the backfill CLI): an event with a user id
    /// and no anonymous id, on a protocol that requires one (/v1-batch), gets the one derived from
    /// its user id ([`derive_id`](super::derive_id)), the same for every event of that user.
    /// Default false: a browser has its own anonymous id. (Cargo feature `server`; without it
    /// this is ignored.)
    pub derive_anonymous_id: bool,
    /// Amplitude: every event carries `$skip_user_properties_sync: true` (see
    /// `EventInput::skip_user_properties_sync`). Default false.
    pub skip_user_properties_sync: bool,
}

impl Config {
    /// The defaults for `protocol` with this key.
    pub fn new(protocol: Protocol, write_key: impl Into<String>) -> Self {
        let limits = protocol.limits();
        Config {
            protocol,
            write_key: write_key.into(),
            flush_at: 100.min(limits.max_events),
            flush_interval_ms: 10_000,
            max_batch_bytes: limits.max_bytes,
            max_in_flight: 1,
            max_queue_events: 10_000,
            max_queue_bytes: 8 * 1024 * 1024,
            overflow: Overflow::DropOldest,
            backoff_base_ms: 1_000,
            backoff_max_ms: 300_000,
            give_up_after_ms: 3 * 24 * 3_600_000,
            quota_probe_ms: 3_600_000,
            seed: 0,
            min_id_length: 5,
            max_retry_after_ms: 300_000,
            request_timeout_ms: 30_000,
            // Without the `pacing` feature nothing is paced, and the defaults say so.
            rate_window_ms: limits.rate_window_ms,
            requests_per_window: if cfg!(feature = "pacing") {
                limits.requests_per_window
            } else {
                0
            },
            identity_events_per_second: if cfg!(feature = "pacing") {
                limits.identity_events_per_second
            } else {
                0
            },
            skip_user_properties_sync: false,
            derive_anonymous_id: false,
            #[cfg(feature = "pacing")]
            identity_events_per_day: limits.identity_events_per_day,
        }
    }

    /// Clamps what the protocol bounds and refuses what cannot work.
    pub(crate) fn checked(mut self) -> Result<Self, ConfigError> {
        let limits = self.protocol.limits();
        #[cfg(not(feature = "amplitude"))]
        if self.protocol != Protocol::V1Batch {
            return Err(ConfigError::NoAmplitude);
        }
        if self.write_key.is_empty() {
            return Err(ConfigError::EmptyWriteKey);
        }
        // The key goes into an HTTP header for /v1-batch: no control characters.
        if self.write_key.bytes().any(|c| c < 0x20 || c == 0x7f) {
            return Err(ConfigError::WriteKeyCharacters);
        }
        self.flush_at = self.flush_at.clamp(1, limits.max_events);
        self.max_batch_bytes = self.max_batch_bytes.min(limits.max_bytes);
        if self.max_batch_bytes < MIN_BATCH_BYTES {
            return Err(ConfigError::Zero("max_batch_bytes (at least 1024)"));
        }
        // The names are a constant table and the values one array of one type, so the check is
        // one search (per-setting code or a table built at run time costs wasm size).
        const MUST_BE_POSITIVE: [&str; 10] = [
            "max_in_flight",
            "max_queue_events",
            "max_queue_bytes",
            "min_id_length",
            "backoff_base_ms",
            "quota_probe_ms",
            "give_up_after_ms",
            "max_retry_after_ms",
            "request_timeout_ms",
            "rate_window_ms",
        ];
        let values = [
            self.max_in_flight as u64,
            self.max_queue_events as u64,
            self.max_queue_bytes as u64,
            self.min_id_length as u64,
            self.backoff_base_ms,
            self.quota_probe_ms,
            self.give_up_after_ms,
            self.max_retry_after_ms,
            self.request_timeout_ms,
            self.rate_window_ms,
        ];
        if let Some(i) = values.iter().position(|&v| v == 0) {
            return Err(ConfigError::Zero(
                MUST_BE_POSITIVE.get(i).copied().unwrap_or(""),
            ));
        }
        if self.backoff_max_ms < self.backoff_base_ms {
            return Err(ConfigError::BackoffOrder);
        }
        Ok(self)
    }
}

/// Requests smaller than this could not carry a typical event; a smaller setting is a mistake.
const MIN_BATCH_BYTES: usize = 1024;

/// A setting `Pipeline::new` refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The write key is empty.
    EmptyWriteKey,
    /// The write key has characters a header cannot carry.
    WriteKeyCharacters,
    /// The named setting must be positive.
    Zero(&'static str),
    /// `backoff_base_ms` is above `backoff_max_ms`.
    BackoffOrder,
    /// An Amplitude protocol, in a build without them (Cargo feature `amplitude`).
    #[cfg(not(feature = "amplitude"))]
    NoAmplitude,
}

impl ConfigError {
    /// The stable code the application can branch on.
    pub fn code(&self) -> &'static str {
        "E_CONFIG"
    }
}

impl ConfigError {
    /// The message, built without `core::fmt` (see [`say`](crate::base::text::say)).
    pub fn message(&self) -> String {
        let template = match self {
            ConfigError::EmptyWriteKey => "the write key is empty (field: write_key)",
            ConfigError::WriteKeyCharacters => {
                "the write key contains control characters (field: write_key)"
            }
            ConfigError::Zero(_) => "setting must be positive (field: {0})",
            ConfigError::BackoffOrder => {
                "backoff_max_ms is below backoff_base_ms (field: backoff_max_ms)"
            }
            #[cfg(not(feature = "amplitude"))]
            ConfigError::NoAmplitude => "this build has no Amplitude protocols (field: protocol)",
        };
        let name = if let ConfigError::Zero(name) = self {
            name
        } else {
            ""
        };
        say(template, name, "", "", "", 0, 0)
    }
}

impl core::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_to_the_protocol_and_refuses_nonsense() {
        let mut c = Config::new(Protocol::V1Batch, "uk_live_x");
        c.flush_at = 5000;
        c.max_batch_bytes = 50_000_000;
        let c = c.checked().unwrap();
        assert_eq!((c.flush_at, c.max_batch_bytes), (100, 1_048_576));
        assert_eq!(
            Config::new(Protocol::V1Batch, "").checked(),
            Err(ConfigError::EmptyWriteKey)
        );
        let mut c = Config::new(Protocol::V1Batch, "k");
        c.max_in_flight = 0;
        let e = c.checked().unwrap_err();
        assert_eq!(
            (e.code(), e.to_string().as_str()),
            (
                "E_CONFIG",
                "setting must be positive (field: max_in_flight)"
            )
        );
        let mut c = Config::new(Protocol::V1Batch, "k\r\nX: y");
        assert_eq!(c.clone().checked(), Err(ConfigError::WriteKeyCharacters));
        c.write_key = "k".into();
        c.backoff_max_ms = 10;
        assert_eq!(c.checked(), Err(ConfigError::BackoffOrder));
    }
}
