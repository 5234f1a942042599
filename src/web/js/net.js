// The network and the clock: one POST, one timer.

// POST; resolves to [status, Retry-After (as seconds) or null, body text], or to the Error when no HTTP
// response came (offline, DNS, CORS, a keepalive body over the browser's 64 KiB quota).
export async function post(url, headers, body, keepalive) {
  try {
    const r = await fetch(url, { method: "POST", headers, body, keepalive });
    let wait = r.headers.get("retry-after");
    // An HTTP-date becomes the whole seconds left until it (rounded up, so never early), read by
    // the platform's Date.parse: the package's wasm reads only seconds (Cargo feature http-date).
    if (wait && /\D/.test(wait.trim())) {
      const at = Date.parse(wait);
      wait = Number.isNaN(at) ? "" : String(Math.max(0, Math.ceil((at - Date.now()) / 1000)));
    }
    return [r.status, wait, await r.text()];
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

// One timer, re-armed in place. setTimeout fires at once above 2^31-1 ms, so longer waits are
// clamped (they fire early, and the driver re-arms).
export class Timer {
  #id;
  #fire;
  constructor(fire) {
    this.#fire = fire;
  }
  arm(ms) {
    clearTimeout(this.#id);
    this.#id = ms == null ? undefined : setTimeout(this.#fire, Math.min(ms, 2147483647));
  }
}
