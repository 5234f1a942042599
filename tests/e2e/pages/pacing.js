// The page side of tests/e2e/pacing.test.mjs, loaded next to driver.js (which creates window.client
// with make()): events for chosen identities, and every warning of a code kept whole (driver.js
// keeps only a count and five samples).

/** Tracks n events named `name` for the identity in `ids` ({ anonymousId, userId }), with
 * properties { ...props, i } for i from `start`; returns their messageIds. */
window.trackAs = (n, name, ids, props = {}, start = 0) => {
  const out = [];
  for (let i = start; i < start + n; i++) out.push(window.client.track(name, { ...props, i }, ids));
  return out;
};

/** Identifies `userId` n times with traits { ...traits, i }; returns the messageIds. */
window.identifyMany = (n, userId, traits = {}, options = {}) => {
  const out = [];
  for (let i = 0; i < n; i++) out.push(window.client.identify(userId, { ...traits, i }, options));
  return out;
};

/** Keeps every warning whose code is `code` in window.kept[code]. */
window.keepWarnings = (code) => {
  window.kept ??= {};
  const list = (window.kept[code] = []);
  window.client.on("warning", (w) => { if (w.code === code) list.push({ code: w.code, message: w.message }); });
  return true;
};

window.pacingReady = true;
