//! Applying a response: the protocol module says what it means (`protocol::Outcome`), this says
//! what the engine does about it.
//!
//! | outcome | events | pauses |
//! |---|---|---|
//! | accepted | delivered | backoff reset; probes that passed lift their hold |
//! | partial | named ones fail (`Rejected`), the rest delivered (all named, each once, else unconfirmed) | as accepted |
//! | unconfirmed (2xx) | requeued; the tenth such answer fails an event (`Unconfirmed`) | backoff |
//! | rate limited | requeued | none before `Retry-After` (capped) nor the next backoff step |
//! | quota | requeued | global hold until the reset (or unknown), one-event probes every `quota_probe_ms` |
//! | too large | requeued (a lone event fails `TooLarge`) | byte limit lowered to `limit_bytes`, else halved |
//! | throttled (Amplitude) | requeued | named identities paused 30 s (daily quota: held, probed) |
//! | invalid events (Amplitude 400) | named ones fail, the rest requeued | none |
//! | permanent | all fail (`PermanentHttp`) | none |
//! | transient (3xx warns `W_REDIRECT`), network error | requeued | backoff with full jitter, at least `Retry-After` (capped) |
//!
//! No backoff step is shorter than `protocol::RETRY_FLOOR_MS`.
//!
//! "Requeued" keeps the event's place (by id), bytes and messageId; an event past its give-up
//! horizon fails with `RetryHorizon` instead.

use super::Pipeline;
use crate::base::time::parse_retry_after;
use crate::core::event::Warning;
#[cfg(feature = "amplitude")]
use crate::core::keys::{key, TAG_DEVICE, TAG_USER};
use crate::core::outbox::Flight;
use crate::core::queue::QUEUED;
use crate::core::report::{AppEvent, EventId, FailReason, Response};
#[cfg(feature = "amplitude")]
use crate::core::validate::read_stored;
use crate::core::Millis;
use crate::prelude::*;
use crate::protocol::{Outcome, MAX_UNCONFIRMED};

impl Pipeline {
    /// What a response to `flight` means (the protocol says), and what the engine does about it
    /// (the module doc's table).
    pub(super) fn apply_response(&mut self, now: Millis, flight: Flight, response: Response) {
        let status = response.status;
        let retry_after = response
            .retry_after
            .as_deref()
            .and_then(|r| parse_retry_after(r, now));
        let outcome =
            self.config
                .protocol
                .decode(status, retry_after, &response.body, flight.events.len());
        match outcome {
            Outcome::Accepted { warnings } => self.succeed(now, flight, Vec::new(), warnings),
            Outcome::Partial {
                mut errors,
                warnings,
            } => {
                let mut failed: Vec<(usize, String)> = Vec::new();
                // The server counted failed events it does not name (or names one twice): which
                // were accepted is unknown.
                let mut unknown = false;
                for err in &mut errors {
                    let error = core::mem::take(&mut err.error);
                    let by_id = err.message_id.as_deref().and_then(|m| {
                        flight.events.iter().position(|&id| {
                            self.queue
                                .live(id)
                                .is_some_and(|e| e.has_message_id(m.as_bytes()))
                        })
                    });
                    match by_id.or(err.index.filter(|&i| i < flight.events.len())) {
                        // Named twice: the server counted a failed event it did not name.
                        Some(i) if failed.iter().any(|&(j, _)| j == i) => unknown = true,
                        Some(i) => failed.push((i, error)),
                        _ => {
                            unknown = true;
                            self.push_event(AppEvent::Warning(Warning::UnmatchedServerError {
                                error,
                            }))
                        }
                    }
                }
                if unknown {
                    // Nothing is confirmed: all are resent, and the server names the bad ones
                    // again.
                    self.unconfirmed(now, flight, status);
                } else {
                    self.succeed(now, flight, failed, warnings);
                }
            }
            Outcome::Unconfirmed { status } => self.unconfirmed(now, flight, status),
            Outcome::RateLimited { retry_after } => self.rate_limited(now, flight, retry_after),
            Outcome::Quota { retry_after } => {
                let until = retry_after.map(|d| now.saturating_add(d));
                let next_probe = now.saturating_add(self.config.quota_probe_ms);
                self.gates.hold_quota(until, next_probe);
                self.requeue_all(now, &flight);
                self.push_event(AppEvent::QuotaHeld {
                    until: until.unwrap_or(next_probe),
                });
            }
            Outcome::TooLarge { limit_bytes } => {
                if flight.events.len() <= 1 {
                    let limit = limit_bytes.unwrap_or(flight.body_len.saturating_sub(1));
                    self.fail_all(
                        &flight,
                        FailReason::TooLarge {
                            bytes: flight.body_len,
                            limit,
                        },
                    );
                    return;
                }
                self.limits
                    .learn_too_large(flight.body_len, flight.events.len(), limit_bytes);
                self.requeue_all(now, &flight);
            }
            #[cfg(feature = "amplitude")]
            Outcome::Throttled {
                users,
                devices,
                events,
                daily_users,
                daily_devices,
                retry_after,
            } => {
                self.throttled(
                    now,
                    flight,
                    [users, devices, daily_users, daily_devices],
                    events,
                    retry_after,
                );
            }
            #[cfg(feature = "amplitude")]
            Outcome::InvalidEvents { indexes, error } => {
                // Indexes past the request's end name nothing.
                if !indexes.iter().any(|&i| i < flight.events.len()) {
                    self.fail_all(
                        &flight,
                        FailReason::PermanentHttp {
                            status: response.status,
                            error,
                        },
                    );
                    return;
                }
                let mut failed = Vec::new();
                for &i in &indexes {
                    failed.push((i, error.clone()));
                }
                self.settle(now, &flight, failed, false);
            }
            Outcome::Permanent { status, error } => {
                self.fail_all(&flight, FailReason::PermanentHttp { status, error });
            }
            Outcome::Transient { status } => {
                if (300..400).contains(&status) {
                    let location = response.location.unwrap_or_default();
                    self.push_event(AppEvent::Warning(Warning::Redirect { location }));
                }
                self.retry_later(now, flight, Some(status), retry_after)
            }
        }
    }

    /// The request went through: `failed` (index into the request, server error) fail, the rest
    /// are delivered.
    fn succeed(
        &mut self,
        now: Millis,
        flight: Flight,
        failed: Vec<(usize, String)>,
        mut warnings: Vec<String>,
    ) {
        self.gates.reset_backoff();
        if flight.quota_probe {
            self.gates.lift_quota();
        }
        for &k in &flight.identity_probes {
            self.pauses.probe_passed(k, now);
        }
        #[cfg(feature = "pacing")]
        for &id in &flight.events {
            if let Some(e) = self.queue.live(id) {
                let (user, device) = (e.user, e.device);
                self.pacing.throttle_passed(user);
                self.pacing.throttle_passed(device);
            }
        }
        self.settle(now, &flight, failed, true);
        for message in &mut warnings {
            let message = core::mem::take(message);
            self.push_event(AppEvent::Warning(Warning::Server { message }));
        }
    }

    /// `failed` (index into the request, server error) fail; the rest are delivered when
    /// `deliver`, else requeued. One loop for a partial success and for Amplitude's 400 naming
    /// bad events.
    fn settle(
        &mut self,
        now: Millis,
        flight: &Flight,
        mut failed: Vec<(usize, String)>,
        deliver: bool,
    ) {
        let mut ids = Vec::new();
        let mut message_ids = Vec::new();
        for (i, &id) in flight.events.iter().enumerate() {
            let Some(idx) = self.queue.find(id) else {
                continue;
            };
            // The last error naming an event is the one reported (a short list: searched).
            let error = failed.iter_mut().rev().find(|(j, _)| *j == i);
            match error.map(|(_, e)| core::mem::take(e)) {
                Some(error) => self.fail(idx, FailReason::Rejected { error }),
                None if !deliver => self.requeue(now, idx),
                None => {
                    if let Some(m) = self.remove(idx) {
                        ids.push(EventId(id));
                        message_ids.push(m);
                    }
                }
            }
        }
        self.counts.add_delivered(ids.len());
        if !ids.is_empty() {
            self.push_event(AppEvent::Delivered { ids, message_ids });
        }
    }

    /// No request before the server's `Retry-After` (already capped), nor before the next
    /// backoff step: a `Retry-After: 0` does not make a resend immediate.
    fn rate_limited(&mut self, now: Millis, flight: Flight, retry_after: Option<Millis>) {
        self.requeue_all(now, &flight);
        let wait = self.capped(retry_after);
        // A wait cut to max_retry_after_ms says nothing true about the server's window.
        if wait > 0 && Some(wait) == retry_after {
            self.pacing.learn_rate_limit(now + wait);
        }
        let until = self.next_backoff(now).max(now.saturating_add(wait));
        let until = self.gates.limit_rate(until);
        self.push_event(AppEvent::RateLimited { until });
    }

    /// A 2xx that confirmed nothing: each event counts the answer and fails `Unconfirmed` at
    /// `MAX_UNCONFIRMED`; the rest are resent, with the same messageIds, after a backoff.
    fn unconfirmed(&mut self, now: Millis, flight: Flight, status: u16) {
        for &id in &flight.events {
            let Some(idx) = self.queue.find(id) else {
                continue;
            };
            let Some(e) = self.queue.get_mut(idx) else {
                continue;
            };
            e.unconfirmed = e.unconfirmed.saturating_add(1);
            if e.unconfirmed >= MAX_UNCONFIRMED {
                self.fail(idx, FailReason::Unconfirmed);
            }
        }
        self.retry_later(now, flight, Some(status), None);
    }

    /// Transient failure (HTTP `status`, or a network error): requeue and back off, at least as
    /// long as a `Retry-After` the server sent with it (503 often does).
    pub(super) fn retry_later(
        &mut self,
        now: Millis,
        flight: Flight,
        status: Option<u16>,
        retry_after: Option<Millis>,
    ) {
        self.requeue_all(now, &flight);
        let wait = self.capped(retry_after);
        let until = self.next_backoff(now).max(now.saturating_add(wait));
        let until = self.gates.back_off(until);
        self.push_event(AppEvent::Retrying {
            until,
            attempt: self.gates.backoff_attempt(),
            status,
        });
    }

    /// A server's wait (0 without one), cut to `max_retry_after_ms` with a warning. Monthly
    /// quotas do not come here: their reset is their own rule.
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    fn capped(&mut self, retry_after: Option<Millis>) -> Millis {
        let asked_ms = retry_after.unwrap_or(0);
        let limit_ms = self.config.max_retry_after_ms;
        if asked_ms <= limit_ms {
            return asked_ms;
        }
        self.push_event(AppEvent::Warning(Warning::RetryAfterCapped {
            asked_ms,
            limit_ms,
        }));
        limit_ms
    }

    /// The end of the next backoff step.
    fn next_backoff(&mut self, now: Millis) -> Millis {
        let c = &self.config;
        self.gates
            .next_backoff(now, &mut self.rng, c.backoff_base_ms, c.backoff_max_ms)
    }

    /// Amplitude 429 naming identities (`named`: users, devices, daily users, daily devices) and
    /// event indexes. The named identities pause (whether or not this request carried them);
    /// listed events whose identities were not named pause theirs. The whole request is
    /// requeued, since none of it was accepted, and the others flow at once. If nothing in the
    /// request is now paused, resending would meet the same answer: then it is a rate limit.
    #[cfg(feature = "amplitude")]
    fn throttled(
        &mut self,
        now: Millis,
        flight: Flight,
        named: [Vec<String>; 4],
        events: Vec<usize>,
        retry_after: Option<Millis>,
    ) {
        let pause_ms = self.config.protocol.limits().identity_pause_ms;
        let pause_ms = pause_ms.max(self.capped(retry_after));
        let throttle_until = now.saturating_add(pause_ms);
        let hold_until = now.saturating_add(self.config.quota_probe_ms);
        for (n, names) in named.iter().enumerate() {
            let (user, hold) = (n % 2 == 0, n >= 2);
            let until = if hold { hold_until } else { throttle_until };
            let tag = if user { TAG_USER } else { TAG_DEVICE };
            for name in names {
                let k = key(self.hash_seed, tag, name.as_bytes());
                self.pause_and_tell(k, until, hold, user, Some(name));
            }
        }
        for &i in &events {
            let Some(&id) = flight.events.get(i) else {
                continue;
            };
            let Some(e) = self.queue.live(id) else {
                continue;
            };
            let (user, device) = (e.user, e.device);
            if self.pauses.is_paused(user, now) || self.pauses.is_paused(device, now) {
                continue;
            }
            // The ids as the event carries them, only for the report.
            let meta = read_stored(self.config.protocol, &e.bytes, &[]);
            let (u, d) = (meta.user.as_deref(), meta.device.as_deref());
            self.pause_and_tell(user, throttle_until, false, true, u);
            self.pause_and_tell(device, throttle_until, false, false, d);
        }
        let affected = flight.events.iter().any(|&id| {
            let e = self.queue.live(id);
            e.is_some_and(|e| {
                self.pauses.is_paused(e.user, now) || self.pauses.is_paused(e.device, now)
            })
        });
        if affected {
            self.requeue_all(now, &flight);
        } else {
            self.rate_limited(now, flight, retry_after);
        }
    }

    /// Pauses identity `k` (0: none) and, when that is news, tells the application, naming it
    /// by `name` (a user id when `user`, else a device id). One copy of the report for the
    /// identities a 429 names and for those of the events it lists.
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    #[cfg(feature = "amplitude")]
    fn pause_and_tell(
        &mut self,
        k: u64,
        until: Millis,
        hold: bool,
        user: bool,
        name: Option<&str>,
    ) {
        if k == 0 {
            return;
        }
        // A throttle again and again: longer pauses (nothing extra without pacing).
        let until = if hold {
            until
        } else {
            let base = self.config.protocol.limits().identity_pause_ms;
            let cap = self.config.max_retry_after_ms;
            until + self.pacing.throttle_extra(k, &mut self.rng, base, cap)
        };
        if !self.pauses.pause(k, until, hold) {
            return;
        }
        let name = name.map(String::from);
        let (user_id, device_id) = if user { (name, None) } else { (None, name) };
        self.push_event(AppEvent::IdentityPaused {
            user_id,
            device_id,
            until,
            daily_quota: hold,
        });
    }

    fn fail_all(&mut self, flight: &Flight, reason: FailReason) {
        for &id in &flight.events {
            if let Some(idx) = self.queue.find(id) {
                self.fail(idx, reason.clone());
            }
        }
    }

    fn requeue_all(&mut self, now: Millis, flight: &Flight) {
        for &id in &flight.events {
            if let Some(idx) = self.queue.find(id) {
                self.requeue(now, idx);
            }
        }
    }

    /// Puts an in-flight event back in its place, or fails it if its horizon has passed.
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    fn requeue(&mut self, now: Millis, idx: usize) {
        let horizon = self.config.give_up_after_ms;
        let Some(e) = self.queue.get_mut(idx) else {
            return;
        };
        if e.is_queued() {
            return;
        }
        if e.created_at.saturating_add(horizon) <= now {
            self.fail(idx, FailReason::RetryHorizon);
            return;
        }
        e.flight = QUEUED;
        e.attempts = e.attempts.saturating_add(1);
        let (id, len) = (e.id, e.bytes.len());
        self.counts.requeue(len);
        self.hint = self.hint.min(id);
    }
}
