// The network and the clock: one POST, one timer.
import { values, write } from "./store.js";

// POST; resolves to [status, Retry-After (as seconds) or null, body text], or to the Error when no
// complete HTTP response came within `timeout` ms (offline, DNS, CORS, a keepalive body over the
// browser's 64 KiB quota, a server that never finishes its answer).
// Redirects are not followed: a followed 302 or 303 would repeat the POST as a GET. The browser
// hides a redirect's status and Location from the page (an "opaqueredirect" response, status 0),
// so it is given to the engine as a 302 without Location: a transient failure, W_REDIRECT.
export async function post(url, headers, body, keepalive, timeout) {
  const abort = new AbortController();
  // setTimeout fires at once above 2^31-1 ms: a longer timeout is cut to that (24.8 days).
  const timer = setTimeout(() => abort.abort(), Math.min(timeout, 2147483647));
  try {
    const r = await fetch(url, { method: "POST", headers, body, keepalive, redirect: "manual", signal: abort.signal });
    let wait = r.headers.get("retry-after")?.trim();
    // An HTTP-date in the future becomes the whole seconds left until it (rounded up, so never
    // early), read by the platform's Date.parse: the package's wasm reads only seconds (Cargo
    // feature http-date). Anything else that is not delay-seconds ("-5", "1.5", a date in the
    // past, junk) goes as it came, and the engine ignores it: its own backoff applies.
    // IMF-fixdate and RFC 850 dates end in GMT; the third HTTP-date form, asctime ("Sun Nov  6
    // 08:49:37 1994"), is GMT without saying so, and Date.parse would read it as local time.
    const date = /GMT$/.test(wait) ? wait : /^\w{3} \w{3} [ \d]\d [\d:]{8} \d{4}$/.test(wait) && wait + " GMT";
    if (date) {
      const left = Math.ceil((Date.parse(date) - Date.now()) / 1000);
      if (left > 0) wait = String(left);
    }
    return [r.status || 302, wait, await r.text()];
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  } finally {
    clearTimeout(timer);
  }
}

// In a page, a request that need not outlive it goes from a dedicated worker made of post()'s own
// text: there `fetch` costs the page nothing, where on the page it costs about 0.5-3 ms of main
// thread per call in Chromium, whatever the body. Starting a worker costs the page 3-7 ms, two or
// three requests' worth (`node bench/worker-start.mjs`), so a page makes its first two requests
// itself and the third starts the worker, then waits for it to say that it runs (at most 1 s: in a
// burst, the requests behind it would otherwise all go from the page while it starts): a page
// that sends little never starts one, and one that sends more stops paying per request. Where it
// cannot run (a CSP without `worker-src blob:`, no Worker as in Node or workerd), every request
// stays on the page. Also kept on the page: a keepalive request (the page is being left, and a
// worker ends with it), and every request while `fetch` is not the browser's own (a stand-in or
// an instrumentation the page installed, which means to see them). Each answer comes back on a
// channel of its own, as post() gave it, but for an Error, which comes back as its text (the client
// needs only know that no answer came, `debug` shows why, and not every browser can clone an
// Error). The body must be a Uint8Array of its own buffer (the client's copy of wasm memory): the
// buffer is handed over, not copied, which takes the call from 0.17 to 0.03 ms for 100 events
// (`node bench/post-message.mjs`; a request number in place of the channel saves 0.005 ms more,
// for 15 B).
let worker, ready, up, made = 0;
const ask = (a, t) =>
  new Promise((ok) => {
    const c = new MessageChannel();
    // Closed once answered: an entangled port with a listener is never collected.
    c.port1.onmessage = (e) => ok(e.data, c.port1.close());
    worker.postMessage(a, [c.port2, t]);
  });
export const request = (...a) =>
  a[3] || (++made > 2 && (worker ??= start()), !/\[native code]/.test(fetch)) ? post(...a)
    : ready ? ask(a, a[2].buffer)
    : up ? up.then(() => request(...a))
    : post(...a);
// The store's batches (store.js) go from the worker too once it runs: database `n`, batch (w, rm,
// buf), `buf` handed over as a copy. Resolves to write()'s answer (the error as [message, name]);
// false (nothing sent) while no worker runs.
export const toWorker = (n, w, rm, buf) => ready && ask({ n, w, rm, buf: (buf = buf.slice()) }, buf.buffer);
// While the worker starts, the promise that it runs or is given up on, within 1 s (else
// undefined); `now`: start it now.
export const starting = (now) => (now && (worker ??= start()), !ready && up);
const start = () => {
  try {
    const w = new Worker(URL.createObjectURL(new Blob([`(${serve})(${post},${write},${values})`])));
    // Resolves once it runs, or on its error (a CSP that forbids it) or after 1 s, when what
    // waits for it stops waiting (`up` 0): it is used from when it says that it runs, if ever.
    up = new Promise((ok) => {
      w.onmessage = () => ok((ready = 1));
      w.onerror = () => ok((up = 0));
      setTimeout(w.onerror, 1000);
    });
    return w;
  } catch {
    return 0;
  }
};

// The worker's text: this function's, given post(), write() and values() by theirs. It says that it runs,
// then answers each request, and writes each batch into its database (opened once by name, with
// no version: the page created it), its answer [error as [message, name] or 0, records deleted].
function serve(post, write, values) {
  const dbs = {};
  onmessage = async ({ data: a, ports: [p] }) =>
    p.postMessage(
      a.pop
        ? (a = await post(...a)).pop ? a : "" + a
        : await new Promise((ok) =>
            (dbs[a.n] ??= new Promise((got) => {
              const o = indexedDB.open(a.n);
              o.onsuccess = () => got(((o.result.onversionchange = () => o.result.close()), o.result));
              // Unopened: each batch fails with the reason.
              o.onerror = () => got({ transaction() { throw o.error; } });
            })).then((db) => write(db, a.w, a.rm, a.buf, (e, gone) => ok([e && [e.message, e.name], gone]), values))),
    );
  postMessage(0);
}

// One timer, re-armed in place. setTimeout fires at once above 2^31-1 ms, so longer waits are
// clamped (they fire early, and the driver re-arms). In Node it is unref'd: a flush or backoff
// timer alone does not keep the process alive (the Node entry flushes at exit instead).
export class Timer {
  #id;
  #fire;
  constructor(fire) {
    this.#fire = fire;
  }
  arm(ms) {
    clearTimeout(this.#id);
    this.#id = ms == null ? undefined : setTimeout(this.#fire, Math.min(ms, 2147483647));
    this.#id?.unref?.();
  }
}
