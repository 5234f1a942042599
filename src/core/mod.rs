//! The delivery engine. It is deterministic and performs no IO: it never reads a clock, never
//! draws randomness of its own, and never touches the network or storage. Time (`now`, epoch
//! milliseconds) and a seed are inputs; requests to send, wake-up times and things to tell the
//! application are outputs. Given the same inputs it produces the same outputs, which is what lets
//! a simulated server and a virtual clock test it exhaustively (see `tests/sim.rs`).
//!
//! # Model
//! An event is validated and encoded into its protocol's JSON exactly once, at
//! [`Pipeline::enqueue`]; from then on it is a byte string with a messageId inside and a little
//! metadata beside it (about 72 bytes). Every request body is `prefix + events joined by ',' +
//! suffix`, so planning a request is adding lengths, and every retry of an event carries the
//! same bytes and messageId.
//!
//! An event is in exactly one state: queued, in flight in exactly one request, or gone (delivered
//! or failed, each reported once through [`Pipeline::poll_event`]). Nothing leaves silently:
//! evictions, rejections and the give-up horizon all produce [`AppEvent::Failed`]. (The one
//! exception is [`Pipeline::forget`], for an event another pipeline delivers and reports.)
//!
//! Waiting is keyed: a global rate limit (no request before `Retry-After`), a global backoff
//! after transient failures, a global quota hold (probed sparingly), and per-identity pauses
//! (Amplitude's per-user/device throttles and daily quotas) that leave other identities flowing.
//!
//! The driver (browser, Worker, test) is thin: see [`Pipeline`] for the order of calls.
//!
//! # Layout
//! The engine stands on `protocol` (what a request and a response mean) and `base`, and
//! nothing here knows the wire format beyond [`Protocol`]'s methods.
//! - `pipeline/`: the [`Pipeline`] itself (admission, bounds, housekeeping, the public calls),
//!   `batch.rs` (which events the next request carries) and `outcome.rs` (what a response does).
//! - The pipeline's owned parts, each with its own tests: `counts.rs` (held, queued, totals),
//!   `limits.rs` (request limits learnt from 413s), `outbox.rs` (requests in flight and their
//!   ids), `gates.rs` (rate limit, backoff, quota hold), `pauses.rs` (per-identity pauses),
//!   `pacing.rs` (the server's budgets, kept before it says 429), `mailbox.rs` (what to tell the
//!   application).
//! - `queue.rs` (the events held, in id order), `keys.rs` (engine keys and their map), `rng.rs`
//!   (the seeded PRNG and UUIDs), `backoff.rs` (the jittered backoff step).
//! - `event.rs` (the event model and its messages), `validate.rs` (input to protocol-ready
//!   fields), `config.rs`, `report.rs` (the boundary's other values: transmits, responses, what
//!   the application is told).

#![warn(missing_docs)]

mod backoff;
mod config;
mod counts;
mod derive;
mod event;
mod gates;
mod keys;
mod limits;
mod mailbox;
mod outbox;
mod pacing;
mod pauses;
mod pipeline;
mod queue;
mod report;
mod rng;
mod validate;

#[cfg(test)]
mod tests;

pub use crate::base::time::parse_retry_after;
pub use crate::base::Millis;
pub use config::{Config, ConfigError, Overflow};
pub use derive::{derive_id, Derived};
pub use event::{EventInput, Field, Rejected, Rule, StoredEvent, Warning};
pub use pipeline::Pipeline;
pub use report::{
    AppEvent, Enqueued, EventId, FailReason, NetError, Response, Stats, Transmit, TransmitId,
};

pub use crate::protocol::{EventKind, Protocol, ServerZone};

/// `Option::as_deref`, inlined: the library's stayed a call returning through memory (wasm size).
#[inline(always)]
pub(crate) fn as_str(s: &Option<crate::prelude::String>) -> Option<&str> {
    match s {
        Some(s) => Some(s.as_str()),
        None => None,
    }
}

/// `v.drain(..n)`: drain's range check carries a formatted panic (its message pieces and source
/// path) into the wasm. The kept tail is copied to the front.
// Its users are the pacing and user-property logs.
#[cfg_attr(
    not(any(feature = "pacing", feature = "user-properties")),
    allow(dead_code)
)]
pub(crate) fn drop_first<T: Copy>(v: &mut crate::prelude::Vec<T>, n: usize) {
    let mut i = 0;
    while let Some(&e) = v.get(i + n) {
        if let Some(slot) = v.get_mut(i) {
            *slot = e;
        }
        i += 1;
    }
    v.truncate(i);
}
