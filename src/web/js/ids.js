// Identifiers made in JavaScript: messageIds (made here, not in wasm: returning a string from
// wasm costs a TextDecoder call), the anonymousId kept per browser, and the in-flight hold that
// a page being left writes for the next one.

// A random (version 4) UUID. crypto.randomUUID() costs more than all the rest of a track() in
// Chromium, and is missing outside secure contexts: random bytes are drawn 4 KiB at a time
// instead, and written through a table.
const HEX = Array.from({ length: 256 }, (_, i) => (i + 256).toString(16).slice(1));
let random, drawn = 4096;
export const uuid = () => {
  if (drawn > 4080) crypto.getRandomValues((random ??= new Uint8Array(4096))), (drawn = 0);
  const h = (k, v = random[drawn + k]) => HEX[k === 6 ? (v & 15) | 64 : k === 8 ? (v & 63) | 128 : v];
  const id = h(0) + h(1) + h(2) + h(3) + "-" + h(4) + h(5) + "-" + h(6) + h(7) + "-" + h(8) + h(9) + "-" +
    h(10) + h(11) + h(12) + h(13) + h(14) + h(15);
  drawn += 16;
  return id;
};

// What a browser keeps per write key in localStorage under "batchwire:NAME:writeKey": the
// anonymousId (a string) and the identity (JSON {userId, traits}). `v` given: written (null:
// removed). Where localStorage throws (sandboxed frames, disabled storage, workers) nothing is
// kept: the values live as long as the client.
export function kept(name, writeKey, v) {
  const key = "batchwire:" + name + ":" + writeKey;
  try {
    if (v === null) localStorage.removeItem(key);
    else if (v !== undefined) localStorage.setItem(key, v);
    return localStorage.getItem(key);
  } catch {}
}

// One anonymousId per browser and write key; `fresh`: a new one (after reset()). Without consent
// (`keep` false) a new one is not written: it lives as long as the page, until optIn() keeps it.
export const anonymousId = (writeKey, fresh, keep) =>
  (!fresh && kept("anonymousId", writeKey)) || (keep && kept("anonymousId", writeKey, uuid())) || uuid();

// The session an event is in, per browser and write key: [id, last, written], the id being the
// time it started (epoch ms, as Amplitude's session_id), `last` the time of its latest event and
// `written` when this page last wrote it. A session ends after `timeout` ms without events in
// any tab: tabs share it through localStorage, written at most once a second (`keep` false:
// never, before consent).
export function session(s, writeKey, timeout, keep, now = Date.now()) {
  if (!s || now - s[1] > timeout) {
    const k = (kept("session", writeKey) ?? "").split(":").map(Number);
    s = k[1] > 0 && now - k[1] <= timeout ? [k[0], 0, 0] : [now, 0, 0];
  }
  s[1] = now;
  if (keep && now - s[2] > 999) kept("session", writeKey, s[0] + ":" + now), (s[2] = now);
  return s;
}

// The messageIds a page had in requests still in flight when it was left, each with the time
// before which nobody sends it again ({messageId: until}): its request may still be on its way
// (a keepalive send outlives its page) or at the server. localStorage, because the page being
// left must write it synchronously and the next page, or another tab taking over, must read it
// at once. Adds `ids` (until `until`) when given; returns what is still held. Where localStorage
// throws, nothing is held (the server still de-duplicates the resend).
export function held(writeKey, ids, until) {
  const key = "batchwire:inflight:" + writeKey, now = Date.now(), h = {};
  try {
    const old = JSON.parse(localStorage.getItem(key));
    for (const id in old) if (old[id] > now) h[id] = old[id];
    if (ids) {
      for (const id of ids) h[id] = until;
      localStorage.setItem(key, JSON.stringify(h));
    }
  } catch {}
  return h;
}
