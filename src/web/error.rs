//! JavaScript exceptions as owned Rust data.
//!
//! A caught `JsValue` is turned into a [`JsError`] at the binding that caught it, so nothing above
//! the raw bindings holds a JS value it might misread. `name` is kept because the driver branches
//! on it: `QuotaExceededError` and `InvalidStateError` from IndexedDB mean "fall back to memory",
//! `TypeError` from `fetch` is a network failure, `AbortError` an abort.

use js_sys::Reflect;
use wasm_bindgen::JsValue;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsError {
    /// `Error.prototype.name` of the thrown value (`TypeError`, `QuotaExceededError`, ...), or
    /// `"Error"` when a non-error was thrown.
    pub name: String,
    pub message: String,
}

impl JsError {
    /// An error raised by this crate itself, shaped like a caught one.
    pub fn new(name: &str, message: &str) -> Self {
        JsError {
            name: name.into(),
            message: message.into(),
        }
    }

    /// Reads `name` and `message` without trusting the value: a thrown string, `undefined`, a
    /// Proxy whose getters throw, or a frozen object all give a usable error.
    pub fn from_js(value: &JsValue) -> Self {
        if let Some(s) = value.as_string() {
            return JsError::new("Error", &s);
        }
        let field = |key: &str| {
            if !value.is_object() {
                return None;
            }
            Reflect::get(value, &JsValue::from_str(key))
                .ok()
                .and_then(|v| v.as_string())
        };
        JsError {
            name: field("name").unwrap_or_else(|| "Error".into()),
            message: field("message").unwrap_or_else(|| "a non-Error value was thrown".into()),
        }
    }

    /// "name: message", for reasons shown to the application.
    pub fn describe(&self) -> String {
        [self.name.as_str(), ": ", self.message.as_str()].concat()
    }
}

impl From<JsValue> for JsError {
    fn from(value: JsValue) -> Self {
        JsError::from_js(&value)
    }
}
