//! The JavaScript surface: `createClient`, the error type, and `WebClient`, the driver as the
//! JavaScript `Client` (src/web/api.js) sees it. Argument checks, JSON encoding and all IO are in
//! api.js / io.js; this file turns checked values into driver calls, driver requests into calls on
//! the `Client`, and core errors into `BatchwireError`s with stable codes.

use crate::prelude::*;
use wasm_bindgen::prelude::*;

use crate::core::{Config, EventInput, EventKind, Millis, Pipeline, Protocol};
use crate::web::driver::{Driver, Io, Note};

// Every value crossing here is a number, a string or bytes: lists travel as JSON text (built by
// the protocol module's string writer, read by JSON.parse), and optional strings as "" (absent).
// wasm-bindgen's glue for `Option<String>` and `Vec<String>` (externref arrays) costs bytes on
// both sides of the boundary, and each string passed costs an allocation per call.
#[wasm_bindgen(module = "/src/web/api.js")]
extern "C" {
    /// Re-exported so `import { BatchwireError } from "batchwire"` is the class we throw.
    #[wasm_bindgen(reexport)]
    type BatchwireError;

    /// The plain object `parseOptions` returns: every field present and of the right type.
    type Options;
    #[wasm_bindgen(js_name = configError)]
    fn config_error_js(message: &str) -> JsValue;

    #[wasm_bindgen(js_name = parseOptions, catch)]
    fn parse_options(options: &JsValue) -> Result<Options, JsValue>;
    #[wasm_bindgen(method, getter, js_name = writeKey)]
    fn write_key(this: &Options) -> String;
    /// Number `i` of NUMBERS' values in api.js, then protocol, durable, seed high and low 32
    /// bits: one import for all (each costs glue), and no array copied through wasm memory.
    #[wasm_bindgen(method)]
    fn number(this: &Options, i: u32) -> f64;

    /// The JavaScript client: the public API, and the IO the driver asks for. `headers` is a JSON
    /// array [name, value, ...].
    type Client;
    #[wasm_bindgen(constructor)]
    fn new(options: &Options, headers: &str) -> Client;
    #[wasm_bindgen(method)]
    fn start(this: &Client, driver: WebClient, max_bytes: f64) -> JsValue;
    #[wasm_bindgen(method)]
    fn send(this: &Client, id: f64, path: &str, body: &[u8], keepalive: bool);
    /// `ms` < 0 cancels the timer.
    #[wasm_bindgen(method)]
    fn arm(this: &Client, ms: f64);
    #[wasm_bindgen(method)]
    fn schedule(this: &Client);
    #[wasm_bindgen(method)]
    fn put(this: &Client, key: &str, value: &[u8], share: bool);
    #[wasm_bindgen(method)]
    fn del(this: &Client, key: &str);
    /// JSON [delivered messageIds] and [messageId, code, reason, ...].
    #[wasm_bindgen(method)]
    fn settled(this: &Client, delivered: &str, failed: &str);
    #[wasm_bindgen(method, js_name = askFlush)]
    fn ask_flush(this: &Client);
    /// `kind` indexes api.js's EVENTS; `text` (a JSON array of strings) and `until` as
    /// `Client.emit` documents.
    #[wasm_bindgen(method)]
    fn emit(this: &Client, kind: u8, text: &str, until: f64);
    #[wasm_bindgen(method)]
    fn release(this: &Client);
    /// Resolves the `flush()` / `shutdown()` promise numbered `waiter`.
    #[wasm_bindgen(method)]
    fn resolve(this: &Client, waiter: u32);
    /// `ids`: a JSON array of messageIds not to send before `until`.
    #[wasm_bindgen(method)]
    fn hold(this: &Client, ids: &str, until: f64);
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = Date)]
    fn now() -> f64;
}

/// A JSON array of strings: owned ones, or borrowed (a note's fields are written from where they
/// are, not moved into an array that is then dropped).
fn json_list<S: AsRef<str>>(items: &[S]) -> String {
    let mut out = vec![b'['];
    for s in items {
        if out.len() > 1 {
            out.push(b',');
        }
        crate::protocol::json::write_str(&mut out, s.as_ref());
    }
    out.push(b']');
    String::from_utf8(out).unwrap_or_default()
}

/// A core `ConfigError`: api.js turns the Rust field names in its message into the JavaScript
/// option names (`str::replace` here would pull ~6 KB of string searching and panic formatting
/// into the wasm).
fn config_error(e: &crate::core::ConfigError) -> JsValue {
    config_error_js(&e.message())
}

/// The package version, so an application can log which build it runs.
#[wasm_bindgen(unchecked_return_type = "string")]
pub fn version() -> JsValue {
    // A JavaScript string made from the static text: returning a String cost a copy in wasm
    // memory and glue to read and free it.
    JsValue::from_str(env!("CARGO_PKG_VERSION"))
}

/// Creates a client: checks the options, then the JavaScript side opens the durable queue and
/// joins the tabs of this origin. Resolves to the `Client`.
#[wasm_bindgen(js_name = createClient)]
pub fn create_client(options: JsValue) -> Result<JsValue, JsValue> {
    let o = parse_options(&options)?;
    // A float-to-integer `as` saturates: -1 (not given) becomes 0, the default these want.
    let protocol = match o.number(10) as u8 {
        1 => Protocol::AmplitudeHttpV2,
        2 => Protocol::AmplitudeBatch,
        _ => Protocol::V1Batch,
    };
    let write_key = o.write_key();
    let mut c = Config::new(protocol, write_key.as_str());
    // Same order as NUMBERS in api.js; -1 keeps the core's default. One call site and a match:
    // arrays of (index, &mut field) pairs were built in memory.
    let mut base_given = false;
    for i in 0..10 {
        let v = o.number(i);
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
            _ => c.quota_probe_ms = ms,
        }
    }
    // Only backoffMaxMs given, below the default base: the caller wants short waits, not an error.
    if !base_given && c.backoff_max_ms < c.backoff_base_ms {
        c.backoff_base_ms = c.backoff_max_ms;
    }
    c.seed = (o.number(12) as u64) << 32 | o.number(13) as u64;
    let pipeline = Pipeline::new(c).map_err(|e| config_error(&e))?;
    let max = pipeline.config().max_batch_bytes as f64;
    let mut list = Vec::new();
    // Borrowed and cloned: a consuming loop over the Vec cost more than copying two strings.
    for (k, v) in &pipeline.headers() {
        list.push(k.to_string());
        list.push(v.clone());
    }
    let headers = json_list(&list);
    let client = Client::new(&o, &headers);
    let io = JsIo {
        client: client.clone().unchecked_into(),
    };
    let driver = Driver::new(pipeline, io, o.number(11) == 1.0);
    Ok(client.start(WebClient { driver }, max))
}

/// The driver's IO, carried out by the JavaScript `Client`.
pub struct JsIo {
    client: Client,
}

impl Io for JsIo {
    type Waiter = u32;
    fn now(&self) -> Millis {
        now() as Millis
    }
    fn send(&mut self, id: u64, path: &str, body: &[u8], keepalive: bool) {
        self.client.send(id as f64, path, body, keepalive);
    }
    fn arm(&mut self, delay_ms: Option<Millis>) {
        self.client.arm(delay_ms.map_or(-1.0, |ms| ms as f64));
    }
    fn schedule(&mut self) {
        self.client.schedule();
    }
    fn put(&mut self, key: &str, value: &[u8], share: bool) {
        self.client.put(key, value, share);
    }
    fn delete(&mut self, key: &str) {
        self.client.del(key);
    }
    fn settled(&mut self, delivered: &[String], failed: &[String]) {
        self.client
            .settled(&json_list(delivered), &json_list(failed));
    }
    fn ask_flush(&mut self) {
        self.client.ask_flush();
    }
    fn emit(&mut self, note: Note) {
        let (kind, text, until) = match &note {
            Note::Delivered(ids) => (0, json_list(ids), 0),
            Note::Failed(id, code, reason) => (1, json_list(&[id.as_str(), code, reason]), 0),
            Note::RateLimited(until) => (2, json_list::<&str>(&[]), *until),
            Note::QuotaHeld(until) => (3, json_list::<&str>(&[]), *until),
            Note::Warning(code, message, None) => (4, json_list(&[*code, message]), 0),
            Note::Warning(code, message, Some(id)) => (4, json_list(&[*code, message, id]), 0),
        };
        self.client.emit(kind, &text, until as f64);
    }
    fn resolve(&mut self, waiter: u32) {
        // Resolving a promise only queues its reactions: nothing re-enters the driver here.
        self.client.resolve(waiter);
    }
    fn release(&mut self) {
        self.client.release();
    }
    fn hold(&mut self, message_ids: &[String], until: Millis) {
        let ids = json_list(message_ids);
        self.client.hold(&ids, until as f64);
    }
}

/// The driver as the JavaScript `Client` sees it. Not part of the public API. wasm-bindgen
/// checks every call's borrow, so a call that re-entered the driver would throw, not corrupt it;
/// the `Client` never does (listeners run in microtasks).
#[wasm_bindgen]
pub struct WebClient {
    driver: Driver<JsIo>,
}

/// `Some(text)` for a non-empty `text`: "" stands for an absent string at this boundary.
fn given(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

const SHUT: &str = "E_SHUTDOWN\0the client was shut down";

#[wasm_bindgen]
impl WebClient {
    /// Queues one event. `fields` is name, payload, context, userId, anonymousId, groupId,
    /// previousId and messageId, joined by U+0000 ("" = absent): one string to copy into the
    /// wasm instead of eight. api.js refuses a U+0000 inside a name or an id; the payload
    /// (properties of track, page and screen, traits of identify and group) and context are
    /// JSON text, which never holds a raw one. `timestamp` < 0: none given. Returns
    /// "CODE\0message" when the event is refused, else undefined: made a JavaScript value here,
    /// as an `Option<String>` cost glue to read it out of wasm memory and free it.
    #[wasm_bindgen(unchecked_return_type = "string | undefined")]
    pub fn enqueue(&mut self, kind: u8, fields: &str, timestamp: f64) -> JsValue {
        if self.driver.is_closing() {
            return JsValue::from_str(SHUT);
        }
        let kind = EventKind::ALL
            .get(usize::from(kind))
            .copied()
            .unwrap_or_default();
        let mut rest = fields;
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
            timestamp: (timestamp >= 0.0).then_some(timestamp as Millis),
            properties,
            traits,
            context,
        };
        let Err(e) = self.driver.enqueue(input) else {
            return JsValue::UNDEFINED;
        };
        let mut text = String::from(e.code());
        text += "\0"; // not push(char): its UTF-8 encoding is code
        text.push_str(&e.message());
        JsValue::from_str(&text)
    }

    /// Every driver input that carries at most one number, numbered as in api.js (DRIVE, TIMER,
    /// ...): one export instead of thirteen, each of which costs glue and a shim.
    /// - 0..=7: drive, timer, hidden, leave, lead, loaded, leader changed, flush now;
    /// - 8: the store failed: 1 the first time (the caller warns once), else 0;
    /// - 9, 10: `flush()` / `shutdown()` resolving waiter `arg`; a flush answers 0 once the
    ///   client is shut down, else 1;
    /// - 11: request `arg` got no HTTP response;
    /// - 16 + i: `stats()[i]` (see `Driver::stats`).
    pub fn on(&mut self, input: u8, arg: f64) -> f64 {
        let d = &mut self.driver;
        match input {
            0 => d.drive(),
            1 => d.timer(),
            2 => d.hidden(),
            3 => d.leave(),
            4 => d.lead(),
            5 => d.loaded(),
            6 => d.leader_changed(),
            7 => d.flush_now(),
            8 => return f64::from(u8::from(d.store_failed())),
            9 if d.is_closing() => return 0.0,
            9 => d.flush(arg as u32),
            10 => d.shutdown(arg as u32),
            11 => d.failure(arg as u64),
            _ => {
                let i = usize::from(input.wrapping_sub(16));
                return d.stats().get(i).copied().unwrap_or_default();
            }
        }
        1.0
    }

    // Strings the driver keeps are taken by value: the glue copies them into wasm memory either
    // way, and owning that copy saves copying it again (and freeing the first).
    pub fn restore(&mut self, key: String, value: &[u8], from_store: bool) {
        self.driver.restore(key, value, from_store);
    }

    /// The leader settled `message_id`: delivered (`code` ""), or failed with `code` and `reason`.
    pub fn settled(&mut self, message_id: String, code: String, reason: String) {
        self.driver.settled(message_id, code, reason);
    }

    /// `retry_after` "" when the response had none (or it was not readable).
    pub fn response(&mut self, id: f64, status: u16, retry_after: String, body: String) {
        let retry_after = (!retry_after.is_empty()).then_some(retry_after);
        self.driver
            .response(id as u64, status, retry_after, body.into_bytes());
    }
}
