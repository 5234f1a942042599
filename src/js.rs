//! The JavaScript boundary, without a bindings generator: the module's exports (`create`,
//! `enqueue`, `on`, ...) that src/web/index.js calls, and the imports through which the driver asks
//! the JavaScript `Client` (src/web/js/client.js) for IO. Argument checks and JSON encoding are in
//! src/web/js/check.js, all IO in src/web/js; this file turns checked values into driver calls, driver requests into calls on the
//! `Client`, and core errors into texts with stable codes.
//!
//! Every value crossing is a number or UTF-8 bytes in this module's memory:
//! - JavaScript to Rust: index.js allocates a block with `alloc`, encodes into it and passes
//!   (pointer, length, capacity); Rust takes ownership of the block (`take`).
//! - Rust to JavaScript: (pointer, length) of bytes Rust owns, read during the call.
//! - A client is an index into index.js's list of clients (`h`); a driver is a pointer that
//!   index.js holds for its client.
//!
//! Lists travel as JSON text, built by the protocol module's string writer and read by JSON.parse.

use crate::prelude::*;
use core::cell::Cell;

use crate::core::{Config, EventInput, EventKind, Millis, Pipeline};
use crate::web::abi::{self, Input, NoteKind};
use crate::web::driver::{Driver, Io, Note, Record};

// The imports, implemented by src/web/index.js. `h` is the client; (p, n) a string or bytes.
#[link(wasm_import_module = "batchwire")]
extern "C" {
    /// Number `i` of the options being created, as `abi::number` and `abi::OPTIONS` number them
    /// (-1: not given).
    #[link_name = "number"]
    fn js_number(i: u32) -> f64;
    /// Hands index.js the text an export leaves: a refusal, a configuration error, the version.
    #[link_name = "text"]
    fn js_text(p: *const u8, n: usize);
    /// The headers of every request (JSON [name, value, ...]), the largest request body and
    /// how long a request may go without a complete response (`request_timeout_ms`).
    #[link_name = "setup"]
    fn js_setup(p: *const u8, n: usize, max_bytes: f64, timeout_ms: f64);
    #[link_name = "send"]
    fn js_send(
        h: u32,
        id: f64,
        path: *const u8,
        path_n: usize,
        body: *const u8,
        body_n: usize,
        keepalive: u32,
    );
    /// `ms` < 0 cancels the timer.
    #[link_name = "arm"]
    fn js_arm(h: u32, ms: f64);
    #[link_name = "schedule"]
    fn js_schedule(h: u32);
    /// Events (keys, values, where each value ends) into record `r` (see `Io::put`).
    #[link_name = "put"]
    fn js_put(
        h: u32,
        r: i32,
        keys: *const u8,
        keys_n: usize,
        values: *const u8,
        values_n: usize,
        ends: *const u32,
        ends_n: usize,
        share: u32,
    );
    /// Takes `n` events out of record `r`: their messageIds, `keys`, joined by U+0000.
    #[link_name = "rm"]
    fn js_rm(h: u32, r: i32, keys: *const u8, keys_n: usize, n: usize);
    #[link_name = "reload"]
    fn js_reload(h: u32);
    /// JSON [delivered messageIds] and [messageId, code, reason, ...] (`Client.settled`).
    #[link_name = "done"]
    fn js_settled(h: u32, a: *const u8, a_n: usize, b: *const u8, b_n: usize);
    #[link_name = "askFlush"]
    fn js_ask_flush(h: u32);
    /// `kind` is an `abi::NoteKind`; `text` (a JSON array of strings) and `until` as
    /// `Client.emit` documents.
    #[link_name = "emit"]
    fn js_emit(h: u32, kind: u32, p: *const u8, n: usize, until: f64);
    #[link_name = "release"]
    fn js_release(h: u32);
    /// Resolves the `flush()` / `shutdown()` promise numbered `waiter`.
    #[link_name = "resolve"]
    fn js_resolve(h: u32, waiter: u32);
    /// `ids`: a JSON array of messageIds not to send before `until`.
    #[link_name = "hold"]
    fn js_hold(h: u32, p: *const u8, n: usize, until: f64);
}

/// Hands `s` to index.js as the text of this call (see `js_text`).
fn text(s: &str) {
    // SAFETY: the import reads the n bytes at p during the call.
    unsafe { js_text(s.as_ptr(), s.len()) }
}

/// A JSON array of strings: owned ones, or borrowed (a note's fields are written from where they
/// are, not moved into an array that is then dropped).
fn json_list<S: AsRef<str>>(items: &[S]) -> String {
    let mut out = vec![b'['];
    for s in items {
        if out.len() > 1 {
            out.push(b',');
        }
        crate::base::json::write_str(&mut out, s.as_ref());
    }
    out.push(b']');
    // SAFETY: brackets and commas are ASCII, and `write_str` copies `s` whole between ASCII
    // escapes, so the text is UTF-8 (checking it again cost wasm size for nothing).
    unsafe { String::from_utf8_unchecked(out) }
}

/// A block of `capacity` bytes for index.js to write a string or bytes into; the export it is
/// passed to owns it from then on (`take`).
#[no_mangle]
pub extern "C" fn alloc(capacity: usize) -> *mut u8 {
    let mut v = Vec::<u8>::with_capacity(capacity);
    let p = v.as_mut_ptr();
    core::mem::forget(v);
    p
}

/// Gives back a block `alloc` made that index.js did not pass on (its text did not fit).
///
/// # Safety
/// `p` came from `alloc(capacity)` and is passed nowhere else.
#[no_mangle]
pub unsafe extern "C" fn free(p: *mut u8, capacity: usize) {
    drop(Vec::from_raw_parts(p, 0, capacity));
}

/// The bytes index.js wrote: `n` of the block `alloc(capacity)` gave at `p`.
///
/// # Safety
/// As `free`; the first `n` bytes are written.
unsafe fn take(p: *mut u8, n: usize, capacity: usize) -> Vec<u8> {
    Vec::from_raw_parts(p, n, capacity)
}

/// As `take`, for a string: TextEncoder's output, always UTF-8 (a lone surrogate is written as
/// U+FFFD), so it is not checked again.
///
/// # Safety
/// As `take`, and the bytes are UTF-8.
unsafe fn take_str(p: *mut u8, n: usize, capacity: usize) -> String {
    String::from_utf8_unchecked(take(p, n, capacity))
}

/// The package version, so an application can log which build it runs (left with `text`).
#[no_mangle]
pub extern "C" fn version() {
    text(env!("CARGO_PKG_VERSION"));
}

/// Creates the driver of client `h`, with the options index.js's `parseOptions` checked (read
/// back with `number`) and the write key in the block at `key`. Tells index.js the request
/// headers and the largest request (`setup`) and returns the driver; or returns null with the
/// configuration error left as the text.
///
/// # Safety
/// `key`, `n`, `capacity` as `take_str` requires.
#[no_mangle]
pub unsafe extern "C" fn create(h: u32, key: *mut u8, n: usize, capacity: usize) -> *mut WebDriver {
    let number = |i| js_number(i);
    let write_key = take_str(key, n, capacity);
    // A float-to-integer `as` saturates: -1 (not given) becomes 0, the default these want.
    let protocol = match number(abi::number::PROTOCOL) as usize {
        1 => abi::PROTOCOLS[1].0,
        2 => abi::PROTOCOLS[2].0,
        _ => abi::PROTOCOLS[0].0,
    };
    let mut c = Config::new(protocol, write_key);
    // In `abi::OPTIONS` order; -1 keeps the core's default. One call site and a match:
    // arrays of (index, &mut field) pairs were built in memory.
    let mut base_given = false;
    for i in 0..abi::OPTIONS.len() as u32 {
        let v = number(i);
        let (n, ms) = (v as usize, v as Millis);
        match i {
            _ if v.is_nan() || v < 0.0 => {}
            0 => c.flush_at = n,
            1 => c.flush_interval_ms = ms,
            2 => c.max_batch_bytes = n,
            3 => c.max_in_flight = n,
            4 => c.max_queue_events = n,
            5 => c.max_queue_bytes = n,
            6 => {
                c.backoff_base_ms = ms;
                base_given = true;
            }
            7 => c.backoff_max_ms = ms,
            8 => c.give_up_after_ms = ms,
            9 => c.quota_probe_ms = ms,
            10 => c.max_retry_after_ms = ms,
            11 => c.request_timeout_ms = ms,
            12 => c.rate_window_ms = ms,
            13 => c.requests_per_window = ms,
            // Amplitude's alone: a wasm without it has no use for them.
            #[cfg(feature = "amplitude")]
            14 => c.identity_events_per_second = ms,
            #[cfg(all(feature = "amplitude", feature = "pacing"))]
            _ => c.identity_events_per_day = ms,
            #[cfg(not(all(feature = "amplitude", feature = "pacing")))]
            _ => {}
        }
    }
    // Only backoffMaxMs given, below the default base: the caller wants short waits, not an error.
    if !base_given && c.backoff_max_ms < c.backoff_base_ms {
        c.backoff_base_ms = c.backoff_max_ms;
    }
    c.seed = (number(abi::number::SEED_HIGH) as u64) << 32 | number(abi::number::SEED_LOW) as u64;
    #[cfg(feature = "amplitude")]
    {
        c.skip_user_properties_sync = number(abi::number::SKIP_USER_PROPERTIES_SYNC) == 1.0;
    }
    #[cfg(feature = "server")]
    {
        c.derive_anonymous_id = number(abi::number::DERIVE_ANONYMOUS_ID) == 1.0;
    }
    let pipeline = match Pipeline::new(c) {
        Ok(p) => p,
        Err(e) => {
            // check.js (`configError`) turns the Rust field names in it into the JavaScript option names.
            text(&e.message());
            return core::ptr::null_mut();
        }
    };
    let mut list = Vec::new();
    // Borrowed and cloned: a consuming loop over the Vec cost more than copying two strings.
    for (k, v) in &pipeline.headers() {
        list.push(k.to_string());
        list.push(v.clone());
    }
    let headers = json_list(&list);
    js_setup(
        headers.as_ptr(),
        headers.len(),
        pipeline.config().max_batch_bytes as f64,
        pipeline.config().request_timeout_ms as f64,
    );
    Box::into_raw(Box::new(Driver::new(
        pipeline,
        JsIo { h },
        number(abi::number::DURABLE) == 1.0,
    )))
}

/// The driver's IO, carried out by the JavaScript `Client` number `h`.
pub struct JsIo {
    h: u32,
}

// SAFETY (every call below): the imports read the (pointer, length) pairs during the call only.
impl Io for JsIo {
    type Waiter = u32;
    fn send(&mut self, id: u64, path: &str, body: &[u8], keepalive: bool) {
        let (p, b) = (path.as_bytes(), body);
        unsafe {
            js_send(
                self.h,
                id as f64,
                p.as_ptr(),
                p.len(),
                b.as_ptr(),
                b.len(),
                keepalive.into(),
            )
        }
    }
    fn arm(&mut self, delay_ms: Option<Millis>) {
        unsafe { js_arm(self.h, delay_ms.map_or(-1.0, |ms| ms as f64)) }
    }
    fn schedule(&mut self) {
        unsafe { js_schedule(self.h) }
    }
    fn put(&mut self, record: Record, keys: &[u8], values: &[u8], ends: &[u32], share: bool) {
        unsafe {
            js_put(
                self.h,
                record,
                keys.as_ptr(),
                keys.len(),
                values.as_ptr(),
                values.len(),
                ends.as_ptr(),
                ends.len(),
                share.into(),
            )
        }
    }
    fn reload(&mut self) {
        unsafe { js_reload(self.h) }
    }
    fn remove(&mut self, record: Record, keys: &[u8], n: usize) {
        unsafe { js_rm(self.h, record, keys.as_ptr(), keys.len(), n) }
    }
    fn settled(&mut self, delivered: &[String], failed: &[String]) {
        let (a, b) = (json_list(delivered), json_list(failed));
        unsafe { js_settled(self.h, a.as_ptr(), a.len(), b.as_ptr(), b.len()) }
    }
    fn ask_flush(&mut self) {
        unsafe { js_ask_flush(self.h) }
    }
    fn emit(&mut self, note: Note) {
        let (kind, text, until) = match &note {
            Note::Delivered(ids) => (NoteKind::Delivered, json_list(ids), 0),
            Note::Failed(id, code, reason) => {
                let text = json_list(&[id.as_str(), code, reason]);
                (NoteKind::Failed, text, 0)
            }
            Note::RateLimited(until) => (NoteKind::RateLimited, json_list::<&str>(&[]), *until),
            Note::QuotaHeld(until) => (NoteKind::QuotaHeld, json_list::<&str>(&[]), *until),
            Note::Warning(code, message, None) => {
                (NoteKind::Warning, json_list(&[*code, message]), 0)
            }
            Note::Warning(code, message, Some(id)) => {
                (NoteKind::Warning, json_list(&[*code, message, id]), 0)
            }
        };
        let kind = kind as u32;
        unsafe { js_emit(self.h, kind, text.as_ptr(), text.len(), until as f64) }
    }
    fn resolve(&mut self, waiter: u32) {
        // Resolving a promise only queues its reactions: nothing re-enters the driver here.
        unsafe { js_resolve(self.h, waiter) }
    }
    fn release(&mut self) {
        unsafe { js_release(self.h) }
    }
    fn hold(&mut self, message_ids: &[String], until: Millis) {
        let ids = json_list(message_ids);
        unsafe { js_hold(self.h, ids.as_ptr(), ids.len(), until as f64) }
    }
}

/// The driver as the JavaScript `Client` sees it: a pointer `create` returned, which index.js
/// passes back to every export. Not part of the public API.
type WebDriver = Driver<JsIo>;

/// Whether an export is running. The `Client` never calls the driver from inside an import (IO
/// starts after the driver returns, listeners run in microtasks); a call that did would alias the
/// driver, so it traps instead (index.js reports a trap as E_INTERNAL). A plain cell: the module
/// has one thread.
struct Busy(Cell<bool>);
// SAFETY: the module is built without threads (no `atomics` target feature): one thread only.
unsafe impl Sync for Busy {}
static BUSY: Busy = Busy(Cell::new(false));

/// Runs `f` on the driver at `d`, refusing re-entry (see `Busy`).
///
/// # Safety
/// `d` came from `create`.
unsafe fn with<R>(d: *mut WebDriver, f: impl FnOnce(&mut WebDriver) -> R) -> R {
    if BUSY.0.replace(true) {
        core::arch::wasm32::unreachable();
    }
    let r = f(&mut *d);
    BUSY.0.set(false);
    r
}

/// Frees the driver at `d`: index.js calls it once a shut-down client has let go (`release`),
/// and never passes `d` again.
///
/// # Safety
/// `d` came from `create` and is not used after this call.
#[no_mangle]
pub unsafe extern "C" fn destroy(d: *mut WebDriver) {
    with(d, |_| ());
    drop(Box::from_raw(d));
}

/// `Some(text)` for a non-empty `text`: "" stands for an absent string at this boundary.
fn given(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

/// Queues one event. The block holds name, payload, context, userId, anonymousId, groupId,
/// previousId and messageId, joined by U+0000 ("" = absent): one string to copy into the wasm
/// instead of eight. check.js refuses a U+0000 inside a name or an id; the payload (properties of
/// track, page and screen, traits of identify and group) and context are JSON text, which never
/// holds a raw one. `timestamp`: when it was tracked. Returns 1, or 0 with "CODE\0message" left as the
/// text when the event is refused. The `Client` refuses an event once `shutdown()` was called
/// (E_SHUTDOWN) before it gets here.
///
/// # Safety
/// `d` came from `create`; `p`, `n`, `capacity` as `take_str` requires.
#[no_mangle]
pub unsafe extern "C" fn enqueue(
    d: *mut WebDriver,
    kind: u32,
    p: *mut u8,
    n: usize,
    capacity: usize,
    timestamp: f64,
    now: f64,
) -> u32 {
    let fields = take_str(p, n, capacity);
    with(d, |d| {
        // Only Amplitude sends it.
        let skip_user_properties_sync = cfg!(feature = "amplitude") && kind & abi::SKIP_SYNC != 0;
        let kind = EventKind::ALL
            .get((kind & !abi::SKIP_SYNC) as usize)
            .copied()
            .unwrap_or_default();
        let mut rest = fields.as_str();
        let mut next = || {
            let mut at = 0;
            while rest.as_bytes().get(at).is_some_and(|b| *b != 0) {
                at += 1;
            }
            let (field, tail) = rest.split_at_checked(at).unwrap_or_default();
            rest = tail.get(1..).unwrap_or_default();
            given(field)
        };
        let (event, payload, context) = (next(), next(), next());
        let (user_id, anonymous_id, group_id, previous_id) = (next(), next(), next(), next());
        let message_id = next();
        let (properties, traits) = match kind {
            EventKind::Identify | EventKind::Group => (None, payload),
            EventKind::Alias => (None, None),
            _ => (payload, None),
        };
        let input = EventInput {
            kind,
            event,
            message_id,
            anonymous_id,
            user_id,
            group_id,
            previous_id,
            timestamp: Some(timestamp as Millis),
            properties,
            traits,
            context,
            skip_user_properties_sync,
        };
        let Err(e) = d.enqueue(now as Millis, input) else {
            return 1;
        };
        let mut t = String::from(e.code());
        t += "\0"; // not push(char): its UTF-8 encoding is code
        t.push_str(&e.message());
        text(&t);
        0
    })
}

/// Every driver input that carries at most one number (`abi::Input` numbers them, and says
/// what each answers): one export instead of thirteen.
///
/// # Safety
/// `d` came from `create`.
#[no_mangle]
pub unsafe extern "C" fn on(d: *mut WebDriver, input: u32, arg: f64, now: f64) -> f64 {
    const DRIVE: u32 = Input::Drive as u32;
    const TIMER: u32 = Input::Timer as u32;
    const HIDDEN: u32 = Input::Hidden as u32;
    const LEAVE: u32 = Input::Leave as u32;
    const LEAD: u32 = Input::Lead as u32;
    const LOADED: u32 = Input::Loaded as u32;
    const LEADER_CHANGED: u32 = Input::LeaderChanged as u32;
    const FLUSH_NOW: u32 = Input::FlushNow as u32;
    const STORE_FAILED: u32 = Input::StoreFailed as u32;
    const FLUSH: u32 = Input::Flush as u32;
    const SHUTDOWN: u32 = Input::Shutdown as u32;
    const FAILURE: u32 = Input::Failure as u32;
    #[cfg(feature = "server")]
    const ABANDON: u32 = Input::Abandon as u32;
    let now = now as Millis;
    with(d, |d| {
        match input {
            DRIVE => d.drive(now),
            TIMER => d.timer(now),
            HIDDEN => d.hidden(now),
            LEAVE => d.leave(now),
            LEAD => d.lead(now),
            LOADED => d.loaded(now),
            LEADER_CHANGED => d.leader_changed(),
            FLUSH_NOW => d.flush_now(now),
            STORE_FAILED => return f64::from(u8::from(d.store_failed())),
            FLUSH if d.is_closing() => return 0.0,
            FLUSH => d.flush(now, arg as u32),
            SHUTDOWN => d.shutdown(now, arg as u32),
            FAILURE => d.failure(now, arg as u64),
            #[cfg(feature = "server")]
            ABANDON => d.abandon(now),
            _ => {
                let i = (input as usize).wrapping_sub(Input::Stat as usize);
                return d.stats().get(i).copied().unwrap_or_default();
            }
        }
        1.0
    })
}

/// A stored event (`key` its messageId, `value` its stored form) of record `r` (the store's
/// number for it) to queue again;
/// `held_until` as `Driver::restore` takes it.
///
/// # Safety
/// `d` came from `create`; the blocks as `take` and `take_str` require.
#[no_mangle]
pub unsafe extern "C" fn restore(
    d: *mut WebDriver,
    r: i32,
    k: *mut u8,
    k_n: usize,
    k_cap: usize,
    v: *mut u8,
    v_n: usize,
    v_cap: usize,
    from_store: u32,
    held_until: f64,
    now: f64,
) {
    let (key, value) = (take_str(k, k_n, k_cap), take(v, v_n, v_cap));
    with(d, |d| {
        let (now, held) = (now as Millis, held_until as Millis);
        d.restore(now, r, key, &value, from_store != 0, held)
    });
}

/// The leader settled `message_id`: delivered (`code` ""), or failed with `code` and `reason`.
///
/// # Safety
/// `d` came from `create`; the blocks as `take_str` requires.
#[no_mangle]
pub unsafe extern "C" fn settled(
    d: *mut WebDriver,
    m: *mut u8,
    m_n: usize,
    m_cap: usize,
    c: *mut u8,
    c_n: usize,
    c_cap: usize,
    r: *mut u8,
    r_n: usize,
    r_cap: usize,
) {
    let (id, code, reason) = (
        take_str(m, m_n, m_cap),
        take_str(c, c_n, c_cap),
        take_str(r, r_n, r_cap),
    );
    with(d, |d| d.settled(id, code, reason));
}

/// The answer to request `id`: `retry_after` empty when the response had none (or it was not
/// readable).
///
/// # Safety
/// `d` came from `create`; the blocks as `take_str` requires.
#[no_mangle]
pub unsafe extern "C" fn response(
    d: *mut WebDriver,
    id: f64,
    status: u32,
    a: *mut u8,
    a_n: usize,
    a_cap: usize,
    b: *mut u8,
    b_n: usize,
    b_cap: usize,
    now: f64,
) {
    let retry_after = take_str(a, a_n, a_cap);
    let body = take(b, b_n, b_cap);
    let retry_after = (!retry_after.is_empty()).then_some(retry_after);
    with(d, |d| {
        d.response(now as Millis, id as u64, status as u16, retry_after, body)
    });
}
