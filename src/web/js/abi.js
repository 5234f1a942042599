// The numbering of the wasm boundary, as src/web/abi.rs declares it. Kept by hand so that it
// bundles and minifies with the rest; `cargo test` (src/web/abi.rs) renders every `export` line
// below from the Rust tables and fails on any difference: change both sides together.

// The driver inputs of the `on` export.
export const DRIVE = 0;
export const TIMER = 1;
export const HIDDEN = 2;
export const LEAVE = 3;
export const LEAD = 4;
export const LOADED = 5;
export const LEADER_CHANGED = 6;
export const FLUSH_NOW = 7;
export const STORE_FAILED = 8;
export const FLUSH = 9;
export const SHUTDOWN = 10;
export const FAILURE = 11;
export const ABANDON = 12;
export const STAT = 16;
// What `create` reads with the `number` import: these options' values (-1: not given; each >= 1,
// but flushIntervalMs and those from ZERO_FROM on may be 0), then
// the protocol's index, durable (0/1), the seed's two 32-bit halves, skipUserPropertiesSync (0/1)
// and server mode (0/1: derive the anonymousId where the protocol requires one).
export const OPTIONS = ["flushAt", "flushIntervalMs", "maxBatchBytes", "maxInFlight", "maxQueueEvents", "maxQueueBytes", "backoffBaseMs", "backoffMaxMs", "giveUpAfterMs", "quotaProbeMs", "maxRetryAfterMs", "requestTimeoutMs", "rateWindowMs", "requestsPerWindow", "identityEventsPerSecond", "identityEventsPerDay"];
export const ZERO_FROM = 13;
export const PROTOCOL = 16;
export const DURABLE = 17;
export const SEED_HIGH = 18;
export const SEED_LOW = 19;
export const SKIP_USER_PROPERTIES_SYNC = 20;
export const DERIVE_ANONYMOUS_ID = 21;
// stats(), in the order `STAT + i` answers.
export const STATS = ["queued", "inFlight", "delivered", "failed", "retried", "rateLimitedUntil", "quotaHeldUntil", "stored"];
// The notes of the `emit` import, by kind, named as client.on() takes them.
export const EVENTS = ["delivered", "failed", "rateLimited", "quotaHeld", "warning"];
// The `protocol` option, by index.
export const PROTOCOLS = ["v1-batch", "amplitude-http-v2", "amplitude-batch"];
// The `serverZone` option, and the Amplitude host each picks when apiHost is not given.
export const ZONES = ["US", "EU"];
export const HOSTS = ["https://api2.amplitude.com", "https://api.eu.amplitude.com"];
// Added to an `enqueue` kind: the event sets $skip_user_properties_sync (Amplitude).
export const SKIP_SYNC = 8;
// The `kind` of the `enqueue` export.
export const TRACK = 0;
export const IDENTIFY = 1;
export const PAGE = 2;
export const SCREEN = 3;
export const GROUP = 4;
export const ALIAS = 5;
// The `type` of each kind, as beforeSend sees it.
export const TYPES = ["track", "identify", "page", "screen", "group", "alias"];
