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
export const STAT = 16;
// What `create` reads with the `number` import: these options' values (-1: not given), then
// the protocol's index, durable (0/1) and the seed's two 32-bit halves.
export const OPTIONS = ["flushAt", "flushIntervalMs", "maxBatchBytes", "maxInFlight", "maxQueueEvents", "maxQueueBytes", "backoffBaseMs", "backoffMaxMs", "giveUpAfterMs", "quotaProbeMs"];
export const PROTOCOL = 10;
export const DURABLE = 11;
export const SEED_HIGH = 12;
export const SEED_LOW = 13;
// stats(), in the order `STAT + i` answers.
export const STATS = ["queued", "inFlight", "delivered", "failed", "retried", "rateLimitedUntil", "quotaHeldUntil", "stored"];
// The notes of the `emit` import, by kind, named as client.on() takes them.
export const EVENTS = ["delivered", "failed", "rateLimited", "quotaHeld", "warning"];
// The `protocol` option, by index.
export const PROTOCOLS = ["v1-batch", "amplitude-http-v2", "amplitude-batch"];
// The `kind` of the `enqueue` export.
export const TRACK = 0;
export const IDENTIFY = 1;
export const PAGE = 2;
export const SCREEN = 3;
export const GROUP = 4;
export const ALIAS = 5;
