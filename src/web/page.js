// The two page facilities that are simplest as a few lines of JavaScript: the Web Lock that
// elects the sending tab, and the hide/pagehide hooks. Both return a function that undoes them.

// Requests the lock `name`; `granted()` runs when this context holds it, and the lock is held
// until the returned function is called (or the context goes away). Returns undefined where Web
// Locks are missing (workers without them, workerd): the caller is then its own leader.
export function lead(name, granted) {
  const locks = globalThis.navigator?.locks;
  if (!locks) return;
  const stop = new AbortController();
  let release;
  locks
    .request(name, { signal: stop.signal }, () => {
      granted();
      return new Promise((r) => (release = r));
    })
    .catch(() => {}); // aborted before it was granted: nothing to clean up
  return () => (release ? release() : stop.abort());
}

// Calls `hidden()` when the page is hidden (tab switch, minimise, navigation on mobile) or
// leaves (pagehide, which unlike `unload` keeps the back/forward cache working). Nothing to do
// outside a document.
export function onHide(hidden) {
  const doc = globalThis.document;
  if (!doc) return () => {};
  const vis = () => doc.visibilityState === "hidden" && hidden();
  addEventListener("pagehide", hidden);
  doc.addEventListener("visibilitychange", vis);
  return () => {
    removeEventListener("pagehide", hidden);
    doc.removeEventListener("visibilitychange", vis);
  };
}
