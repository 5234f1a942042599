// What a page says about itself, under the Segment spec's context names: the fields each event's
// context carries and page()'s default properties; and when its URL changes.
// Outside a document (web workers, Node) the page fields are absent and the rest is what the
// runtime has.

/** The context fields, each of which the `context` option can turn off. */
export const CONTEXT = ["library", "page", "userAgent", "locale", "timezone", "screen"];

/** The page's fields, as context.page and page()'s default properties; undefined without a
 * document. */
export const pageFields = (d = globalThis.document, l = globalThis.location) =>
  d && l && { path: l.pathname, referrer: d.referrer, search: l.search, title: d.title, url: l.href };

/** The context fields that do not change while the page lives, those `on` keeps. */
export function fixedContext(on, version) {
  const n = globalThis.navigator, s = globalThis.screen, c = {};
  if (on.library) c.library = { name: "batchwire", version };
  if (on.userAgent && n?.userAgent) c.userAgent = n.userAgent;
  if (on.locale && n?.language) c.locale = n.language;
  if (on.timezone) c.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (on.screen && s) c.screen = { width: s.width, height: s.height, density: globalThis.devicePixelRatio };
  return c;
}

// Reading location.href costs about 2 µs in Chromium, more than the rest of a track(): the URL is
// read again only after something that may have changed it. In a document that is the History
// API (pushState, replaceState), and back, forward and fragment navigations (all three fire
// popstate); the hook is installed once, on first use, and `moved` hears each of them (autoPageViews).
export const moved = new Set();
let moves = 0, hooked;
const move = () => {
  moves++;
  for (const f of moved) f();
};

/** A number that changes whenever the document's URL may have changed. */
export function urlVersion() {
  if (!hooked) {
    const h = (hooked = history);
    for (const m of ["pushState", "replaceState"]) {
      const original = h[m];
      h[m] = function (...a) {
        const r = original.apply(this, a);
        move();
        return r;
      };
    }
    addEventListener("popstate", move);
  }
  return moves;
}
