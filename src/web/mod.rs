//! Browser and worker bindings: the IO a driver gives the sans-IO core.
//!
//! Each module wraps exactly the globals it uses, bound by hand (`#[wasm_bindgen] extern "C"`)
//! instead of through web-sys, which keeps the wasm small and lets one code path run in a page, a
//! worker and workerd: `setTimeout`, `fetch` and the rest are looked up on the global object, never
//! on `window`. Every raw binding is `catch`, so a throwing JS call becomes a `Result` with a
//! [`error::JsError`] and never kills the module.

pub mod driver;
pub mod error;
pub mod fetch;
pub mod page;
pub mod store;
pub mod timer;
