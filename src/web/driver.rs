//! The driver: where the sans-IO core meets the browser. One per client.
//!
//! It calls the [`Pipeline`] in the order the core documents, and [`drive`] is the only place
//! that does: hand this tick's events to the store, take every request `poll_transmit` offers and
//! start it, tell the application what `poll_event` reports, re-arm the ONE timer at
//! `poll_timeout`. Inputs (`track()`, a response, the timer, a message from another tab) change
//! the pipeline, then call or schedule `drive`. `track()` itself only enqueues and schedules one
//! drive per tick, so a loop of 1,000 calls costs one drive, one IndexedDB transaction.
//!
//! Storage: every admitted event is written to IndexedDB as its stored form (messageId, enqueue
//! time, the exact bytes to send) and deleted when the core reports it delivered or failed. On
//! becoming the sending tab, the driver loads what earlier pages left and restores it.
//!
//! Tabs: with a durable store, only the tab holding the Web Lock `batchwire:<writeKey>` sends (the
//! leader). Every other tab (a follower) keeps its own events in its pipeline without sending,
//! and once they are committed to IndexedDB posts them on the BroadcastChannel of the same name;
//! the leader restores them (de-duplicated by messageId) and sends them. After each response the
//! leader posts the messageIds it settled; followers `forget` theirs and report them. When the
//! leader's tab closes, the lock passes to another tab, which loads the store and carries on.
//! Without a durable store or without Web Locks, nobody can share the queue: the client is its own
//! leader.
//!
//! Unload: when the page is hidden or left, the leader takes what is queued into requests within
//! the 64 KiB keepalive budget (minus keepalive bodies still in flight) and sends them with
//! `keepalive`. They stay stored until a response acks them; if the page dies first, the next
//! page resends them with the same messageIds and the server de-duplicates.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::futures::spawn_local;
use js_sys::{Array, Date, Function, JsString, Promise, Uint8Array};
use wasm_bindgen::prelude::*;

use super::fetch::{self, Request};
use super::page::{Channel, HideHook, Leadership};
use super::store::{Record, Store, StoreEvent};
use super::timer::Timeout;
use crate::core::{
    AppEvent, EventId, EventInput, Millis, NetError, Pipeline, Rejected, Response, StoredEvent,
    Transmit,
};

#[wasm_bindgen(module = "/src/web/api.js")]
extern "C" {
    /// The JavaScript client object; the driver only calls its `emit`.
    #[derive(Clone)]
    pub type Client;
    #[wasm_bindgen(method, catch)]
    fn emit(
        this: &Client,
        kind: &str,
        a: &JsValue,
        b: &JsValue,
        c: &JsValue,
    ) -> Result<(), JsValue>;
}

/// Bytes of request bodies that all keepalive requests in flight may carry together.
const KEEPALIVE_BUDGET: usize = 64 * 1024;
/// A stored record: 8 bytes enqueue time, 4 bytes sequence (both big-endian), then the event.
const RECORD_HEADER: usize = 12;

pub type Shared = Rc<RefCell<Driver>>;

/// Something to tell the application, queued while the driver is borrowed and emitted after.
enum Note {
    Delivered(Vec<String>),
    Failed(String, String, String),
    RateLimited(Millis),
    QuotaHeld(Millis),
    Warning(&'static str, String, Option<String>),
}

/// A `flush()` promise: resolves when `remaining` events with ids below `mark` have settled.
struct Waiter {
    mark: u64,
    remaining: usize,
    resolve: Function,
}

pub struct Driver {
    pipeline: Pipeline,
    api_host: String,
    name: String,
    store: Store,
    client: Option<Client>,
    /// This context sends (it holds the lock, or nobody can share the queue with it).
    leader: bool,
    /// The leader has restored what the store held; sending waits for it, or an event delivered
    /// meanwhile could be restored again from the older snapshot and sent twice.
    loaded: bool,
    channel: Option<Channel>,
    leadership: Option<Leadership>,
    hide: Option<HideHook>,
    timer: Option<Timeout>,
    timer_at: Option<Millis>,
    /// A startup notice (storage fallback) waits one macrotask so listeners can attach first.
    announce: Option<Timeout>,
    scheduled: bool,
    /// Admitted since the last drive; their stored forms go to IndexedDB there.
    unstored: Vec<EventId>,
    seq: u32,
    last_id: u64,
    keepalive_bytes: usize,
    requests: usize,
    waiters: Vec<Waiter>,
    closing: Option<Vec<Function>>,
    /// What the leader settled since its last broadcast: delivered ids, failed (id, code, reason).
    done: (Vec<String>, Vec<[String; 3]>),
    notes: Vec<Note>,
    /// A follower's own events the leader settled (its pipeline only forgot them).
    elsewhere: (u64, u64),
}

fn now() -> Millis {
    Date::now() as Millis
}

/// Creates the driver: opens the store (falling back to memory with one warning), then asks for
/// leadership when the queue is shared.
pub async fn start(pipeline: Pipeline, api_host: String, write_key: &str, durable: bool) -> Shared {
    let name = ["batchwire:", write_key].concat();
    let mut notes = Vec::new();
    let store = if durable {
        Store::open(&name, 3_000).await.unwrap_or_else(|e| {
            notes.push(storage_warning(&e.describe()));
            Store::memory()
        })
    } else {
        Store::memory()
    };
    let rc = Rc::new(RefCell::new(Driver {
        pipeline,
        api_host,
        name,
        store: store.clone(),
        client: None,
        leader: false,
        loaded: false,
        channel: None,
        leadership: None,
        hide: None,
        timer: None,
        timer_at: None,
        announce: None,
        scheduled: false,
        unstored: Vec::new(),
        seq: 0,
        last_id: 0,
        keepalive_bytes: 0,
        requests: 0,
        waiters: Vec::new(),
        closing: None,
        done: (Vec::new(), Vec::new()),
        notes,
        elsewhere: (0, 0),
    }));
    let weak = Rc::downgrade(&rc);
    store.set_listener(move |ev| on_store(&weak, ev));
    let weak = Rc::downgrade(&rc);
    let hide = HideHook::install(move || with(&weak, on_hide)).ok();
    let mut d = rc.borrow_mut();
    d.hide = hide;
    if store.is_durable() {
        let weak = Rc::downgrade(&rc);
        let name = d.name.clone();
        d.channel = Channel::open(&name, move |m| with(&weak, |rc| on_message(rc, m))).ok();
        let weak = Rc::downgrade(&rc);
        d.leadership = Leadership::request(&name, move || with(&weak, become_leader));
    }
    let alone = d.leadership.is_none();
    drop(d);
    if alone {
        become_leader(&rc);
    }
    rc
}

/// Connects the JavaScript client and tells it, one macrotask later, what happened at startup.
pub fn attach(rc: &Shared, client: Client) {
    let weak = Rc::downgrade(rc);
    let mut d = rc.borrow_mut();
    d.client = Some(client);
    if !d.notes.is_empty() {
        d.announce = Timeout::new(0, move || with(&weak, drive)).ok();
    }
}

fn with(weak: &Weak<RefCell<Driver>>, f: impl FnOnce(&Shared)) {
    if let Some(rc) = weak.upgrade() {
        f(&rc);
    }
}

fn storage_warning(cause: &str) -> Note {
    let message = [
        "IndexedDB is unavailable (",
        cause,
        "); events are kept in memory only",
    ];
    Note::Warning("W_STORAGE", message.concat(), None)
}

/// `track()` and friends: validate, encode and queue; the rest happens in this tick's drive.
pub fn enqueue(rc: &Shared, input: EventInput) -> Result<String, Rejected> {
    let mut d = rc.borrow_mut();
    let e = d.pipeline.enqueue(now(), input)?;
    d.last_id = d.last_id.max(e.id.0);
    if d.store.is_durable() || d.channel.is_some() {
        d.unstored.push(e.id);
    }
    for w in e.warnings {
        let note = Note::Warning(w.code(), w.to_string(), Some(e.message_id.clone()));
        d.notes.push(note);
    }
    if !d.scheduled {
        d.scheduled = true;
        let rc = rc.clone();
        spawn_local(async move { drive(&rc) });
    }
    Ok(e.message_id)
}

pub fn is_closing(rc: &Shared) -> bool {
    rc.borrow().closing.is_some()
}

/// Makes everything queued due now; the promise resolves once all of it is settled.
pub fn flush(rc: &Shared) -> Promise {
    let mut d = rc.borrow_mut();
    d.pipeline.flush(now());
    if !d.leader {
        d.post(&Array::of1(&JsValue::from_str("flush")));
    }
    let s = d.pipeline.stats();
    let remaining = s.queued + s.in_flight;
    let mark = d.last_id + 1;
    let promise = if remaining == 0 {
        Promise::resolve(&JsValue::UNDEFINED)
    } else {
        Promise::new(&mut |resolve, _| {
            d.waiters.push(Waiter {
                mark,
                remaining,
                resolve,
            });
        })
    };
    drop(d);
    drive(rc);
    promise
}

/// Stops intake, sends what is queued, and resolves once no request is in flight; then lets go
/// of the lock, the channel, the hooks and the timer. What was not delivered stays stored.
pub fn shutdown(rc: &Shared) -> Promise {
    let mut resolve = None;
    let promise = Promise::new(&mut |ok, _| resolve = Some(ok));
    let mut d = rc.borrow_mut();
    d.closing.get_or_insert_with(Vec::new).extend(resolve);
    d.pipeline.flush(now());
    drop(d);
    drive(rc);
    promise
}

/// [queued, inFlight, delivered, failed, retried, rateLimitedUntil, quotaHeldUntil, stored]
pub fn stats(rc: &Shared) -> Vec<f64> {
    let d = rc.borrow();
    let s = d.pipeline.stats();
    vec![
        s.queued as f64,
        s.in_flight as f64,
        (s.delivered + d.elsewhere.0) as f64,
        (s.failed + d.elsewhere.1) as f64,
        s.retried as f64,
        s.rate_limited_until.unwrap_or(0) as f64,
        s.quota_held_until.unwrap_or(0) as f64,
        if d.store.is_durable() { 1.0 } else { 0.0 },
    ]
}

/// The heart of the driver; see the module docs for the order.
pub fn drive(rc: &Shared) {
    let (sends, notes, resolved, client) = {
        let mut d = rc.borrow_mut();
        d.scheduled = false;
        let now = now();
        d.persist();
        let mut sends = Vec::new();
        if d.leader && d.loaded {
            while let Some(t) = d.pipeline.poll_transmit(now) {
                sends.push(t);
            }
        }
        let mut resolved = Vec::new();
        while let Some(ev) = d.pipeline.poll_event() {
            d.on_app_event(ev, &mut resolved);
        }
        d.broadcast_done();
        d.rearm(rc, now);
        let client = d.client.clone();
        if d.requests == 0 && sends.is_empty() {
            if let Some(closing) = d.closing.as_mut() {
                resolved.append(closing);
                d.release();
            }
        }
        (sends, std::mem::take(&mut d.notes), resolved, client)
    };
    for t in sends {
        send(rc, t, false);
    }
    emit(client.as_ref(), notes);
    for f in resolved {
        let _ = f.call0(&JsValue::UNDEFINED);
    }
}

fn emit(client: Option<&Client>, notes: Vec<Note>) {
    let Some(c) = client else { return };
    let s = |v: &str| JsValue::from_str(v);
    let u = JsValue::UNDEFINED;
    for n in notes {
        let _ = match n {
            Note::Delivered(ids) => {
                let arr: Array = ids.iter().map(|i| JsString::from(i.as_str())).collect();
                c.emit("delivered", &arr, &u, &u)
            }
            Note::Failed(id, code, reason) => c.emit("failed", &s(&id), &s(&code), &s(&reason)),
            Note::RateLimited(until) => c.emit("rateLimited", &(until as f64).into(), &u, &u),
            Note::QuotaHeld(until) => c.emit("quotaHeld", &(until as f64).into(), &u, &u),
            Note::Warning(code, message, id) => {
                let id = id.as_deref().map_or(u.clone(), s);
                c.emit("warning", &s(code), &s(&message), &id)
            }
        };
    }
}

/// Starts a request now and handles its end later.
fn send(rc: &Shared, t: Transmit, keepalive: bool) {
    let started = {
        let d = rc.borrow();
        let url = [d.api_host.as_str(), t.path].concat();
        let req = Request {
            url: &url,
            headers: &t.headers,
            body: &t.body,
            keepalive,
        };
        fetch::start(&req)
    };
    let len = if keepalive { t.body.len() } else { 0 };
    {
        let mut d = rc.borrow_mut();
        d.requests += 1;
        d.keepalive_bytes += len;
    }
    let weak = Rc::downgrade(rc);
    spawn_local(async move {
        let result = match started {
            Ok(pending) => pending.finish().await,
            Err(e) => Err(e),
        };
        let Some(rc) = weak.upgrade() else { return };
        {
            let mut d = rc.borrow_mut();
            d.requests -= 1;
            d.keepalive_bytes -= len;
            let now = now();
            match result {
                Ok(r) => {
                    let response = Response {
                        status: r.status,
                        retry_after: r.retry_after,
                        body: r.body.into_bytes(),
                    };
                    d.pipeline.handle_response(now, t.id, response);
                }
                Err(_) => d.pipeline.handle_failure(now, t.id, NetError::Network),
            }
        }
        drive(&rc);
    });
}

fn on_timer(rc: &Shared) {
    {
        let mut d = rc.borrow_mut();
        d.timer_at = None;
        d.pipeline.handle_timeout(now());
    }
    drive(rc);
}

/// The page is being hidden or left: the leader sends what it can with keepalive.
fn on_hide(rc: &Shared) {
    let sends = {
        let mut d = rc.borrow_mut();
        if !(d.leader && d.loaded) {
            return;
        }
        d.persist();
        let budget = KEEPALIVE_BUDGET.saturating_sub(d.keepalive_bytes);
        d.pipeline.take_for_unload(now(), budget)
    };
    for t in sends {
        send(rc, t, true);
    }
    drive(rc);
}

/// This context holds the lock (or needs none): load what the store holds, then send.
fn become_leader(rc: &Shared) {
    rc.borrow_mut().leader = true;
    let rc = rc.clone();
    spawn_local(async move {
        let store = rc.borrow().store.clone();
        let records = match store.load().await {
            Ok(r) => r,
            Err(e) => {
                let mut d = rc.borrow_mut();
                d.notes.push(storage_warning(&e.describe()));
                Vec::new()
            }
        };
        {
            let mut d = rc.borrow_mut();
            d.restore(records, true);
            d.loaded = true;
        }
        drive(&rc);
    });
}

fn on_store(weak: &Weak<RefCell<Driver>>, ev: StoreEvent) {
    let Some(rc) = weak.upgrade() else { return };
    let mut d = rc.borrow_mut();
    match ev {
        // A follower's events are durable now: the leader may take them.
        StoreEvent::Committed(records) if !d.leader => d.post_records(&records),
        StoreEvent::Committed(_) => {}
        StoreEvent::Failed(e) => {
            d.notes.push(storage_warning(&e.describe()));
            drop(d);
            drive(&rc);
        }
    }
}

/// A message from another tab of this origin and write key.
fn on_message(rc: &Shared, data: JsValue) {
    let Ok(msg) = data.dyn_into::<Array>() else {
        return;
    };
    let tag = msg.get(0).as_string().unwrap_or_default();
    {
        let mut d = rc.borrow_mut();
        match (tag.as_str(), d.leader) {
            ("put", true) => {
                let mut records = Vec::new();
                for i in (2..msg.length()).step_by(2) {
                    let key = msg.get(i).as_string();
                    let value = msg.get(i + 1).dyn_into::<Uint8Array>().ok();
                    if let (Some(k), Some(v)) = (key, value) {
                        records.push((k, v.to_vec()));
                    }
                }
                d.restore(records, false);
                // The follower is waiting in flush(): its events must not wait for the interval.
                if msg.get(1).is_truthy() {
                    d.pipeline.flush(now());
                }
            }
            ("flush", true) => d.pipeline.flush(now()),
            ("done", false) => d.settled_elsewhere(&msg),
            _ => return,
        }
    }
    drive(rc);
}

impl Driver {
    /// Hands the stored form of this tick's events to the store (one transaction per tick). A
    /// follower whose store failed posts them to the leader directly instead.
    fn persist(&mut self) {
        if self.unstored.is_empty() {
            return;
        }
        let direct = !self.store.is_durable() && !self.leader;
        let mut posted = Vec::new();
        for id in std::mem::take(&mut self.unstored) {
            // Gone already (delivered or evicted within the tick): nothing to keep.
            let Some(s) = self.pipeline.stored_form(id) else {
                continue;
            };
            let mut value = Vec::with_capacity(RECORD_HEADER + s.body.len());
            value.extend_from_slice(&s.enqueued_at.to_be_bytes());
            value.extend_from_slice(&self.seq.to_be_bytes());
            value.extend_from_slice(&s.body);
            self.seq = self.seq.wrapping_add(1);
            if direct {
                posted.push((s.message_id, value));
            } else {
                self.store.put(s.message_id, value);
            }
        }
        if !posted.is_empty() {
            self.post_records(&posted);
        }
    }

    /// ["put", flush wanted, key, value, ...]: events for the leader to take over.
    fn post_records(&self, records: &[Record]) {
        let msg = Array::of2(
            &JsValue::from_str("put"),
            &JsValue::from_bool(!self.waiters.is_empty()),
        );
        for (key, value) in records {
            msg.push(&JsString::from(key.as_str()));
            msg.push(&Uint8Array::from(value.as_slice()));
        }
        self.post(&msg);
    }

    /// Re-admits stored records in the order given (the store loads them oldest first, which
    /// Amplitude HTTP V2's per-device order needs). Records from the store that the pipeline
    /// refuses are reported failed and deleted; `from_store` is false for records another tab
    /// posted.
    fn restore(&mut self, records: Vec<Record>, from_store: bool) {
        let now = now();
        for (key, value) in records {
            let Some((head, body)) = value.split_at_checked(RECORD_HEADER) else {
                if from_store {
                    self.store.delete(key); // not ours: nothing to restore
                }
                continue;
            };
            let at = head
                .iter()
                .take(8)
                .fold(0u64, |n, b| n << 8 | u64::from(*b));
            let stored = StoredEvent {
                message_id: key,
                enqueued_at: at,
                body: body.to_vec(),
            };
            let key = stored.message_id.clone();
            match self.pipeline.restore(now, stored) {
                Ok(id) => self.last_id = self.last_id.max(id.0),
                Err(e) => {
                    if from_store {
                        self.store.delete(key.clone());
                    }
                    self.notes
                        .push(Note::Failed(key, e.code().into(), e.to_string()));
                }
            }
        }
    }

    fn on_app_event(&mut self, ev: AppEvent, resolved: &mut Vec<Function>) {
        match ev {
            AppEvent::Delivered { ids, message_ids } => {
                for id in &ids {
                    self.settle(*id, resolved);
                }
                for m in &message_ids {
                    self.store.delete(m.clone());
                }
                if self.channel.is_some() {
                    self.done.0.extend(message_ids.iter().cloned());
                }
                self.notes.push(Note::Delivered(message_ids));
            }
            AppEvent::Failed {
                id,
                message_id,
                reason,
            } => {
                self.settle(id, resolved);
                self.store.delete(message_id.clone());
                let (code, reason) = (String::from(reason.code()), reason.to_string());
                if self.channel.is_some() && self.leader {
                    self.done
                        .1
                        .push([message_id.clone(), code.clone(), reason.clone()]);
                }
                self.notes.push(Note::Failed(message_id, code, reason));
            }
            AppEvent::RateLimited { until } => self.notes.push(Note::RateLimited(until)),
            AppEvent::QuotaHeld { until } => self.notes.push(Note::QuotaHeld(until)),
            AppEvent::IdentityPaused {
                user_id,
                device_id,
                until,
                daily_quota,
            } => {
                let who = user_id.map_or_else(
                    || ["device ", &device_id.unwrap_or_default()].concat(),
                    |u| ["user ", &u].concat(),
                );
                let why = if daily_quota {
                    " is over its daily quota"
                } else {
                    " is throttled"
                };
                let message = [
                    who.as_str(),
                    why,
                    "; its events wait until ",
                    &until.to_string(),
                ]
                .concat();
                self.notes
                    .push(Note::Warning("W_IDENTITY_PAUSED", message, None));
            }
            // Counted in stats().retried; the application hears when it ends.
            AppEvent::Retrying { .. } => {}
            AppEvent::Warning(w) => self
                .notes
                .push(Note::Warning(w.code(), w.to_string(), None)),
        }
    }

    fn settle(&mut self, id: EventId, resolved: &mut Vec<Function>) {
        self.waiters.retain_mut(|w| {
            if id.0 < w.mark {
                w.remaining = w.remaining.saturating_sub(1);
            }
            if w.remaining == 0 {
                resolved.push(w.resolve.clone());
            }
            w.remaining > 0
        });
    }

    /// A follower hears what the leader settled; its own events among them are done here too.
    fn settled_elsewhere(&mut self, msg: &Array) {
        let mut resolved = Vec::new();
        let delivered: Array = msg.get(1).unchecked_into();
        let mut ours = Vec::new();
        for m in delivered.iter().filter_map(|m| m.as_string()) {
            if let Some(id) = self.pipeline.forget(&m) {
                self.settle(id, &mut resolved);
                ours.push(m);
            }
        }
        self.elsewhere.0 += ours.len() as u64;
        if !ours.is_empty() {
            self.notes.push(Note::Delivered(ours));
        }
        let failed: Array = msg.get(2).unchecked_into();
        for i in (0..failed.length()).step_by(3) {
            let field = |k| failed.get(i + k).as_string().unwrap_or_default();
            if let Some(id) = self.pipeline.forget(&field(0)) {
                self.settle(id, &mut resolved);
                self.elsewhere.1 += 1;
                self.notes.push(Note::Failed(field(0), field(1), field(2)));
            }
        }
        for f in resolved {
            let _ = f.call0(&JsValue::UNDEFINED);
        }
    }

    /// The leader tells the followers what it settled in this drive.
    fn broadcast_done(&mut self) {
        if !self.leader || (self.done.0.is_empty() && self.done.1.is_empty()) {
            return;
        }
        let (delivered, failed) = std::mem::take(&mut self.done);
        let d: Array = delivered
            .iter()
            .map(|m| JsString::from(m.as_str()))
            .collect();
        let f: Array = failed
            .iter()
            .flatten()
            .map(|m| JsString::from(m.as_str()))
            .collect();
        self.post(&Array::of3(&JsValue::from_str("done"), &d, &f));
    }

    fn post(&self, msg: &JsValue) {
        if let Some(c) = &self.channel {
            let _ = c.post(msg);
        }
    }

    /// One timer, at the pipeline's next deadline.
    fn rearm(&mut self, rc: &Shared, now: Millis) {
        let next = if self.closing.is_some() {
            None
        } else {
            self.pipeline.poll_timeout()
        };
        if next == self.timer_at && (next.is_none() || self.timer.is_some()) {
            return;
        }
        self.timer = None;
        self.timer_at = next;
        if let Some(at) = next {
            let weak = Rc::downgrade(rc);
            self.timer = Timeout::new(at.saturating_sub(now), move || with(&weak, on_timer)).ok();
        }
    }

    /// Shutdown's end: let another tab lead, stop listening, stop the timer.
    fn release(&mut self) {
        self.leader = false;
        self.leadership = None;
        self.channel = None;
        self.hide = None;
        self.timer = None;
        self.timer_at = None;
        self.store.close();
        // Breaks the client <-> driver cycle (the client is held from the wasm side).
        self.client = None;
    }
}
