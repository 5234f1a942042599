//! The JavaScript surface.
use wasm_bindgen::prelude::*;

/// The package version, so an application can log which build it runs.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
