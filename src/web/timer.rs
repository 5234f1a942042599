//! One-shot timers on the global `setTimeout`, which exists in pages, workers and workerd alike
//! (`window.setTimeout` would not).

use wasm_bindgen::prelude::*;

use super::error::JsError;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout, catch)]
    fn set_timeout(callback: &Closure<dyn FnMut()>, ms: f64) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = clearTimeout, catch)]
    fn clear_timeout(id: &JsValue) -> Result<(), JsValue>;
}

/// The longest delay `setTimeout` honours: anything above 2^31-1 ms fires at once, which would
/// turn a month-long quota hold into a busy loop. Longer waits are re-armed when this one fires.
pub const MAX_DELAY_MS: u64 = 0x7fff_ffff;

/// A pending callback. The timer lives exactly as long as this handle.
#[must_use = "dropping a Timeout cancels it"]
pub struct Timeout {
    id: JsValue,
    // Owned so the JS function stays callable until the timer fires or is cancelled.
    _callback: Closure<dyn FnMut()>,
}

impl Timeout {
    /// Calls `f` once after `ms` milliseconds (clamped to [`MAX_DELAY_MS`]).
    pub fn new(ms: u64, f: impl FnOnce() + 'static) -> Result<Timeout, JsError> {
        let mut f = Some(f);
        let callback = Closure::<dyn FnMut()>::new(move || {
            if let Some(f) = f.take() {
                f();
            }
        });
        let id = set_timeout(&callback, ms.min(MAX_DELAY_MS) as f64)?;
        Ok(Timeout {
            id,
            _callback: callback,
        })
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        // Clearing a timer that already fired is a no-op, so this is always safe. Should it ever
        // fail, the late call reaches a dropped closure, which wasm-bindgen reports as an error in
        // the console; the module itself is unaffected.
        let _ = clear_timeout(&self.id);
    }
}
