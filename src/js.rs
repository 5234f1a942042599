//! The JavaScript surface: `createClient`, the error type, and `WebClient`, the handle through
//! which the JavaScript `Client` (src/web/api.js) reaches the driver. Argument checking and
//! JSON encoding happen in api.js; this file turns checked values into core calls and core
//! errors into `BatchwireError`s with stable codes.

use wasm_bindgen::prelude::*;

use crate::core::{Config, EventInput, EventKind, Pipeline, Protocol};
use crate::web::driver::{self, Client, Shared};

#[wasm_bindgen(module = "/src/web/api.js")]
extern "C" {
    /// Re-exported so `import { BatchwireError } from "batchwire"` is the class we throw.
    #[wasm_bindgen(reexport)]
    type BatchwireError;
    #[wasm_bindgen(constructor)]
    fn new(code: &str, message: &str) -> BatchwireError;

    #[wasm_bindgen(constructor, js_class = "Client")]
    fn new_client(driver: WebClient, max_bytes: f64, anonymous_id: &str, debug: bool) -> Client;

    /// The plain object `parseOptions` returns: every field present and of the right type.
    type Options;
    #[wasm_bindgen(js_name = parseOptions, catch)]
    fn parse_options(options: &JsValue) -> Result<Options, JsValue>;
    #[wasm_bindgen(method, getter, js_name = writeKey)]
    fn write_key(this: &Options) -> String;
    #[wasm_bindgen(method, getter, js_name = apiHost)]
    fn api_host(this: &Options) -> String;
    #[wasm_bindgen(method, getter)]
    fn protocol(this: &Options) -> u8;
    #[wasm_bindgen(method, getter)]
    fn durable(this: &Options) -> bool;
    #[wasm_bindgen(method, getter, js_name = anonymousId)]
    fn anonymous_id(this: &Options) -> String;
    #[wasm_bindgen(method, getter)]
    fn debug(this: &Options) -> bool;
    #[wasm_bindgen(method, getter)]
    fn numbers(this: &Options) -> Vec<f64>;
    #[wasm_bindgen(method, getter, js_name = seedHi)]
    fn seed_hi(this: &Options) -> u32;
    #[wasm_bindgen(method, getter, js_name = seedLo)]
    fn seed_lo(this: &Options) -> u32;
}

fn error(code: &str, message: &str) -> JsValue {
    BatchwireError::new(code, message).into()
}

/// The package version, so an application can log which build it runs.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Creates a client: checks the options, opens the durable queue, joins the tabs of this origin.
#[wasm_bindgen(js_name = createClient)]
pub async fn create_client(options: JsValue) -> Result<JsValue, JsValue> {
    let o = parse_options(&options)?;
    let protocol = match o.protocol() {
        1 => Protocol::AmplitudeHttpV2,
        2 => Protocol::AmplitudeBatch,
        _ => Protocol::V1Batch,
    };
    let write_key = o.write_key();
    let mut c = Config::new(protocol, write_key.as_str());
    // Same order as NUMBERS in api.js; -1 keeps the core's default.
    let n = o.numbers();
    let get = |i: usize| n.get(i).copied().filter(|v| *v >= 0.0);
    let size = |i: usize, field: &mut usize| {
        if let Some(v) = get(i) {
            *field = v as usize;
        }
    };
    size(0, &mut c.flush_at);
    size(2, &mut c.max_batch_bytes);
    size(3, &mut c.max_in_flight);
    size(4, &mut c.max_queue_events);
    size(5, &mut c.max_queue_bytes);
    let ms = |i: usize, field: &mut u64| {
        if let Some(v) = get(i) {
            *field = v as u64;
        }
    };
    ms(1, &mut c.flush_interval_ms);
    ms(6, &mut c.backoff_base_ms);
    ms(7, &mut c.backoff_max_ms);
    ms(8, &mut c.give_up_after_ms);
    ms(9, &mut c.quota_probe_ms);
    // Only backoffMaxMs given, below the default base: the caller wants short waits, not an error.
    if get(6).is_none() && c.backoff_max_ms < c.backoff_base_ms {
        c.backoff_base_ms = c.backoff_max_ms;
    }
    c.seed = (u64::from(o.seed_hi()) << 32) | u64::from(o.seed_lo());
    let pipeline = Pipeline::new(c).map_err(|e| error(e.code(), &e.to_string()))?;
    let max = pipeline.config().max_batch_bytes as f64;
    let shared = driver::start(pipeline, o.api_host(), &write_key, o.durable()).await;
    let handle = WebClient {
        driver: shared.clone(),
    };
    let client = Client::new_client(handle, max, &o.anonymous_id(), o.debug());
    driver::attach(&shared, client.clone());
    Ok(client.into())
}

/// The driver as the JavaScript `Client` sees it. Not part of the public API.
#[wasm_bindgen]
pub struct WebClient {
    driver: Shared,
}

const KINDS: [EventKind; 6] = [
    EventKind::Track,
    EventKind::Identify,
    EventKind::Page,
    EventKind::Screen,
    EventKind::Group,
    EventKind::Alias,
];

#[wasm_bindgen]
impl WebClient {
    /// Queues one event; returns its messageId. `payload` is properties (track, page, screen) or
    /// traits (identify, group), already JSON text.
    #[allow(clippy::too_many_arguments)]
    pub fn enqueue(
        &self,
        kind: u8,
        name: Option<String>,
        payload: Option<String>,
        context: Option<String>,
        user_id: Option<String>,
        anonymous_id: Option<String>,
        group_id: Option<String>,
        previous_id: Option<String>,
        message_id: Option<String>,
        timestamp: Option<f64>,
    ) -> Result<String, JsValue> {
        if driver::is_closing(&self.driver) {
            return Err(error("E_SHUTDOWN", "the client was shut down"));
        }
        let kind = KINDS.get(usize::from(kind)).copied().unwrap_or_default();
        let traits = matches!(kind, EventKind::Identify | EventKind::Group);
        let (properties, traits) = if traits {
            (None, payload)
        } else {
            (payload, None)
        };
        let input = EventInput {
            kind,
            event: name,
            message_id,
            anonymous_id,
            user_id,
            group_id,
            previous_id,
            timestamp: timestamp.map(|t| t as u64),
            properties: if kind == EventKind::Alias {
                None
            } else {
                properties
            },
            traits,
            context,
        };
        driver::enqueue(&self.driver, input).map_err(|e| error(e.code(), &e.to_string()))
    }

    pub fn flush(&self) -> js_sys::Promise {
        driver::flush(&self.driver)
    }

    pub fn stats(&self) -> Vec<f64> {
        driver::stats(&self.driver)
    }

    pub fn shutdown(&self) -> js_sys::Promise {
        driver::shutdown(&self.driver)
    }
}
