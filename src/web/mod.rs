//! The browser driver: the state machine between the sans-IO core and the JavaScript half of the
//! bindings (`src/web/index.js`, the module's boundary, and `src/web/js/`, the client and its IO).
//! `abi` numbers what crosses between them, once.
//!
//! The split is by kind of work. Rust decides: when to send, what to store and delete, who leads,
//! what the application hears, when a `flush()` is done. JavaScript does the IO, each piece a few
//! lines over the global `fetch`, `setTimeout`, `indexedDB`, `navigator.locks` and
//! `BroadcastChannel` (never `window.*`, so pages, workers and workerd share one code path), and
//! reports results back. No futures, closures or shared ownership cross the boundary, which is
//! what keeps this layer small; and the driver compiles natively, so its decisions are tested with
//! `cargo test`.

pub mod abi;
pub mod driver;
pub mod records;
