//! The edge Worker's engine (Cloudflare Workers): the configuration, the front that turns a posted
//! body into per-shard parts, and the shard each Durable Object runs over its storage. Native
//! Rust, tested with a virtual clock; `abi` is the raw wasm boundary that `worker/engine.js`
//! calls (numbers and bytes in this module's memory, JSON text for structured values).

pub mod config;
pub mod front;
pub mod shard;
pub mod stored;

#[cfg(target_arch = "wasm32")]
mod abi;

pub use config::{ConfigError, Destination, EdgeConfig, Source};
pub use front::{ingest, Form, Ingested, Part};
pub use shard::{Send, Shard, Step, Writes};
