//! batchwire: reliable, small analytics event delivery.
//!
//! The crate has four layers, each importing only those below it:
//! - [`base`]: the ground floor, importing nothing of the crate: JSON scanning, reading and
//!   writing, decimal numbers, messages without `core::fmt`, ISO 8601 and `Retry-After`.
//! - [`protocol`]: the wire contracts (`/v1-batch`, Amplitude HTTP V2, Amplitude Batch; see
//!   `docs/PROTOCOLS.md`), a leaf over `base`: how an event is encoded, how a response is
//!   classified, the limits, and each protocol's own admission rules.
//! - [`core`]: the deterministic, sans-IO delivery engine over `protocol` (no clock, no RNG, no
//!   IO). Time and a seed are inputs; requests to send and things to tell the application are
//!   outputs.
//! - [`web`] and `js`: the thin driver that gives the engine a clock, timers, `fetch`, IndexedDB
//!   and the JavaScript API (`web::driver` decides and compiles everywhere; `js` is wasm32 only).

#![cfg_attr(all(target_arch = "wasm32", not(feature = "std")), no_std)]

extern crate alloc;

/// What std's prelude gives, for the `no_std` build of the npm package.
mod prelude {
    pub use alloc::boxed::Box;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec;
    pub use alloc::vec::Vec;
}

pub mod base;
pub mod core;
pub mod protocol;

pub mod web;

// The npm package's JavaScript boundary and its allocator; left out where the crate is linked into
// another wasm module with exports of its own (the edge Worker's: feature `embedded`).
#[cfg(all(target_arch = "wasm32", not(feature = "embedded")))]
pub mod js;

#[cfg(all(target_arch = "wasm32", not(feature = "embedded")))]
mod wasm_rt;
