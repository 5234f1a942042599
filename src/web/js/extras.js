// What only some clients use, in a module of its own that index.js imports when a client's
// options ask for it (`debug`, `autoPageViews`, `consent: "pending"`): a page without them never
// downloads it.

/** consent: "pending": the events waiting in memory for optIn(), each [kind, fields, time,
 * messageId] as the driver's enqueue takes them; at most maxQueueEvents (of the options `o`;
 * default 10000), the oldest going first, reported through `failed` (the client's note). */
export function waiting(o, failed, say) {
  const n = o.number(4), max = n > 0 ? n : 10000; // 4: maxQueueEvents (abi.js OPTIONS)
  let list = [];
  return {
    add(e) {
      if (list.push(e) > max) failed([list.shift()[3], "E_EVICTED", "more events than maxQueueEvents were tracked while consent was pending"]);
    },
    clear() {
      list = [];
    },
    // optIn(): each goes on the client's list `q`, for the engine, which reports a refusal (what
    // track() would have thrown) through `failed`.
    release(q) {
      for (const e of list.splice(0)) q.push(e), say?.("event", "", "", e[3], "released");
    },
  };
}
const where = () => location.origin + location.pathname + location.search;

// The clients with autoPageViews on: one hook on the History API serves them all, installed once
// (a second wrapper around pushState could not be taken off again in any order).
const viewers = new Set();
let hooked;

/** autoPageViews: calls `f` after each History API navigation (pushState, replaceState to another
 * URL, back and forward: popstate); returns what stops it. A navigation is a new URL, the fragment
 * aside (an anchor link is not a page view), checked after the current task so that the title an
 * app sets right after pushState is the one sent. */
export function onNavigate(f) {
  let url = where();
  const check = () =>
    setTimeout(() => {
      if (where() !== url) {
        url = where();
        f();
      }
    });
  if (!hooked) {
    const h = (hooked = history);
    for (const m of ["pushState", "replaceState"]) {
      const original = h[m];
      h[m] = function (...a) {
        const r = original.apply(this, a);
        for (const v of viewers) v();
        return r;
      };
    }
    addEventListener("popstate", () => viewers.forEach((v) => v()));
  }
  viewers.add(check);
  return () => viewers.delete(check);
}

const at = (t) => new Date(t).toISOString();
// The events of a request body: /v1-batch's `batch`, Amplitude's `events` (read again here, in
// debug mode only, rather than told by the engine for every request).
const count = (body) => {
  try {
    const doc = JSON.parse(new TextDecoder().decode(body));
    return (doc.batch ?? doc.events).length;
  } catch {
    return "?";
  }
};
// What became of an event: the consent it was tracked with, or what happened to it later.
const events = {
  granted: "queued",
  pending: "kept in memory until optIn()",
  denied: "not queued: opted out",
  dropped: "dropped by beforeSend",
  released: "queued after optIn()",
};

/** `debug: true`: each event queued (or not, and why), each request (size, status, time) and what
 * the engine decided after it, and each listener note, in words, with console.debug. */
export function say(what, a, b, c, d) {
  if (what === "watch") return watch(a, b);
  const line =
    what === "event" ? `${a}${b ? ` "${b}"` : ""} ${c}: ${events[d]}`
    : what === "send" ? `request ${a}: POST ${b}, ${count(c)} event(s) in ${c.length} bytes${d ? " (keepalive: the page is being left)" : ""}`
    : what === "answer" ? `request ${a}: ${b} after ${c} ms${d >= 0 ? `; the engine waits ${d} ms before its next attempt` : ""}`
    : a === "delivered" ? `delivered ${b.length} event(s)`
    : a === "failed" ? `failed ${b[0]}: ${b[1]} (${b[2]})`
    : a === "warning" ? `warning ${b[0]}: ${b[1]}`
    : a === "rateLimited" ? `rate limited by the server: no request leaves before ${at(c)}`
    : `quota reached: events are held until ${at(c)}`;
  console.debug("[batchwire] " + line);
}

// Each request of `client` and its answer, with the time between them and, after a failure, the
// wait the engine armed while it took the answer (its backoff or pause): `client.send` and
// `client.arm` (what index.js calls for the driver) and the driver's `response` and `on` (what the
// client calls with an answer) wrapped, on this client only.
function watch(client, driver) {
  const { send, arm } = client, { response, on } = driver, sent = new Map();
  let armed;
  client.send = function (id, path, body, keepalive) {
    sent.set(id, Date.now());
    say("send", id, path, body, keepalive);
    return send.call(this, id, path, body, keepalive);
  };
  client.arm = function (ms) {
    armed = ms;
    return arm.call(this, ms);
  };
  const answered = (id, what, failed, f) => {
    armed = -1;
    f();
    say("answer", id, what, Date.now() - sent.get(id), failed ? armed : -1);
    sent.delete(id);
  };
  driver.response = (id, status, ...rest) => answered(id, "HTTP " + status, status > 299, () => response(id, status, ...rest));
  // The input numbered 11 is FAILURE (abi.js): no complete answer came.
  driver.on = (input, id, e) =>
    input === 11 ? answered(id, `no answer (${e?.message ?? e})`, 1, () => on(input, id)) : on(input, id);
}
