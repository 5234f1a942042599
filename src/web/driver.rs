//! The driver: where the sans-IO core meets the browser. One per client.
//!
//! It is itself synchronous and does no IO: it decides, and an [`Io`] carries out (in the wasm
//! build, the JavaScript half in `src/web/js`, which owns `fetch`, the one timer, IndexedDB,
//! the Web Lock and the BroadcastChannel, and reports back through the driver's methods). Keeping
//! futures, closures and shared ownership out of Rust keeps the wasm small, and lets the native
//! tests below run every decision against a recording `Io`.
//!
//! [`Driver::drive`] calls the [`Pipeline`] in the order the core documents: hand this tick's
//! events to the store, start every request `poll_transmit` offers, report what `poll_event` says,
//! re-arm the one timer at `poll_timeout`. Inputs (`enqueue`, a response, the timer, another tab)
//! change the pipeline and then drive. `enqueue` only asks for one drive per tick, so a loop of
//! 1,000 `track()` calls costs one drive and one IndexedDB transaction.
//!
//! Storage: every admitted event is put in the store as its stored form (messageId, enqueue time,
//! the exact bytes to send), up to `flush_at` events of one drive in one record the driver names
//! (a request's worth at most, so an ack usually deletes a record whole), and taken out of that
//! record when the core reports it delivered or failed. [`Records`] keeps the
//! account of which record holds which event, for this context's records and every record it
//! restored (`stored.rs` has the driver's side); the store (src/web/js/store.js) writes, rewrites
//! and loads what it is told, and deletes a record once it holds nothing. The leader restores
//! what earlier pages left (the JS client resolves `createClient` after that when it leads from
//! the start); it does not wait for that to send its own events, because a page can be closed
//! milliseconds after it starts.
//!
//! Tabs: with a durable store, only the tab holding the Web Lock sends (the leader). Every other
//! tab (a follower) keeps its own events in its pipeline without sending; once they are committed
//! they are posted to the leader, which restores them (de-duplicated by messageId) and sends them.
//! The leader posts what it settled of the events it restored (no other tab waits for its own);
//! followers `forget` their own and report them, which also resolves their `flush()`. When the leader's tab closes, another takes the lock, restores the
//! stored queue (its own events are already in its pipeline) and carries on. Without a durable
//! store or Web Locks nobody can share the queue, and the client is its own leader.
//!
//! Unload: when the page is hidden or left, the leader takes what is queued into requests within
//! the 64 KiB keepalive budget, minus keepalive bodies still in flight, and sends them with
//! `keepalive`. They stay stored until a response acks them; if the page dies first, the next
//! page resends them with the same messageIds and the server de-duplicates. On leaving, the
//! leader also steps down and the lock is let go, which keeps the page eligible for the
//! back/forward cache; restored from it, the page asks for the lock again. Whoever leads next
//! holds back the events those requests carried (see [`LEFT_IN_FLIGHT_HOLD_MS`]): they stay in
//! their records, and once the one timer says their time has come the store is loaded again
//! and they are sent at once.

use crate::core::{AppEvent, EventId, EventInput, Millis, NetError, Pipeline, Rejected, Response};
use crate::prelude::*;
use crate::web::abi::Stat;
pub use crate::web::records::{Record, Records, LEFT_IN_FLIGHT_HOLD_MS, RECORD_HEADER, RELEASING};

/// Bytes of request bodies that all keepalive requests in flight may carry together.
pub const KEEPALIVE_BUDGET: usize = 64 * 1024;

/// Something to tell the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    Delivered(Vec<String>),
    /// messageId, code, reason.
    Failed(String, String, String),
    RateLimited(Millis),
    QuotaHeld(Millis),
    /// code, message, messageId.
    Warning(&'static str, String, Option<String>),
}

/// What the driver asks of its environment. Every call returns at once; results come back
/// through the driver's methods (`response`, `failure`, `timer`, `restore`, ...).
pub trait Io {
    /// A pending `flush()` / `shutdown()` promise's resolver.
    type Waiter: Copy;
    /// `POST {apiHost}{path}`; answer with [`Driver::response`] or [`Driver::failure`].
    fn send(&mut self, id: u64, path: &str, body: &[u8], keepalive: bool);
    /// (Re)arms the one timer, or cancels it (`None`); it calls [`Driver::timer`].
    fn arm(&mut self, delay_ms: Option<Millis>);
    /// Calls [`Driver::drive`] once the current task is done (a microtask).
    fn schedule(&mut self);
    /// Writes events into record `record` (one this context made, above 0), new in this tick's
    /// transaction: their messageIds joined by U+0000 (no messageId holds one), their stored
    /// values one after the other, and where each value starts in `values` and where the last
    /// ends (`ends[i]..ends[i + 1]` is event i's; `ends[0]` is 0). One call per record,
    /// not per event: a burst's events cross to the store a record at a time. `share`: once
    /// committed, post the record to the leader (a follower made it).
    fn put(&mut self, record: Record, message_ids: &[u8], values: &[u8], ends: &[u32], share: bool);
    /// Takes `n` events out of record `record` (deleted once it holds nothing): their messageIds
    /// joined by U+0000. One call per record an answer settles events of, not per event: an ack
    /// usually empties a record whole, and a store that wrote it need not read the ids then.
    fn remove(&mut self, record: Record, message_ids: &[u8], n: usize);
    /// Loads the store again, as after [`Driver::lead`]: `lead`, `restore` each record's
    /// events, `loaded` (once the current task is done).
    fn reload(&mut self);
    /// Leader -> followers: these events are settled.
    fn settled(&mut self, delivered: &[String], failed: &[String]);
    /// Follower -> leader: make everything due now (after this tab's shared records).
    fn ask_flush(&mut self);
    fn emit(&mut self, note: Note);
    fn resolve(&mut self, waiter: Self::Waiter);
    /// Shutdown is complete: let go of the lock, the channel, the hooks, the timer, the store.
    fn release(&mut self);
    /// The page is left with these events in requests still in flight: whoever leads next must
    /// not send them before `until` (written where the next page and other tabs can read it at
    /// once, before the page is gone).
    fn hold(&mut self, message_ids: &[String], until: Millis);
}

/// A `flush()`: resolves when `remaining` events with ids below `mark` have settled.
struct Flush<W> {
    mark: u64,
    remaining: usize,
    waiter: W,
}

pub struct Driver<I: Io> {
    pub io: I,
    pipeline: Pipeline,
    /// Events reach IndexedDB (false: memory only, or the store failed).
    durable: bool,
    /// This context sends.
    leader: bool,
    /// The leader has restored what the store held. Until then it sends its own events anyway
    /// (a page may be closed within milliseconds of starting) and remembers what it settled, so
    /// that the store's older snapshot cannot bring those back to be sent twice.
    loaded: bool,
    settled_early: Vec<String>,
    scheduled: bool,
    /// When the armed timer fires; `Millis::MAX`: none armed, as nothing can be due then (a
    /// scalar: comparing Options took a library call through memory).
    timer_at: Millis,
    /// Admitted since the last drive; their stored forms go to the store there.
    unstored: Vec<EventId>,
    records: Records,
    last_id: u64,
    keepalive_bytes: usize,
    /// Requests in flight, with the body bytes of the keepalive ones and the events they carry.
    requests: Vec<(u64, usize, Vec<EventId>)>,
    flushes: Vec<Flush<I::Waiter>>,
    /// `shutdown()` was called; `closers` are its waiters not yet resolved. Two fields rather
    /// than an `Option<Vec<_>>`, whose drop and tests went through memory.
    closing: bool,
    closers: Vec<I::Waiter>,
    /// What the leader settled since it last told the followers, of the events it restored (its
    /// own, tracked here, no other tab waits for): ids; (id, code, reason) flat.
    done: (Vec<String>, Vec<String>),
    /// A follower's own events the leader settled (its pipeline only forgot them).
    elsewhere: (u64, u64),
    /// Of those, delivered since the last drive.
    heard: Vec<String>,
}

impl<I: Io> Driver<I> {
    /// `durable`: the store opened. The driver starts as a follower: the environment calls
    /// [`Driver::lead`] when it holds the lock (or at once where nobody can share the queue), then
    /// [`Driver::restore`] for each stored record and [`Driver::loaded`].
    pub fn new(pipeline: Pipeline, io: I, durable: bool) -> Self {
        Driver {
            io,
            pipeline,
            durable,
            leader: false,
            loaded: false,
            settled_early: Vec::new(),
            scheduled: false,
            timer_at: Millis::MAX,
            unstored: Vec::new(),
            records: Records::default(),
            last_id: 0,
            keepalive_bytes: 0,
            requests: Vec::new(),
            flushes: Vec::new(),
            closing: false,
            closers: Vec::new(),
            done: (Vec::new(), Vec::new()),
            elsewhere: (0, 0),
            heard: Vec::new(),
        }
    }

    pub fn is_leader(&self) -> bool {
        self.leader
    }

    /// `track()` and friends: validate, encode and queue; the rest happens in this tick's drive.
    pub fn enqueue(&mut self, now: Millis, input: EventInput) -> Result<String, Rejected> {
        let e = self.pipeline.enqueue(now, input)?;
        // A messageId queued already is the same event (the core de-duplicates): stored once.
        if e.id.0 > self.last_id {
            self.last_id = e.id.0;
            self.unstored.push(e.id);
        }
        for w in &e.warnings {
            let note = Note::Warning(w.code(), w.message(), Some(e.message_id.clone()));
            self.io.emit(note);
        }
        if !self.scheduled {
            self.scheduled = true;
            self.io.schedule();
        }
        Ok(e.message_id)
    }

    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// Makes everything queued due now; `waiter` is resolved once all of it is settled.
    pub fn flush(&mut self, now: Millis, waiter: I::Waiter) {
        self.pipeline.flush(now);
        if !self.leader {
            self.io.ask_flush();
        }
        let s = self.pipeline.stats();
        let remaining = s.queued + s.in_flight;
        if remaining == 0 {
            self.io.resolve(waiter);
        } else {
            let mark = self.last_id + 1;
            self.flushes.push(Flush {
                mark,
                remaining,
                waiter,
            });
        }
        self.drive(now);
    }

    /// The leader's answer to a follower's flush.
    pub fn flush_now(&mut self, now: Millis) {
        if self.leader {
            self.pipeline.flush(now);
            self.drive(now);
        }
    }

    /// Stops intake, sends what is queued, and resolves once no request is in flight; then
    /// releases everything. What was not delivered stays stored.
    pub fn shutdown(&mut self, now: Millis, waiter: I::Waiter) {
        self.closing = true;
        self.closers.push(waiter);
        self.pipeline.flush(now);
        self.drive(now);
    }

    /// Server mode's `closeAndFlush()` past its timeout: every event still queued or in flight
    /// fails with `E_SHUTDOWN` (reported, and taken out of the store); answers to the requests
    /// in flight are ignored, so a `shutdown()` waiting for them resolves now.
    #[cfg(feature = "server")]
    pub fn abandon(&mut self, now: Millis) {
        self.pipeline.abandon(now);
        self.requests.clear();
        self.keepalive_bytes = 0;
        self.drive(now);
    }

    /// `stats()`, indexed by [`Stat`].
    pub fn stats(&self) -> [f64; Stat::ALL.len()] {
        let s = self.pipeline.stats();
        let mut out = [0.0; Stat::ALL.len()];
        out[Stat::Queued as usize] = s.queued as f64;
        out[Stat::InFlight as usize] = s.in_flight as f64;
        out[Stat::Delivered as usize] = (s.delivered + self.elsewhere.0) as f64;
        out[Stat::Failed as usize] = (s.failed + self.elsewhere.1) as f64;
        out[Stat::Retried as usize] = s.retried as f64;
        out[Stat::RateLimitedUntil as usize] = s.rate_limited_until.unwrap_or(0) as f64;
        out[Stat::QuotaHeldUntil as usize] = s.quota_held_until.unwrap_or(0) as f64;
        out[Stat::Stored as usize] = if self.durable { 1.0 } else { 0.0 };
        out
    }

    /// This context holds the lock, or needs none: it sends from now on, and restores the
    /// stored queue until [`Driver::loaded`].
    pub fn lead(&mut self, now: Millis) {
        self.leader = true;
        self.loaded = false;
        self.settled_early.clear();
        self.drive(now);
    }

    /// The leader has restored the stored queue. Restored events follow the flush rules like any
    /// other, except that a `flush()` asked before the load (by this tab, or by a follower whose
    /// request reached nobody during a takeover) covers them too: its waiters now wait for
    /// everything held.
    pub fn loaded(&mut self, now: Millis) {
        self.loaded = true;
        // clear(), not a new Vec: only the list's own buffer (12 bytes an id) stays allocated,
        // and dropping the old Vec whole cost more code.
        self.settled_early.clear();
        if self.records.held_until == RELEASING {
            // Held events, released: they were being sent when their page was left.
            self.records.held_until = 0;
            self.pipeline.flush(now);
        }
        if !self.flushes.is_empty() {
            self.pipeline.flush(now);
            let s = self.pipeline.stats();
            let mark = self.last_id + 1;
            for f in &mut self.flushes {
                f.mark = mark;
                f.remaining = s.queued + s.in_flight;
            }
        }
        self.drive(now);
    }

    /// Another tab now leads. A follower still waiting in `flush()` asks it again: the request it
    /// sent before may have reached a leader that was going away.
    pub fn leader_changed(&mut self) {
        if !self.leader && !self.flushes.is_empty() {
            self.io.ask_flush();
        }
    }

    /// The store failed: keep going in memory. True the first time: the environment warns once
    /// (client.js builds that message, which costs the wasm more bytes than the glue).
    pub fn store_failed(&mut self) -> bool {
        core::mem::replace(&mut self.durable, false)
    }

    /// A follower hears that the leader settled `message_id`: delivered (`code` empty), or failed
    /// with `code` and `reason`. If it is one of this tab's own events, it is done here too;
    /// deliveries are reported together at the next drive. Plain strings, not an
    /// `Option<(String, String)>`, which went through memory from the wasm export.
    pub fn settled(&mut self, message_id: String, code: String, reason: String) {
        if self.leader {
            return;
        }
        let Some(id) = self.pipeline.forget(&message_id) else {
            return;
        };
        self.settle(id);
        if code.is_empty() {
            self.elsewhere.0 += 1;
            self.heard.push(message_id);
        } else {
            self.elsewhere.1 += 1;
            self.io.emit(Note::Failed(message_id, code, reason));
        }
    }

    pub fn response(
        &mut self,
        now: Millis,
        id: u64,
        status: u16,
        retry_after: Option<String>,
        body: Vec<u8>,
    ) {
        if self.finish(id) {
            let response = Response {
                status,
                retry_after,
                location: None,
                body,
            };
            self.pipeline
                .handle_response(now, crate::core::TransmitId(id), response);
            self.drive(now);
        }
    }

    /// No HTTP response: offline, DNS, CORS, a reset, a keepalive over the browser's quota.
    pub fn failure(&mut self, now: Millis, id: u64) {
        if self.finish(id) {
            self.pipeline
                .handle_failure(now, crate::core::TransmitId(id), NetError::Network);
            self.drive(now);
        }
    }

    fn finish(&mut self, id: u64) -> bool {
        // An index loop: position() handed back an Option through memory.
        let mut at = 0;
        while let Some(r) = self.requests.get(at) {
            if r.0 == id {
                let (_, keepalive, _) = self.requests.swap_remove(at);
                self.keepalive_bytes -= keepalive;
                return true;
            }
            at += 1;
        }
        false
    }

    pub fn timer(&mut self, now: Millis) {
        self.timer_at = Millis::MAX;
        if self.leader && self.loaded {
            self.release_held(now);
        }
        self.pipeline.handle_timeout(now);
        self.drive(now);
    }

    /// The page is being hidden or left: the leader sends what it can with keepalive.
    pub fn hidden(&mut self, now: Millis) {
        if !self.leader {
            return;
        }
        self.persist();
        let budget = KEEPALIVE_BUDGET.saturating_sub(self.keepalive_bytes);
        // Borrowing loop: a consuming one over the Vec cost more.
        for t in &mut self.pipeline.take_for_unload(now, budget) {
            self.start(t, true);
        }
        self.drive(now);
    }

    /// The page is left (pagehide): after the unload send, stop leading, so that the Web Lock can
    /// be let go (Chrome keeps no page holding one in the back/forward cache) and another tab can
    /// take over. A page restored from that cache leads again only once it holds the lock again.
    pub fn leave(&mut self, now: Millis) {
        self.hidden(now);
        if self.leader {
            let mut ids = Vec::new();
            for r in &self.requests {
                for e in &r.2 {
                    if let Some(m) = self.pipeline.message_id(*e) {
                        ids.push(m);
                    }
                }
            }
            if !ids.is_empty() {
                let until = now + LEFT_IN_FLIGHT_HOLD_MS;
                self.io.hold(&ids, until);
            }
        }
        self.leader = false;
        self.loaded = false;
        // A load under way is dropped: the next one sees the holds afresh.
        self.records.held_until = 0;
    }

    /// See the module docs for the order.
    pub fn drive(&mut self, now: Millis) {
        self.scheduled = false;
        self.persist();
        let mut sent = false;
        if self.leader {
            while let Some(mut t) = self.pipeline.poll_transmit(now) {
                self.start(&mut t, false);
                sent = true;
            }
        }
        while let Some(ev) = self.pipeline.poll_event() {
            self.on_app_event(ev);
        }
        if !self.heard.is_empty() {
            let heard = core::mem::take(&mut self.heard);
            self.io.emit(Note::Delivered(heard));
        }
        if self.leader && !(self.done.0.is_empty() && self.done.1.is_empty()) {
            // Told from where they are, then cleared: taking the pair out cost more.
            self.io.settled(&self.done.0, &self.done.1);
            self.done.0.clear();
            self.done.1.clear();
        }
        let mut at = Millis::MAX;
        if !self.closing {
            at = self.pipeline.poll_timeout().unwrap_or(at);
            // Held events: woken when they may be loaded again.
            if self.leader && self.loaded && self.records.held_until > RELEASING {
                at = at.min(self.records.held_until);
            }
        }
        if at != self.timer_at {
            self.timer_at = at;
            self.io
                .arm((at != Millis::MAX).then(|| at.saturating_sub(now)));
        }
        if self.closing && self.requests.is_empty() && !sent {
            self.leader = false;
            self.io.release();
            // By index over Copy waiters: a consuming loop over a taken Vec cost more.
            let mut i = 0;
            while let Some(&w) = self.closers.get(i) {
                self.io.resolve(w);
                i += 1;
            }
            self.closers.clear();
        }
    }

    /// Takes the events out of `t`.
    fn start(&mut self, t: &mut crate::core::Transmit, keepalive: bool) {
        let held = if keepalive { t.body.len() } else { 0 };
        self.keepalive_bytes += held;
        self.io.send(t.id.0, t.path, &t.body, keepalive);
        let events = core::mem::take(&mut t.events);
        self.requests.push((t.id.0, held, events));
    }

    fn on_app_event(&mut self, ev: AppEvent) {
        let note = match ev {
            AppEvent::Delivered { ids, message_ids } => {
                // One plain loop: extend(iter().cloned()) pulled in generic extend code per use.
                // `ids` and `message_ids` are parallel. The events of one record go out of it
                // in one call (the ids of a request are in record order, a record at a time).
                let (mut i, mut run, mut keys, mut n) = (0, 0, Vec::new(), 0);
                while let (Some(&id), Some(m)) = (ids.get(i), message_ids.get(i)) {
                    i += 1;
                    let (rec, told) = self.settle(id);
                    if rec != run {
                        self.take_out(run, &mut keys, &mut n);
                        run = rec;
                    }
                    if rec != 0 {
                        if n > 0 {
                            keys.push(0);
                        }
                        n += 1;
                        keys.extend_from_slice(m.as_bytes());
                    }
                    if self.leader {
                        if !self.loaded {
                            self.settled_early.push(m.clone());
                        }
                        if told {
                            self.done.0.push(m.clone());
                        }
                    }
                }
                self.take_out(run, &mut keys, &mut n);
                Note::Delivered(message_ids)
            }
            AppEvent::Failed {
                id,
                message_id,
                reason,
            } => {
                let (rec, told) = self.settle(id);
                if rec != 0 {
                    self.io.remove(rec, message_id.as_bytes(), 1);
                }
                if self.leader && !self.loaded {
                    self.settled_early.push(message_id.clone());
                }
                let (code, reason) = (String::from(reason.code()), reason.message());
                if self.leader && told {
                    let done = &mut self.done.1;
                    done.push(message_id.clone());
                    done.push(code.clone());
                    done.push(reason.clone());
                }
                Note::Failed(message_id, code, reason)
            }
            AppEvent::RateLimited { until } => Note::RateLimited(until),
            AppEvent::QuotaHeld { until } => Note::QuotaHeld(until),
            #[cfg(feature = "amplitude")]
            AppEvent::IdentityPaused {
                user_id,
                device_id,
                until,
                daily_quota,
            } => {
                // Borrowed: moving the Options out of the event cost more.
                let (who, id) = match (&user_id, &device_id) {
                    (Some(u), _) => ("user", u.as_str()),
                    (None, d) => ("device", d.as_deref().unwrap_or_default()),
                };
                let why = if daily_quota {
                    "is over its daily quota"
                } else {
                    "is throttled"
                };
                // The core's message builder: u64's Display would link the integer formatting
                // machinery into the wasm, and building it here repeated what say() does.
                let template = "{0} {1} {2}; its events wait until {4}";
                let message = crate::base::text::say(template, who, id, why, "", until, 0);
                Note::Warning("W_IDENTITY_PAUSED", message, None)
            }
            // Counted in stats().retried; the application hears when delivery ends.
            AppEvent::Retrying { .. } => return,
            AppEvent::Warning(w) => Note::Warning(w.code(), w.message(), None),
        };
        self.io.emit(note);
    }
}

mod stored;
#[cfg(test)]
mod tests;
