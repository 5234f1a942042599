//! What a page offers the driver besides IO: the Web Lock that elects the one tab that sends, the
//! BroadcastChannel the tabs talk over, and the hooks that fire when the page is hidden or left.
//! Each is a handle that undoes itself on drop.

use js_sys::Function;
use wasm_bindgen::prelude::*;

use super::error::JsError;

#[wasm_bindgen(module = "/src/web/page.js")]
extern "C" {
    #[wasm_bindgen(catch)]
    fn lead(name: &str, granted: &Closure<dyn FnMut()>) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = onHide, catch)]
    fn on_hide(hidden: &Closure<dyn FnMut()>) -> Result<Function, JsValue>;
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = BroadcastChannel)]
    type RawChannel;
    #[wasm_bindgen(constructor, js_class = BroadcastChannel, catch)]
    fn new(name: &str) -> Result<RawChannel, JsValue>;
    #[wasm_bindgen(method, js_class = BroadcastChannel, js_name = postMessage, catch)]
    fn post_message(this: &RawChannel, message: &JsValue) -> Result<(), JsValue>;
    #[wasm_bindgen(method, js_class = BroadcastChannel, setter = onmessage, catch)]
    fn set_onmessage(
        this: &RawChannel,
        f: Option<&Closure<dyn FnMut(MessageEvent)>>,
    ) -> Result<(), JsValue>;
    #[wasm_bindgen(method, js_class = BroadcastChannel, catch)]
    fn close(this: &RawChannel) -> Result<(), JsValue>;

    type MessageEvent;
    #[wasm_bindgen(method, getter, structural, catch)]
    fn data(this: &MessageEvent) -> Result<JsValue, JsValue>;
}

/// This context's claim on a Web Lock: either waiting for it or holding it.
#[must_use = "dropping Leadership releases the lock, or withdraws the request"]
pub struct Leadership {
    stop: Function,
    _granted: Closure<dyn FnMut()>,
}

impl Leadership {
    /// Asks for the lock `name`; `granted` runs once this context holds it (at once if nobody
    /// else does). `None` where Web Locks are unavailable or refused (opaque origins): then
    /// nobody can coordinate with this context, and it must act as its own leader.
    pub fn request(name: &str, granted: impl FnOnce() + 'static) -> Option<Leadership> {
        let mut granted = Some(granted);
        let granted = Closure::<dyn FnMut()>::new(move || {
            if let Some(f) = granted.take() {
                f();
            }
        });
        let stop = lead(name, &granted).ok()?.dyn_into::<Function>().ok()?;
        Some(Leadership {
            stop,
            _granted: granted,
        })
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        let _ = self.stop.call0(&JsValue::UNDEFINED);
    }
}

/// A BroadcastChannel: messages to every other context of this origin that opened the same name
/// (never back to this one).
pub struct Channel {
    raw: RawChannel,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl Channel {
    pub fn open(
        name: &str,
        mut on_message: impl FnMut(JsValue) + 'static,
    ) -> Result<Channel, JsError> {
        let raw = RawChannel::new(name)?;
        let on = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Ok(data) = e.data() {
                on_message(data);
            }
        });
        raw.set_onmessage(Some(&on))?;
        Ok(Channel {
            raw,
            _on_message: on,
        })
    }

    /// Posts a structured-cloneable value.
    pub fn post(&self, message: &JsValue) -> Result<(), JsError> {
        Ok(self.raw.post_message(message)?)
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        let _ = self.raw.set_onmessage(None);
        let _ = self.raw.close();
    }
}

/// Calls back when the page is hidden or left; inert outside a document.
#[must_use = "dropping the hook removes its listeners"]
pub struct HideHook {
    undo: Function,
    _hidden: Closure<dyn FnMut()>,
}

impl HideHook {
    pub fn install(hidden: impl FnMut() + 'static) -> Result<HideHook, JsError> {
        let hidden = Closure::<dyn FnMut()>::new(hidden);
        let undo = on_hide(&hidden)?;
        Ok(HideHook {
            undo,
            _hidden: hidden,
        })
    }
}

impl Drop for HideHook {
    fn drop(&mut self) {
        let _ = self.undo.call0(&JsValue::UNDEFINED);
    }
}
