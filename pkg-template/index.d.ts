// Types of the batchwire package, declared once for the browser and workerd entries (index.js,
// worker.js); node.d.ts adds the Node entry's options and client.

/** Which ingestion API the client speaks. */
export type Protocol = "v1-batch" | "amplitude-http-v2" | "amplitude-batch";

/** createClient's options (the README's table); times are in milliseconds. */
export interface ClientOptions {
  /** `/v1-batch` write key (sent as `Authorization: Bearer`) or the Amplitude `api_key`. */
  writeKey: string;
  /** Scheme and host of the ingestion API, e.g. `https://api.example.com`; the path is the protocol's.
   * Required for `"v1-batch"`; for Amplitude, default the `serverZone`'s host. */
  apiHost?: string;
  /** Default `"v1-batch"`. */
  protocol?: Protocol;
  /** Amplitude: `"US"` (default, `https://api2.amplitude.com`) or `"EU"`
   * (`https://api.eu.amplitude.com`), used when `apiHost` is not given. */
  serverZone?: "US" | "EU";
  /** A batch leaves once this many events wait. Default 100 (clamped to the protocol's maximum). */
  flushAt?: number;
  /** A waiting event leaves at most this long after it was queued. Default 10000. */
  flushIntervalMs?: number;
  /** Bytes per request body. Default and ceiling: the protocol's limit (1 MiB for /v1-batch). */
  maxBatchBytes?: number;
  /** Requests in flight at once. Default 1 (keeps order, kind to rate limits). */
  maxInFlight?: number;
  /** Events held, queued and in flight; beyond it the oldest queued events are evicted, each
   * reported as `failed` with code `E_EVICTED`. Default 10000. */
  maxQueueEvents?: number;
  /** Bytes (of the events' JSON) held, queued and in flight; beyond it the oldest queued events
   * are evicted, each reported as `failed` with code `E_EVICTED`. Default 8 MiB. */
  maxQueueBytes?: number;
  /** `"indexeddb"` (default): events survive reloads and are shared by the tabs of this origin;
   * `"memory"`: they live as long as the page. workerd: `"memory"` only, the default there. */
  storage?: "indexeddb" | "memory";
  /** Backoff after transient failures (5xx, network errors): the n-th wait is drawn at random
   * (full jitter) below min(backoffMaxMs, backoffBaseMs·2^n). Default 1000. */
  backoffBaseMs?: number;
  /** The ceiling of the backoff wait (see `backoffBaseMs`). Default 300000. */
  backoffMaxMs?: number;
  /** An event not delivered this long after it was first queued fails with `E_RETRY_HORIZON`. Default 3 days. */
  giveUpAfterMs?: number;
  /** While a quota holds events, one small request tests it this often. Default 1 hour. */
  quotaProbeMs?: number;
  /** The longest wait a rate limit (`Retry-After`, an Amplitude throttle) may impose; a longer one
   * is cut to this with a `W_RETRY_AFTER_CAPPED` warning. Default 300000. */
  maxRetryAfterMs?: number;
  /** A request without a complete response by then is aborted and retried with the same
   * messageIds. Default 30000. */
  requestTimeoutMs?: number;
  /** `/v1-batch`: requests per rolling `rateWindowMs` the client paces itself to. Default 100
   * (the server's per-(org, IP) limit); a 429 teaches the real one. 0: not paced. */
  requestsPerWindow?: number;
  /** The window the server counts over: requests on /v1-batch (default 60000), an identity's
   * events per second on Amplitude (default 30000). For a server whose windows differ. */
  rateWindowMs?: number;
  /** Amplitude: events per second per user and per device, averaged over 30 s. Default 30 on
   * HTTP V2, 1000 on Batch. 0: not paced. */
  identityEventsPerSecond?: number;
  /** Amplitude Batch: events per user and per device per rolling 24 hours. Default 500000. 0: not tracked. */
  identityEventsPerDay?: number;
  /** Amplitude: every event carries `$skip_user_properties_sync: true`. Default false. */
  skipUserPropertiesSync?: boolean;
  /** Default: generated once per browser and write key and kept in localStorage (in memory where
   * that fails). Not taken in Node's server mode (E_CONFIG): give it per event there. */
  anonymousId?: string;
  /** Middleware run inside each call before validation: what it returns is what is validated,
   * stored and sent (rename, enrich, scrub; `type` cannot change); `null` drops the event (the
   * call still returns its messageId); an error it throws is reported through `failed` with E_BEFORE_SEND and
   * nothing is queued. */
  beforeSend?: (event: OutgoingEvent) => OutgoingEvent | null;
  /** Logs, with console.debug and in words: each event queued (or not, and why), each request
   * (bytes, status, time) and the engine's wait after a failed one, and every listener note
   * (delivered, failed, warnings, rate-limit pauses, quota holds). Loads the package's
   * extras.js module. Default false. */
  debug?: boolean;
  /** The context each event carries (Segment's names): `library` {name, version}, `page` {path,
   * referrer, search, title, url}, `userAgent`, `locale`, `timezone`, `screen` {width, height,
   * density}. `true` (browser mode's default): all; `false` (server mode's): none; an object
   * turns fields off one by one, e.g. `{ userAgent: false }`. An event's own `context` is merged
   * over it. Amplitude gets them as its own fields (docs/PROTOCOLS.md's context table). */
  context?: boolean | { library?: boolean; page?: boolean; userAgent?: boolean; locale?: boolean; timezone?: boolean; screen?: boolean };
  /** Events carry `context.sessionId` (Amplitude: `session_id`): the time (epoch ms) the session
   * started; a session ends after this long without an event in any tab. Default 1800000 (30
   * minutes) in browser mode; 0: no sessions (server mode's default). */
  sessionTimeoutMs?: number;
  /** Sends `page()` once the client is created and after each History API navigation
   * (pushState, replaceState to another URL, back and forward; a change of the fragment alone
   * is not a page view). Loads the package's extras.js module. Default false. */
  autoPageViews?: boolean;
  /** "pending": events are kept in memory only (never stored or sent) until optIn(), dropped by
   * optOut(). What optIn()/optOut() kept for this browser wins over it. "pending" loads the
   * package's extras.js module. Default "granted". */
  consent?: "granted" | "pending";
}

/** An event as `beforeSend` sees it, and returns it. */
export interface OutgoingEvent extends EventOptions {
  readonly type: "track" | "identify" | "page" | "screen" | "group" | "alias";
  /** The track event's name. */
  event?: string;
  /** The page or screen name. */
  name?: string | null;
  properties?: Properties | null;
  traits?: Properties | null;
  messageId: string;
}

/** Per-call options; `userId` defaults to the last `identify()`, `anonymousId` to the client's
 * (browser mode). In server mode (Node) each event needs its own `userId` or `anonymousId`. */
export interface EventOptions {
  userId?: string;
  anonymousId?: string;
  /** Default: a fresh UUID. Reusing one makes the server de-duplicate the event. */
  messageId?: string;
  /** When it happened. Default: now. */
  timestamp?: Date | number | string;
  /** Segment's context, merged over the client's (the `context` option): sent as the
   * event's `context` on /v1-batch; on Amplitude its fields
   * become Amplitude's event fields (library, language, session_id, platform, os_*, device_*,
   * app_version, ip, location). */
  context?: Record<string, unknown>;
  /** Amplitude: this event carries `$skip_user_properties_sync: true`. */
  skipUserPropertiesSync?: boolean;
}

/** JSON-encodable properties; see the README for how other values are coerced. */
export type Properties = Record<string, unknown>;

export interface Stats {
  /** Events waiting to be sent (in a tab that does not send: waiting for the sending tab). */
  queued: number;
  inFlight: number;
  delivered: number;
  failed: number;
  /** Events put back in the queue after a request that did not deliver them. */
  retried: number;
  /** Epoch ms before which no request leaves (a server's rate limit), or null. */
  rateLimitedUntil: number | null;
  /** Epoch ms of the quota reset (or the next probe) while a quota holds events, or null. */
  quotaHeldUntil: number | null;
  /** True while events are persisted in IndexedDB; false when they live in memory only. */
  stored: boolean;
}

/** Why an event failed, as the `failed` listener hears it (the README lists each). */
export type FailureCode =
  /** The server refused that event (its error names it). */
  | "E_REJECTED"
  /** The server refused the whole request with a permanent HTTP status (4xx other than 408, 413
   * and 429). */
  | "E_HTTP"
  /** The event cannot fit in a request the server accepts. */
  | "E_TOO_LARGE"
  /** Dropped from the full queue (`maxQueueEvents`, `maxQueueBytes`) to make room; or, while
   * consent is pending, the oldest of more than `maxQueueEvents` (default 10000) events. */
  | "E_EVICTED"
  /** Not delivered within `giveUpAfterMs` of being queued. */
  | "E_RETRY_HORIZON"
  /** The server answered 2xx several times without confirming the event: it may or may not be
   * stored. */
  | "E_UNCONFIRMED"
  /** Node: still queued or in flight when `closeAndFlush` reached its timeout. */
  | "E_SHUTDOWN"
  /** `beforeSend` threw: the event was not queued (the reason quotes the error). */
  | "E_BEFORE_SEND"
  /** In a page (browser mode), an event the engine refused when the call's tick handed it over
   * (the call had returned its messageId): its rules, such as a name over 200 characters
   * (/v1-batch) or a missing id; also an event tracked while consent was pending, refused when
   * optIn() queued it. Server mode throws these at the call instead. */
  | "E_INVALID_EVENT"
  /** As above: the queue was full (`maxQueueEvents`, `maxQueueBytes`). */
  | "E_QUEUE_FULL"
  /** As above: a call the protocol does not have (`alias` with Amplitude). */
  | "E_UNSUPPORTED";

/** What a `warning` is about; nothing was lost (the README lists each). */
export type WarningCode =
  /** Properties past a limit the server warns about (too many keys, a value too large, nested
   * too deeply); the event is sent. */
  | "W_SOFT_CAP"
  /** A string over Amplitude's 1,024 characters, which Amplitude truncates (ids included). */
  | "W_TRUNCATED"
  /** An id Amplitude would silently remove (too short, or a placeholder) is not sent. */
  | "W_ID_REMOVED"
  /** Amplitude: a `context` key that is not one of Segment's names is not sent (the message names it). */
  | "W_CONTEXT_NOT_SENT"
  /** A warning the server returned with an accepted request. */
  | "W_SERVER"
  /** The server reported an error for an event the request did not contain. */
  | "W_UNMATCHED"
  /** A rate limit's wait was cut to `maxRetryAfterMs`. */
  | "W_RETRY_AFTER_CAPPED"
  /** The API host redirects (redirects are never followed): the events stay queued; check
   * `apiHost`. */
  | "W_REDIRECT"
  /** A user near or past Amplitude's 1,800 user-property updates per hour (the event is sent). */
  | "W_USER_PROPERTY_LIMIT"
  /** Amplitude throttled a user or device, or it is over its daily quota: its events wait. */
  | "W_IDENTITY_PAUSED"
  /** IndexedDB is unavailable or failing: events are kept in memory only (said once). */
  | "W_STORAGE";

/** The payload each listener of `Client.on` is given. */
export interface ClientEvents {
  /** Events the server confirmed. */
  delivered: { messageIds: string[] };
  /** An event that will never be delivered: `code` says why, `reason` in words. */
  failed: { messageId: string; code: FailureCode; reason: string };
  /** Requests wait for a server's rate limit until `until` (epoch ms). */
  rateLimited: { until: number };
  /** A quota holds events until `until` (epoch ms): the reset, or the next probe. */
  quotaHeld: { until: number };
  /** Something worth knowing; `messageId` names the event it is about, when it is about one. */
  warning: { code: WarningCode; message: string; messageId?: string };
}

export interface Client {
  /** Queues an event; returns its messageId at once. Throws a BatchwireError for invalid input:
   * what JavaScript can tell of the call (types, U+0000, properties that are not an object or not
   * JSON, a payload over a request, a bad timestamp, a call after shutdown). In a page the
   * engine's own rules are applied in the same tick, after the call returned: a refusal is
   * reported through `failed` with the messageId returned. Server mode throws those too. */
  track(event: string, properties?: Properties | null, options?: EventOptions): string;
  /** Browser mode: also makes `userId` the default for later events of this client and, kept in
   * localStorage per write key with the traits (merged while the user stays the same), of later
   * pages. Server mode: it does not stick. */
  identify(userId?: string | null, traits?: Properties | null, options?: EventOptions): string;
  page(name?: string | null, properties?: Properties | null, options?: EventOptions): string;
  screen(name?: string | null, properties?: Properties | null, options?: EventOptions): string;
  group(groupId: string, traits?: Properties | null, options?: EventOptions): string;
  /** Links `previousId` (default: the anonymousId) to `userId`. Not available with Amplitude. */
  alias(userId: string, previousId?: string | null, options?: EventOptions): string;
  /** Resolves once every event queued before the call is delivered or has failed. In workerd,
   * also not before every send started during the calling request is answered (a timer of its own
   * keeps that request running until then): give it to `ctx.waitUntil`, or await it, in every
   * request that tracks (see the README's "Cloudflare Workers"). */
  flush(): Promise<void>;
  /** Who later events are from (browser mode; in server mode nobody). */
  user(): { userId: string | null; anonymousId: string | null; traits: Properties };
  /** A logout (browser mode): forgets the user and their traits, here and for later pages, and
   * starts a new anonymousId. Events already queued keep their identity. */
  reset(): void;
  /** Consent given: events are stored and sent from now on, and those tracked while consent was
   * pending are queued with the time they were tracked at. Kept for later pages (browser mode). */
  optIn(): void;
  /** Consent refused or withdrawn: nothing is stored or sent from now on (calls still validate and
   * return a messageId), events waiting for consent are dropped and the identity kept in this
   * browser is removed. Events queued before are still delivered. Kept for later pages. */
  optOut(): void;
  /** Where consent stands: what optIn()/optOut() kept, else the `consent` option. */
  consent(): "granted" | "pending" | "denied";
  stats(): Stats;
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof ClientEvents>(type: K, listener: (payload: ClientEvents[K]) => void): () => void;
  off<K extends keyof ClientEvents>(type: K, listener: (payload: ClientEvents[K]) => void): void;
  /** Stops taking events (later calls throw E_SHUTDOWN), sends what is queued, resolves once no
   * request is in flight. What was not delivered stays stored for the next page. The client's wasm
   * memory is then freed; stats() keeps its last counts. */
  shutdown(): Promise<void>;
}

/** Stable error codes; see the README. */
export type ErrorCode =
  | "E_INVALID_EVENT"
  | "E_TOO_LARGE"
  | "E_QUEUE_FULL"
  | "E_UNSUPPORTED"
  | "E_CONFIG"
  | "E_SHUTDOWN"
  | "E_INVALID_ARGUMENT"
  | "E_LOAD"
  | "E_GLOBAL_SCOPE"
  | "E_INTERNAL";

/** Everything batchwire throws. */
export class BatchwireError extends Error {
  readonly name: "BatchwireError";
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string);
}

/** Loads the /v1-batch wasm module once (createClient loads the module its protocol needs). */
export function init(): Promise<void>;
/** Resolves once the client knows whether this tab sends and, if it does, has restored the events
 * earlier pages left in IndexedDB (so a `flush()` right after covers them). workerd: call it inside
 * a handler and keep the client at module scope; at global scope it rejects with E_GLOBAL_SCOPE. */
export function createClient(options: ClientOptions): Promise<Client>;
/** The batchwire build's version. */
export function version(): Promise<string>;
