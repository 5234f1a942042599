//! The state machine: admission, bounds, housekeeping and the public calls. Planning lives in
//! `batch.rs`, response handling in `outcome.rs`, the events as a store keeps them (their stored
//! form, restored, forgotten) in `stored.rs`; the state they share is in owned parts, each
//! with its own module and tests: the request limits in force (`limits.rs`), the requests in
//! flight (`outbox.rs`), the global gates (`gates.rs`), the per-identity pauses (`pauses.rs`), the
//! counts (`counts.rs`) and what to tell the application (`mailbox.rs`).

mod batch;
mod outcome;
mod stored;

use super::config::{Config, ConfigError, Overflow};
use super::counts::Counts;
#[cfg(feature = "user-properties")]
use super::event::Warning;
use super::event::{EventInput, Rejected};
use super::gates::Gates;
use super::keys::KeyMap;
use super::keys::{key, TAG_DEVICE, TAG_MSG, TAG_USER};
use super::limits::RequestLimits;
use super::mailbox::Mailbox;
use super::outbox::Outbox;
use super::pacing::Pacing;
use super::pauses::Pauses;
use super::queue::{Entry, Queue, DEAD, QUEUED};
use super::report::{
    AppEvent, Enqueued, EventId, FailReason, NetError, Response, Stats, Transmit, TransmitId,
};
use super::rng::{mix, Rng};
use super::validate::validate;
use super::Millis;
use crate::prelude::*;
#[cfg(feature = "user-properties")]
use crate::protocol::EventKind;

/// A day, the Batch API's quota window.
#[cfg(feature = "pacing")]
const DAY_MS: Millis = 86_400_000;

/// The encoding buffer `enqueue` keeps between calls, at most (bigger ones are dropped).
const SCRATCH_KEEP: usize = 64 * 1024;

/// The delivery engine for one queue (one protocol, one key).
///
/// A driver calls, in this order:
/// 1. [`enqueue`](Self::enqueue) / [`restore`](Self::restore) as events arrive, and
///    [`flush`](Self::flush) when the application asks;
/// 2. [`poll_transmit`](Self::poll_transmit) until it returns `None`, sending each request;
/// 3. [`poll_event`](Self::poll_event) until `None`, telling the application;
/// 4. [`poll_timeout`](Self::poll_timeout), arming one timer for that instant; when it fires,
///    [`handle_timeout`](Self::handle_timeout) and back to 2;
/// 5. on each request's end, exactly one of [`handle_response`](Self::handle_response) or
///    [`handle_failure`](Self::handle_failure), then back to 2.
///
/// When the page is being hidden, [`take_for_unload`](Self::take_for_unload) replaces step 2.
/// Every call takes `now`; time never goes backwards inside the engine (an earlier `now` is
/// treated as the latest one seen).
#[derive(Debug)]
pub struct Pipeline {
    config: Config,
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    rng: Rng,
    hash_seed: u64,
    queue: Queue,
    next_id: u64,
    /// Every id below this is in flight or gone: where planning starts looking.
    hint: u64,
    by_msg: KeyMap,
    counts: Counts,
    outbox: Outbox,
    limits: RequestLimits,
    gates: Gates,
    pauses: Pauses,
    pacing: Pacing,
    /// The daily quota per identity (Amplitude Batch), paced like the rate.
    daily: Pacing,
    /// When a budget that held events back in the last plan next has room.
    #[cfg(feature = "pacing")]
    pace_wake: Millis,
    mailbox: Mailbox,
    /// Events with ids below this leave without waiting (an explicit flush).
    flush_mark: u64,
    /// When planning was last skipped because nothing was due yet, when it will be.
    planned_deadline: Option<Millis>,
    /// The earliest flush deadline among restored events, which may precede the queue front's.
    early_deadline: Millis,
    /// Earliest give-up horizon among held events (a sweep finds the next one).
    next_sweep: Millis,
    last_now: Millis,
    /// User-property updates in the last hour, in order (Amplitude), and their count per user.
    #[cfg(feature = "user-properties")]
    property_updates: Vec<(Millis, u64)>,
    #[cfg(feature = "user-properties")]
    property_counts: KeyMap,
    /// Where `enqueue` encodes, reused: the event is then copied once into an allocation of its
    /// exact size (growing and shrinking a fresh Vec copied it up to twice, and most of a
    /// `track()` in wasm was that copying).
    scratch: Vec<u8>,
    /// The last event context that was checked and gave no warning (`validate`).
    clean_context: Vec<u8>,
}

impl Pipeline {
    /// A pipeline for `config`, once the configuration is checked.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        let config = config.checked()?;
        let protocol = config.protocol;
        let limits = protocol.limits();
        let (prefix, suffix) = protocol.envelope(&config.write_key, config.min_id_length);
        Ok(Pipeline {
            prefix,
            suffix,
            rng: Rng::new(config.seed),
            hash_seed: mix(config.seed ^ 0x6261_7463_6877_6972),
            queue: Queue::default(),
            next_id: 1,
            hint: 1,
            by_msg: KeyMap::default(),
            counts: Counts::default(),
            outbox: Outbox::default(),
            limits: RequestLimits::new(config.max_batch_bytes, limits.max_events),
            gates: Gates::default(),
            pauses: Pauses::default(),
            pacing: if protocol.is_amplitude() {
                let per_window = config.identity_events_per_second * config.rate_window_ms;
                Pacing::new(per_window / 1000, config.rate_window_ms, false, 1)
            } else {
                Pacing::new(config.requests_per_window, config.rate_window_ms, true, 1)
            },
            #[cfg(feature = "pacing")]
            daily: Pacing::new(config.identity_events_per_day, DAY_MS, false, 60_000),
            #[cfg(not(feature = "pacing"))]
            daily: Pacing::new(0, 0, false, 0),
            #[cfg(feature = "pacing")]
            pace_wake: Millis::MAX,
            mailbox: Mailbox::default(),
            flush_mark: 0,
            planned_deadline: None,
            early_deadline: Millis::MAX,
            next_sweep: Millis::MAX,
            last_now: 0,
            scratch: Vec::new(),
            clean_context: Vec::new(),
            #[cfg(feature = "user-properties")]
            property_updates: Vec::new(),
            #[cfg(feature = "user-properties")]
            property_counts: KeyMap::default(),
            config,
        })
    }

    /// The headers of every request (`Content-Type`, and for /v1-batch the write key).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        self.config.protocol.headers(&self.config.write_key)
    }

    /// The configuration in force (after clamping to the protocol's limits).
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn observe(&mut self, now: Millis) -> Millis {
        self.last_now = self.last_now.max(now);
        self.last_now
    }

    /// Validates, encodes once, and queues an event. A caller-given messageId already held
    /// returns the held event's id (the server would de-duplicate it anyway).
    pub fn enqueue(&mut self, now: Millis, mut input: EventInput) -> Result<Enqueued, Rejected> {
        let now = self.observe(now);
        let protocol = self.config.protocol;
        // Cargo feature `server`: the browser's modules leave it out (+314 B of wasm).
        if cfg!(feature = "server")
            && self.config.derive_anonymous_id
            && protocol.requires_anonymous_id()
            && super::as_str(&input.anonymous_id).is_none()
        {
            if let Some(user) = super::as_str(&input.user_id) {
                input.anonymous_id = Some(super::derive_id(
                    super::Derived::AnonymousId,
                    user.as_bytes(),
                ));
            }
        }
        let generated;
        let message_id = match super::as_str(&input.message_id) {
            Some(id) => id,
            None => {
                generated = self.rng.uuid_v4();
                generated.as_str()
            }
        };
        let mut warnings = Vec::new();
        #[cfg_attr(not(feature = "user-properties"), allow(unused_mut))]
        let mut fields = validate(
            protocol,
            self.config.min_id_length,
            &input,
            message_id,
            now,
            &mut warnings,
            &mut self.clean_context,
        )?;
        #[cfg(feature = "user-properties")]
        let updates_properties = {
            fields.skip_user_properties_sync |= self.config.skip_user_properties_sync;
            // Identify, and traits on anything but a group, update the user's properties.
            !fields.skip_user_properties_sync
                && (fields.kind == EventKind::Identify
                    || (fields.traits.is_some() && fields.kind != EventKind::Group))
        };
        let mut out = core::mem::take(&mut self.scratch);
        out.clear();
        let msg_off = protocol.encode_event(&fields, &mut out);
        let user = self.identity(TAG_USER, fields.user_id);
        let device = self.identity(TAG_DEVICE, fields.anonymous_id);
        let bytes = Box::from(&out[..]);
        // A rare huge event does not pin its size in memory for good.
        if out.capacity() <= SCRATCH_KEEP {
            self.scratch = out;
        }
        let id = self.admit(now, bytes, msg_off, message_id.len(), user, device, now)?;
        #[cfg(feature = "user-properties")]
        if updates_properties {
            self.count_property_update(now, user, fields.user_id, &mut warnings);
        }
        self.tidy();
        Ok(Enqueued {
            id,
            message_id: message_id.to_string(),
            warnings,
        })
    }

    #[cfg(feature = "user-properties")]
    /// Counts a user-property update of user `user` (key; `user_id` its id) over the rolling
    /// hour, warning at 90 % of the server's limit and for every update past it.
    fn count_property_update(
        &mut self,
        now: Millis,
        user: u64,
        user_id: Option<&str>,
        warnings: &mut Vec<Warning>,
    ) {
        let limit = self.config.protocol.limits().user_property_updates_per_hour;
        if limit == 0 || user == 0 {
            return;
        }
        let log = &mut self.property_updates;
        let old = log.iter().take_while(|e| e.0 + 3_600_000 <= now).count();
        for &(_, k) in log.get(..old).unwrap_or_default() {
            let n = self.property_counts.get(k).unwrap_or(1);
            if n <= 1 {
                self.property_counts.remove(k);
            } else {
                self.property_counts.insert(k, n - 1);
            }
        }
        super::drop_first(log, old);
        log.push((now, user));
        let updates = self.property_counts.get(user).unwrap_or(0) + 1;
        self.property_counts.insert(user, updates);
        if updates == limit * 9 / 10 || updates > limit {
            warnings.push(Warning::UserPropertyLimit {
                user_id: user_id.unwrap_or("").into(),
                updates,
                limit,
            });
        }
    }

    /// The key of a user or device id (`tag`), 0 for none or an empty one.
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    fn identity(&self, tag: u8, id: Option<&str>) -> u64 {
        id.filter(|s| !s.is_empty())
            .map_or(0, |s| key(self.hash_seed, tag, s.as_bytes()))
    }

    #[allow(clippy::too_many_arguments)]
    fn admit(
        &mut self,
        now: Millis,
        bytes: Box<[u8]>,
        msg_off: usize,
        msg_len: usize,
        user: u64,
        device: u64,
        created_at: Millis,
    ) -> Result<EventId, Rejected> {
        let need = self.prefix.len() + bytes.len() + self.suffix.len();
        let limit = self.limits.bytes();
        if need > limit {
            return Err(Rejected::TooLarge { bytes: need, limit });
        }
        let message_id = bytes.get(msg_off..msg_off + msg_len).unwrap_or(&[]);
        let mkey = key(self.hash_seed, TAG_MSG, message_id);
        if let Some(held) = self.by_msg.get(mkey) {
            let same = self
                .queue
                .live(held)
                .is_some_and(|e| e.has_message_id(message_id));
            if same {
                return Ok(EventId(held));
            }
        }
        self.make_room(bytes.len())?;
        let len = bytes.len();
        let id = self.next_id;
        self.next_id += 1;
        self.queue.push(Entry {
            id,
            bytes,
            created_at,
            admitted_at: now,
            user,
            device,
            msg_off: msg_off as u32,
            msg_len: msg_len as u8,
            attempts: 0,
            unconfirmed: 0,
            flight: QUEUED,
        });
        // On a (2^-64) key collision the older event keeps the slot; the newer is merely not
        // found by de-dup.
        if !self.by_msg.contains_key(mkey) {
            self.by_msg.insert(mkey, id);
        }
        self.counts.admit(len);
        self.next_sweep = self
            .next_sweep
            .min(created_at.saturating_add(self.config.give_up_after_ms));
        Ok(EventId(id))
    }

    /// Evicts the oldest queued events until one of `len` bytes fits, if the policy allows and
    /// eviction can succeed; otherwise refuses without evicting anything.
    fn make_room(&mut self, len: usize) -> Result<(), Rejected> {
        let (max_n, max_b) = (self.config.max_queue_events, self.config.max_queue_bytes);
        let (held, held_bytes) = self.counts.held();
        if held < max_n && held_bytes + len <= max_b {
            return Ok(());
        }
        let (pinned_n, pinned_b) = self.counts.in_flight();
        if self.config.overflow == Overflow::RejectNew
            || pinned_n >= max_n
            || pinned_b + len > max_b
        {
            return Err(Rejected::QueueFull {
                events: held,
                bytes: held_bytes,
            });
        }
        let mut idx = self.queue.lower_bound(self.hint);
        loop {
            let (held, held_bytes) = self.counts.held();
            if held < max_n && held_bytes + len <= max_b {
                break;
            }
            let Some(e) = self.queue.get(idx) else { break };
            if e.is_queued() {
                self.fail(idx, FailReason::Evicted);
                self.counts.add_evicted();
            }
            idx += 1;
        }
        Ok(())
    }

    /// Every event queued now leaves as soon as pauses and the in-flight limit allow.
    pub fn flush(&mut self, now: Millis) {
        self.observe(now);
        self.flush_mark = self.next_id;
    }

    /// The next request to send, if one is due.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Millis) -> Option<Transmit> {
        let now = self.observe(now);
        self.housekeeping(now);
        let t = self.next_transmit(now);
        self.tidy();
        t
    }

    /// Packages queued events for a page that is going away, into requests whose bodies total at
    /// most `budget_bytes` (the keepalive budget), ignoring the flush rules, the in-flight limit
    /// and backoff, but never a server's rate limit, quota or identity pause. The requests are in
    /// flight as usual: only a response delivers them. What does not fit stays queued.
    pub fn take_for_unload(&mut self, now: Millis, budget_bytes: usize) -> Vec<Transmit> {
        let now = self.observe(now);
        self.housekeeping(now);
        let mut out = Vec::new();
        let mut budget = budget_bytes;
        if now >= self.gates.rate_limited_until() && self.gates.quota().is_none() {
            while let Some(t) = self.unload_transmit(now, budget) {
                budget -= t.body.len();
                out.push(t);
            }
        }
        self.tidy();
        out
    }

    /// The answer to request `id`: delivers, fails, retries or pauses its events (an unknown or already answered `id` is ignored).
    pub fn handle_response(&mut self, now: Millis, id: TransmitId, response: Response) {
        let now = self.observe(now);
        if let Some(flight) = self.outbox.land(id) {
            self.apply_response(now, flight, response);
        }
        self.tidy();
    }

    /// Request `id` got no HTTP response: its events are retried after a backoff.
    pub fn handle_failure(&mut self, now: Millis, id: TransmitId, error: NetError) {
        let now = self.observe(now);
        let _ = error; // Every kind is retried alike: the server de-duplicates what did land.
        if let Some(flight) = self.outbox.land(id) {
            self.retry_later(now, flight, None, None);
        }
        self.tidy();
    }

    /// Housekeeping at a timer; calling it early or often is harmless.
    pub fn handle_timeout(&mut self, now: Millis) {
        let now = self.observe(now);
        self.housekeeping(now);
        self.tidy();
    }

    /// When to call `handle_timeout` / `poll_transmit` next, if anything is waiting on time.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Millis> {
        let now = self.last_now;
        let mut next: Option<Millis> = None;
        let mut consider = |t: Millis| {
            if t > now {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        if self.counts.held().0 > 0 {
            consider(self.next_sweep);
        }
        if self.counts.queued().0 > 0 {
            // Nothing leaves before the gate, so earlier wake-ups would be wasted.
            let gate = self.gates.closed_until();
            if let Some(q) = self.gates.quota() {
                consider(gate.max(q.next_probe.min(q.until.unwrap_or(Millis::MAX))));
            } else {
                consider(gate);
                #[cfg(feature = "pacing")]
                consider(gate.max(self.pace_wake));
                for p in self.pauses.iter() {
                    consider(gate.max(p.until));
                }
                if let Some(d) = self.flush_deadline() {
                    consider(gate.max(d));
                }
            }
        }
        next
    }

    /// The next thing to tell the application, oldest first.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<AppEvent> {
        self.mailbox.poll()
    }

    /// Counters for a status display.
    pub fn stats(&self) -> Stats {
        let now = self.last_now;
        let (queued, queued_bytes) = self.counts.queued();
        let (delivered, failed, retried, evicted) = self.counts.totals();
        let rate_limited_until = self.gates.rate_limited_until();
        Stats {
            queued,
            queued_bytes,
            in_flight: self.counts.in_flight().0,
            rate_limited_until: (rate_limited_until > now).then_some(rate_limited_until),
            quota_held_until: self.gates.quota().map(|q| q.until.unwrap_or(q.next_probe)),
            paused_identities: self.pauses.len(),
            delivered,
            failed,
            retried,
            evicted,
        }
    }

    /// Transient failures in a row, for tests of the backoff.
    #[cfg(test)]
    pub(crate) fn backoff_attempt(&self) -> u32 {
        self.gates.backoff_attempt()
    }

    /// Closes the pipeline for a server driver that will not wait any longer (`closeAndFlush`
    /// past its timeout, a signal): every event still queued or in flight fails with
    /// [`FailReason::Shutdown`] (`E_SHUTDOWN`), reported like any other failure, so nothing is
    /// dropped quietly. Answers to the requests in flight are ignored from now on; the server
    /// may still have stored those events (their messageIds let it de-duplicate a resend).
    /// (Cargo feature `server`.)
    #[cfg(feature = "server")]
    pub fn abandon(&mut self, now: Millis) {
        self.observe(now);
        self.outbox.clear();
        for idx in 0..self.queue.len() {
            self.fail(idx, FailReason::Shutdown);
        }
        self.tidy();
    }

    /// Expires what time has ended: events past the give-up horizon, finished throttles, a quota
    /// whose reset has come.
    fn housekeeping(&mut self, now: Millis) {
        if now >= self.next_sweep {
            let horizon = self.config.give_up_after_ms;
            let mut next = Millis::MAX;
            for idx in 0..self.queue.len() {
                let Some(e) = self.queue.get(idx) else { break };
                if e.flight == DEAD {
                    continue;
                }
                let end = e.created_at.saturating_add(horizon);
                if e.is_queued() && end <= now {
                    self.fail(idx, FailReason::RetryHorizon);
                } else {
                    next = next.min(end);
                }
            }
            self.next_sweep = next;
        }
        // Expired throttles end; an expired hold waits for a probe, unless nothing is left to
        // probe with.
        self.pauses.expire(now, self.counts.held().0 == 0);
        self.gates.expire_quota(now);
    }

    fn tidy(&mut self) {
        self.queue.tidy();
        if self.counts.queued().0 == 0 {
            self.early_deadline = Millis::MAX;
        }
        // Give back the memory of a burst once it is over, but keep a small table warm rather
        // than regrowing it for every batch.
        if self.counts.held().0 == 0 && self.by_msg.capacity() > 4096 {
            self.by_msg = KeyMap::default();
        }
    }

    /// Removes a live event for good, reporting why.
    fn fail(&mut self, idx: usize, reason: FailReason) {
        if let Some(message_id) = self.remove(idx) {
            self.counts.add_failed();
            let id = EventId(self.queue.get(idx).map_or(0, |e| e.id));
            self.push_event(AppEvent::Failed {
                id,
                message_id,
                reason,
            });
        }
    }

    /// Takes a live event out of every count and index; returns its messageId.
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    fn remove(&mut self, idx: usize) -> Option<String> {
        let e = self.queue.get(idx).filter(|e| e.flight != DEAD)?;
        let (len, queued, retry) = (e.bytes.len(), e.is_queued(), e.attempts > 0);
        let message_id = e.message_id_string();
        let mkey = key(self.hash_seed, TAG_MSG, e.message_id());
        if self.by_msg.get(mkey).is_some_and(|id| id == e.id) {
            self.by_msg.remove(mkey);
        }
        self.counts.remove(len, queued, retry);
        self.queue.kill(idx);
        Some(message_id)
    }

    fn push_event(&mut self, e: AppEvent) {
        self.mailbox.push(e);
    }
}
