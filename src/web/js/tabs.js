// Sharing one queue between the tabs of an origin, and the page's lifecycle.

// Requests the Web Lock `name`; `granted()` runs once this context holds it, and it is held until
// `stop()` is called (or the context goes away). `free` resolves to whether it was free at once,
// so a client knows its role before createClient resolves. Undefined where Web Locks are missing
// or refused (workerd, opaque origins): the caller is then its own leader.
export function lead(name, granted) {
  try {
    const locks = navigator.locks;
    const stop = new AbortController();
    let release;
    const hold = () => {
      granted();
      return new Promise((r) => (release = r));
    };
    const free = new Promise((known) => {
      locks
        .request(name, { ifAvailable: true }, (lock) => {
          if (lock) {
            const held = hold();
            known(true);
            return held;
          }
          known(false);
          locks.request(name, { signal: stop.signal }, hold).catch(() => {}); // withdrawn
        })
        .catch(() => known(false));
    });
    return { free, stop: () => (release ? release() : stop.abort()) };
  } catch {}
}

// Calls `hidden()` when the page is hidden (tab switch, minimise, mobile navigation), `left()`
// when it is left (pagehide, which unlike `unload` keeps the back/forward cache usable) and
// `back()` when it returns from that cache. Returns the undo; inert outside a document.
export function onHide(hidden, left, back) {
  const doc = globalThis.document;
  if (!doc) return () => {};
  const vis = () => doc.visibilityState === "hidden" && hidden();
  const show = (e) => e.persisted && back();
  addEventListener("pagehide", left);
  addEventListener("pageshow", show);
  doc.addEventListener("visibilitychange", vis);
  return () => {
    removeEventListener("pagehide", left);
    removeEventListener("pageshow", show);
    doc.removeEventListener("visibilitychange", vis);
  };
}
