//! The raw wasm boundary `worker/engine.js` calls: no imports, no bindings generator.
//!
//! - JavaScript to Rust: engine.js gets a block with `bw_alloc(capacity)`, writes into it and
//!   passes (pointer, length, capacity); the export takes ownership of it.
//! - Rust to JavaScript: each export that answers leaves JSON text in the output buffer
//!   (`bw_out_ptr`, `bw_out_len`), read before the next call. Bytes (a part, a request body, a
//!   storage value) are not put into the JSON: it names them `[pointer, length]` in blocks kept
//!   until the next call, which engine.js copies out once.
//! - Configurations and shards are handles: indexes into tables here, never reused (-1:
//!   refused, the reason in the output).

use std::cell::RefCell;
use std::collections::BTreeMap;

use batchwire::core::Millis;
use serde_json::{json, Value};

use crate::config::EdgeConfig;
use crate::front::{ingest, Form};
use crate::shard::{Shard, Writes};

#[derive(Default)]
struct State {
    configs: Vec<Option<EdgeConfig>>,
    shards: Vec<Option<Shard>>,
    out: Vec<u8>,
    blobs: Vec<Vec<u8>>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(|s| f(&mut s.borrow_mut()))
}

/// A new handle. Slots are never reused (a released one stays `None`, a few bytes), so a stale
/// handle can only find nothing, never another object.
fn slot<T>(table: &mut Vec<Option<T>>, value: T) -> i32 {
    table.push(Some(value));
    table.len() as i32 - 1
}

impl State {
    fn answer(&mut self, v: &Value) {
        self.out = serde_json::to_vec(v).unwrap_or_default();
    }
    /// Keeps `bytes` until the next call and names them for the JSON.
    fn blob(&mut self, bytes: Vec<u8>) -> Value {
        let v = json!([bytes.as_ptr() as usize, bytes.len()]);
        self.blobs.push(bytes);
        v
    }
    fn writes(&mut self, w: Writes) -> (Value, Value) {
        let puts: Vec<Value> = w
            .puts
            .into_iter()
            .map(|(k, v)| json!([k, self.blob(v)]))
            .collect();
        (Value::from(puts), Value::from(w.deletes))
    }
    fn shard(&mut self, h: u32) -> Option<&mut Shard> {
        self.shards.get_mut(h as usize).and_then(Option::as_mut)
    }
}

/// # Safety
/// (p, n, capacity) came from `bw_alloc(capacity)` with `n` bytes written.
unsafe fn take(p: *mut u8, n: usize, capacity: usize) -> Vec<u8> {
    if capacity == 0 {
        return Vec::new();
    }
    Vec::from_raw_parts(p, n, capacity)
}

unsafe fn take_string(p: *mut u8, n: usize, capacity: usize) -> String {
    let v = take(p, n, capacity);
    String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn ms(now: f64) -> Millis {
    now as Millis
}

#[no_mangle]
pub extern "C" fn bw_alloc(capacity: usize) -> *mut u8 {
    let mut v = Vec::<u8>::with_capacity(capacity);
    let p = v.as_mut_ptr();
    std::mem::forget(v);
    p
}

/// # Safety
/// `p` came from `bw_alloc(capacity)` and was passed nowhere.
#[no_mangle]
pub unsafe extern "C" fn bw_free(p: *mut u8, capacity: usize) {
    drop(take(p, 0, capacity));
}

#[no_mangle]
pub extern "C" fn bw_out_ptr() -> *const u8 {
    with(|s| s.out.as_ptr())
}

#[no_mangle]
pub extern "C" fn bw_out_len() -> usize {
    with(|s| s.out.len())
}

/// Frees the blocks of the previous answer (engine.js calls it once it has copied them).
#[no_mangle]
pub extern "C" fn bw_release() {
    with(|s| {
        s.blobs.clear();
        s.out = Vec::new();
    });
}

/// `{"config": text | null, "env": {name: value}}` → a configuration handle, its summary in the
/// output; or -1 with `{"field", "message"}`.
///
/// # Safety
/// As `take`.
#[no_mangle]
pub unsafe extern "C" fn bw_configure(p: *mut u8, n: usize, capacity: usize) -> i32 {
    let input = take(p, n, capacity);
    with(|s| {
        s.blobs.clear();
        let parsed: Value = serde_json::from_slice(&input).unwrap_or(Value::Null);
        let text = parsed["config"].as_str();
        let env: BTreeMap<String, String> = parsed["env"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        match EdgeConfig::load(text, &env) {
            Ok(c) => {
                let summary = json!({
                    "shards": c.shards,
                    "maxBodyBytes": c.max_body_bytes,
                    "cors": c.cors,
                    "perIp": {"requests": c.per_ip_requests, "windowMs": c.per_ip_window_ms},
                    "adminKey": c.admin_key,
                    "destinations": c.destinations.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
                    "requestTimeoutMs": c.destinations.iter().map(|d| d.config.request_timeout_ms).max(),
                });
                s.answer(&summary);
                slot(&mut s.configs, c)
            }
            Err(e) => {
                s.answer(&json!({"field": e.field, "message": e.message}));
                -1
            }
        }
    })
}

#[no_mangle]
pub extern "C" fn bw_config_free(h: u32) {
    with(|s| {
        if let Some(c) = s.configs.get_mut(h as usize) {
            *c = None;
        }
    })
}

/// The front: `form` 0 is a /v1-batch body, 1 a webhook's. Returns the status; the output is
/// `{"body": text, "parts": [[shard, blob]]}`.
///
/// # Safety
/// As `take`, for the key and the body.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn bw_ingest(
    cfg: u32,
    key_p: *mut u8,
    key_n: usize,
    key_cap: usize,
    form: u32,
    body_p: *mut u8,
    body_n: usize,
    body_cap: usize,
    now: f64,
) -> i32 {
    let key = take(key_p, key_n, key_cap);
    let body = take(body_p, body_n, body_cap);
    with(|s| {
        s.blobs.clear();
        let Some(Some(c)) = s.configs.get(cfg as usize) else {
            s.answer(&json!({"error": "this configuration was released"}));
            return -1;
        };
        let form = if form == 1 {
            Form::Webhook
        } else {
            Form::Batch
        };
        let r = ingest(c, &key, form, &body, ms(now));
        drop(body);
        let parts: Vec<Value> = r
            .parts
            .into_iter()
            .map(|p| json!([p.shard, s.blob(p.events)]))
            .collect();
        s.answer(&json!({"body": r.body, "parts": parts}));
        i32::from(r.status)
    })
}

/// The shard named `name` (`destination#n`) of configuration `cfg`, or -1 with the reason.
///
/// # Safety
/// As `take`.
#[no_mangle]
pub unsafe extern "C" fn bw_shard_new(
    cfg: u32,
    name_p: *mut u8,
    name_n: usize,
    name_cap: usize,
    seed: f64,
) -> i32 {
    let name = take_string(name_p, name_n, name_cap);
    with(|s| {
        s.blobs.clear();
        let dest = match s.configs.get(cfg as usize) {
            Some(Some(c)) => c.destination_of_shard(&name).cloned(),
            _ => {
                s.answer(&json!({"error": "this configuration was released"}));
                return -1;
            }
        };
        let Some(dest) = dest else {
            let e = format!("{name:?} names no shard of this configuration (destination#n)");
            s.answer(&json!({ "error": e }));
            return -1;
        };
        match Shard::new(&dest, seed as u64) {
            Ok(sh) => slot(&mut s.shards, sh),
            Err(e) => {
                s.answer(&json!({ "error": e }));
                -1
            }
        }
    })
}

#[no_mangle]
pub extern "C" fn bw_shard_free(h: u32) {
    with(|s| {
        if let Some(sh) = s.shards.get_mut(h as usize) {
            *sh = None;
        }
    })
}

/// Returns 0, or -1 for an unknown shard.
///
/// # Safety
/// As `take`, for the key and the value.
#[no_mangle]
pub unsafe extern "C" fn bw_shard_restore(
    h: u32,
    key_p: *mut u8,
    key_n: usize,
    key_cap: usize,
    val_p: *mut u8,
    val_n: usize,
    val_cap: usize,
    now: f64,
) -> i32 {
    let key = take_string(key_p, key_n, key_cap);
    let value = take(val_p, val_n, val_cap);
    with(|s| match s.shard(h) {
        Some(sh) => {
            sh.restore(&key, &value, ms(now));
            0
        }
        None => -1,
    })
}

/// `{"puts": [[key, blob]]}`, or -1 with `{"error"}`.
///
/// # Safety
/// As `take`.
#[no_mangle]
pub unsafe extern "C" fn bw_shard_append(
    h: u32,
    p: *mut u8,
    n: usize,
    capacity: usize,
    now: f64,
) -> i32 {
    let part = take(p, n, capacity);
    with(|s| {
        s.blobs.clear();
        let r = match s.shard(h) {
            Some(sh) => sh.append(&part, ms(now)),
            None => Err("unknown shard".into()),
        };
        drop(part);
        match r {
            Ok(w) => {
                let (puts, _) = s.writes(w);
                s.answer(&json!({ "puts": puts }));
                0
            }
            Err(e) => {
                s.answer(&json!({ "error": e }));
                -1
            }
        }
    })
}

/// `{"sends": [{id, url, headers, body: blob}], "puts", "deletes", "alarm", "log"}`.
#[no_mangle]
pub extern "C" fn bw_shard_poll(h: u32, now: f64) -> i32 {
    with(|s| {
        s.blobs.clear();
        let Some(sh) = s.shard(h) else {
            s.answer(&json!({"error": "unknown shard"}));
            return -1;
        };
        let step = sh.poll(ms(now));
        let sends: Vec<Value> = step
            .sends
            .into_iter()
            .map(|t| {
                let headers: serde_json::Map<String, Value> = t
                    .headers
                    .into_iter()
                    .map(|(k, v)| (k, Value::from(v)))
                    .collect();
                json!({"id": t.id, "url": t.url, "headers": headers, "body": s.blob(t.body), "timeoutMs": t.timeout_ms})
            })
            .collect();
        let (puts, deletes) = s.writes(step.writes);
        s.answer(&json!({
            "sends": sends, "puts": puts, "deletes": deletes, "alarm": step.alarm, "log": step.log,
        }));
        0
    })
}

/// The answer to send `id`. `ra_n` / `loc_n` < 0: header absent.
///
/// # Safety
/// As `take`, for each given block.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn bw_shard_response(
    h: u32,
    id: f64,
    status: u32,
    ra_p: *mut u8,
    ra_n: i32,
    ra_cap: usize,
    loc_p: *mut u8,
    loc_n: i32,
    loc_cap: usize,
    body_p: *mut u8,
    body_n: usize,
    body_cap: usize,
    now: f64,
) -> i32 {
    let header = |p, n: i32, cap| (n >= 0).then(|| take_string(p, n as usize, cap));
    let retry_after = header(ra_p, ra_n, ra_cap);
    let location = header(loc_p, loc_n, loc_cap);
    let body = take(body_p, body_n, body_cap);
    let status = u16::try_from(status).unwrap_or(0);
    with(|s| match s.shard(h) {
        Some(sh) => {
            sh.response(id as u64, status, retry_after, location, body, ms(now));
            0
        }
        None => -1,
    })
}

#[no_mangle]
pub extern "C" fn bw_shard_failure(h: u32, id: f64, now: f64) -> i32 {
    with(|s| match s.shard(h) {
        Some(sh) => {
            sh.failure(id as u64, ms(now));
            0
        }
        None => -1,
    })
}

#[no_mangle]
pub extern "C" fn bw_shard_timeout(h: u32, now: f64) -> i32 {
    with(|s| match s.shard(h) {
        Some(sh) => {
            sh.timeout(ms(now));
            0
        }
        None => -1,
    })
}

#[no_mangle]
pub extern "C" fn bw_shard_stats(h: u32) -> i32 {
    with(|s| {
        s.blobs.clear();
        let stats = match s.shard(h) {
            Some(sh) => sh.stats(),
            None => return -1,
        };
        s.answer(&stats);
        0
    })
}

/// `{"puts", "deletes"}`, or -1 with `{"error"}`.
///
/// # Safety
/// As `take`, for the key and the value.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn bw_shard_replay(
    h: u32,
    key_p: *mut u8,
    key_n: usize,
    key_cap: usize,
    val_p: *mut u8,
    val_n: usize,
    val_cap: usize,
    now: f64,
) -> i32 {
    let key = take_string(key_p, key_n, key_cap);
    let value = take(val_p, val_n, val_cap);
    with(|s| {
        s.blobs.clear();
        let r = match s.shard(h) {
            Some(sh) => sh.replay(&key, &value, ms(now)),
            None => Err("unknown shard".into()),
        };
        match r {
            Ok(w) => {
                let (puts, deletes) = s.writes(w);
                s.answer(&json!({"puts": puts, "deletes": deletes}));
                0
            }
            Err(e) => {
                s.answer(&json!({ "error": e }));
                -1
            }
        }
    })
}
