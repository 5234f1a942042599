//! batchwire: reliable, small analytics event delivery.
//!
//! The crate has three layers:
//! - [`core`]: a deterministic, sans-IO delivery engine (no clock, no RNG, no IO). Time and a seed
//!   are inputs; requests to send and things to tell the application are outputs.
//! - [`protocol`]: the wire contracts (`/v1-batch`, Amplitude HTTP V2, Amplitude Batch): how a batch
//!   is encoded and how a response is classified.
//! - `web` / `edge` / `js`: thin drivers that give the core a clock, timers, `fetch`, IndexedDB and
//!   the JavaScript API (`web::driver` decides and compiles everywhere; `js` is wasm32 only).

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

#[cfg(target_arch = "wasm32")]
pub mod js;

#[cfg(target_arch = "wasm32")]
mod wasm_rt;
