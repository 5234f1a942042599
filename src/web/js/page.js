// What a page says about itself, under the Segment spec's context names: the fields each event's
// context carries and page()'s default properties.
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
