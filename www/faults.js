// The faults the demo page can switch on at the collector, through its control endpoints
// (POST /_faults, POST /_config; see collector/README.md). Each has what the collector then does,
// what to watch on the page, the requests that switch it on and back to normal, and how to tell
// from GET /_faults and GET /_config whether it is on.

const RETRY_AFTER_S = 2;
const LIMIT_BYTES = 4096;
// "Until back to normal" for the scripted 429: this many answers (a script is used up step by
// step), minutes' worth at one request per pause.
const SCRIPTED_429S = 100;

/** The path a protocol posts to. */
export const PATHS = { "v1-batch": "/v1-batch", "amplitude-http-v2": "/2/httpapi", "amplitude-batch": "/batch" };

/**
 * The faults for a client speaking `protocol`. `initial` is the collector's /_config at page load,
 * so "back to normal" restores what it was started with.
 */
export function faultsFor(protocol, initial) {
  const path = PATHS[protocol];
  const amplitude = protocol !== "v1-batch";
  const script = (f) => f?.script ?? [];
  // On Amplitude a 429 naming no user or device is a plain rate limit (docs/PROTOCOLS.md E).
  const step429 = amplitude
    ? { path, status: 429, retry_after: String(RETRY_AFTER_S), body: { code: 429, error: "Too many requests" } }
    : { path, status: 429, retry_after: String(RETRY_AFTER_S) };
  const step413 = amplitude
    ? { path, status: 413 }
    : { path, status: 413, body: {
      success: false, error: `Request body too large: maximum ${LIMIT_BYTES} bytes`, limit_bytes: LIMIT_BYTES,
      hint: "Split the batch into smaller requests.",
    } };
  const quota = protocol === "v1-batch"
    ? {
      does: "has a monthly quota of 0: every request gets 429 “Monthly event quota exceeded”, Retry-After the month's end",
      watch: "quota held until fills in; events stay queued, not failed; one small probe every 2 s",
      on: [["/_config", { monthly_quota: 0 }]],
      off: [["/_config", { monthly_quota: initial?.monthly_quota ?? null }]],
      active: (f, c) => c.monthly_quota === 0,
    }
    : protocol === "amplitude-batch"
      ? {
        does: "has a daily quota of 0 events per user and device: every request gets 429 naming them over quota",
        // The SDK holds the identities named, not the whole client: stats().quotaHeldUntil is
        // the whole client's hold (/v1-batch's monthly quota), so that row stays empty here.
        watch: "events stay queued, not failed; the user and device named are held and probed with one event every 2 s (the 429 marks). The quota row stays “–”: it is for a whole-client hold, and this one holds only the identities named",
        on: [["/_config", { daily_quota: 0 }]],
        off: [["/_config", { daily_quota: initial?.daily_quota ?? 500_000 }]],
        active: (f, c) => c.daily_quota === 0,
      }
      : { unavailable: "HTTP V2 has no quota (the daily quota is the Batch API's)" };
  return [
    {
      id: "5xx", title: "5xx storm",
      does: "answers every request 500, 502, 503 or 504 and stores nothing",
      watch: "retries grows: the same events are resent, with backoff between 0.5 and 4 s",
      on: [["/_faults", { fail_rate: 1, statuses: [500, 502, 503, 504] }]],
      off: [["/_faults", { fail_rate: 0 }]],
      active: (f) => f.fail_rate > 0,
    },
    {
      id: "429", title: `429, Retry-After: ${RETRY_AFTER_S}`,
      does: `answers every request 429 Too Many Requests with Retry-After: ${RETRY_AFTER_S}`,
      watch: "rate limited until fills in: nothing leaves before that time (the shaded stretch)",
      on: (f) => [["/_faults", { script: [...Array(SCRIPTED_429S).fill(step429), ...script(f).filter(is413)] }]],
      off: (f) => [["/_faults", { script: script(f).filter((s) => !is429(s)) }]],
      active: (f) => script(f).some(is429),
    },
    { id: "quota", title: "quota exceeded", ...quota },
    {
      id: "413", title: "413 Payload Too Large",
      does: amplitude
        ? "answers the next request 413 (Amplitude names no limit)"
        : `answers the next request 413 with limit_bytes ${LIMIT_BYTES}`,
      watch: amplitude
        ? "the batch is split in half and sent again; nothing fails"
        : `the batch is split into requests under ${LIMIT_BYTES} bytes and sent again; nothing fails`,
      on: (f) => [["/_faults", { script: [step413, ...script(f).filter(is429)] }]],
      off: (f) => [["/_faults", { script: script(f).filter((s) => !is413(s)) }]],
      active: (f) => script(f).some(is413),
    },
    {
      id: "drop", title: "dropped responses",
      does: "stores the events, then closes the connection without answering",
      watch: "the client cannot know they arrived: it resends the same events, and the collector refuses the duplicates",
      on: [["/_faults", { drop_rate: 1 }]],
      off: [["/_faults", { drop_rate: 0 }]],
      active: (f) => f.drop_rate > 0,
    },
    {
      id: "latency", title: "slow answers (1.5 s)",
      does: "answers every request 1.5 s late",
      watch: "in flight stays up while the queue waits behind the request in flight",
      on: [["/_faults", { latency_ms: 1500, latency_rate: 1 }]],
      off: [["/_faults", { latency_ms: 0 }]],
      active: (f) => f.latency_ms > 0 && f.latency_rate > 0,
    },
  ];
}

const is429 = (s) => s.status === 429 && !s.daily_quota;
const is413 = (s) => s.status === 413;

/**
 * The control requests [[path, body], ...] that turn `fault` "on" or "off", given the collector's
 * current /_faults (`current`). The script is one list at the collector, shared by the 429 and
 * 413 faults: each keeps the other's pending steps.
 */
export function requestsOf(fault, action, current) {
  const r = fault[action];
  return typeof r === "function" ? r(current ?? {}) : r;
}
