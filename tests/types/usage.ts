// Every option, listener, method and code of the package's types, as an application uses them:
// tests/node/types.test.mjs compiles this (strict) and it must pass. Each `@ts-expect-error` line
// must stay an error, so the types cannot quietly widen (to `string`, to any option).
import * as web from "../../pkg-template/index.js";
import * as node from "../../pkg-template/node.js";
import type {
  Client,
  ClientEvents,
  ClientOptions,
  ErrorCode,
  EventOptions,
  FailureCode,
  OutgoingEvent,
  Properties,
  Stats,
  WarningCode,
} from "../../pkg-template/index.js";
import type { NodeClient, NodeClientOptions } from "../../pkg-template/node.js";

const seen: unknown[] = [];

// Every option of the browser and workerd entries (Required: a new option must be added here).
const options: Required<ClientOptions> = {
  writeKey: "write-key",
  apiHost: "https://api.example.com",
  protocol: "amplitude-http-v2",
  serverZone: "EU",
  flushAt: 50,
  flushIntervalMs: 0,
  maxBatchBytes: 500_000,
  maxInFlight: 2,
  maxQueueEvents: 1000,
  maxQueueBytes: 1 << 20,
  storage: "memory",
  backoffBaseMs: 500,
  backoffMaxMs: 60_000,
  giveUpAfterMs: 86_400_000,
  quotaProbeMs: 600_000,
  maxRetryAfterMs: 120_000,
  requestTimeoutMs: 10_000,
  requestsPerWindow: 0,
  rateWindowMs: 60_000,
  identityEventsPerSecond: 30,
  identityEventsPerDay: 0,
  skipUserPropertiesSync: true,
  anonymousId: "device-1",
  beforeSend: (e: OutgoingEvent) =>
    e.type === "track" && e.event === "Debug Ping" ? null : { ...e, properties: { ...e.properties, source: "web" } },
  debug: false,
  context: { userAgent: false, page: true },
  sessionTimeoutMs: 60_000,
  autoPageViews: true,
  consent: "pending",
};
// And the Node entry's own (server mode takes no client-wide anonymousId).
const { anonymousId, ...shared } = options;
const nodeOptions: Required<Omit<NodeClientOptions, "anonymousId">> = {
  ...shared,
  protocol: "v1-batch",
  mode: "server",
  handleSignals: true,
  signalTimeoutMs: 5000,
  exitTimeoutMs: 10_000,
};

// @ts-expect-error writeKey is required
await web.createClient({ apiHost: "https://api.example.com" });
// @ts-expect-error no such protocol
await web.createClient({ writeKey: "k", protocol: "amplitude" });
// @ts-expect-error storage is "indexeddb" or "memory"
await web.createClient({ writeKey: "k", storage: "localStorage" });
// @ts-expect-error mode is the Node entry's option
await web.createClient({ writeKey: "k", mode: "server" });
// @ts-expect-error handleSignals is the Node entry's option
await web.createClient({ writeKey: "k", handleSignals: true });

await web.init();
const browserVersion: string = await web.version();
const client: Client = await web.createClient(options);
// @ts-expect-error closeAndFlush is the Node client's
void client.closeAndFlush;

// Every listener, with its payload's fields at their types.
const failureCodes: FailureCode[] = [];
const warningCodes: WarningCode[] = [];
const offs: Array<() => void> = [
  client.on("delivered", ({ messageIds }) => seen.push(messageIds.join())),
  client.on("failed", (e) => {
    const reason: string = e.reason;
    seen.push(e.messageId, reason);
    failureCodes.push(e.code);
    // Every failure code, and only those: a new one must be handled here.
    switch (e.code) {
      case "E_REJECTED":
      case "E_HTTP":
      case "E_TOO_LARGE":
      case "E_EVICTED":
      case "E_RETRY_HORIZON":
      case "E_UNCONFIRMED":
      case "E_SHUTDOWN":
      case "E_BEFORE_SEND":
      case "E_INVALID_EVENT":
      case "E_QUEUE_FULL":
      case "E_UNSUPPORTED":
        break;
      default: {
        const none: never = e.code;
        seen.push(none);
      }
    }
  }),
  client.on("rateLimited", ({ until }) => seen.push(until + 1)),
  client.on("quotaHeld", ({ until }) => seen.push(until + 1)),
  client.on("warning", (w) => {
    const about: string | undefined = w.messageId;
    seen.push(w.message, about);
    warningCodes.push(w.code);
    switch (w.code) {
      case "W_SOFT_CAP":
      case "W_TRUNCATED":
      case "W_ID_REMOVED":
      case "W_CONTEXT_NOT_SENT":
      case "W_SERVER":
      case "W_UNMATCHED":
      case "W_RETRY_AFTER_CAPPED":
      case "W_REDIRECT":
      case "W_USER_PROPERTY_LIMIT":
      case "W_IDENTITY_PAUSED":
      case "W_STORAGE":
        break;
      default: {
        const none: never = w.code;
        seen.push(none);
      }
    }
  }),
];
const onDelivered = (p: ClientEvents["delivered"]) => seen.push(p.messageIds.length);
client.on("delivered", onDelivered);
client.off("delivered", onDelivered);
// @ts-expect-error no such listener
client.on("sent", () => {});
// @ts-expect-error failed's payload has no status
client.on("failed", (e) => seen.push(e.status));
for (const off of offs) off();

// Every method and every per-event option.
const props: Properties = { total: 49.99, items: [1, 2] };
const eventOptions: Required<EventOptions> = {
  userId: "user-1",
  anonymousId: "device-1",
  messageId: "m-1",
  timestamp: new Date(),
  context: { ip: "127.0.0.1" },
  skipUserPropertiesSync: false,
};
const ids: string[] = [
  client.track("Order Completed", props, eventOptions),
  client.track("Ping"),
  client.track("Ping", null, { timestamp: 1_700_000_000_000 }),
  client.identify("user-1", { plan: "pro" }),
  client.identify(null, null, { timestamp: "2024-01-01T00:00:00Z" }),
  client.page("Checkout", { path: "/checkout" }),
  client.page(),
  client.screen("Home"),
  client.group("org-1", { seats: 3 }),
  client.alias("user-2", "user-1"),
  client.alias("user-2"),
];
seen.push(ids);
await client.flush();
const stats: Stats = client.stats();
const held: number | null = stats.quotaHeldUntil ?? stats.rateLimitedUntil;
const counts: number = stats.queued + stats.inFlight + stats.delivered + stats.failed + stats.retried;
const stored: boolean = stats.stored;
seen.push(held, counts, stored);
const who: { userId: string | null; anonymousId: string | null; traits: Properties } = client.user();
seen.push(who);
client.reset();
client.optIn();
client.optOut();
const state: "granted" | "pending" | "denied" = client.consent();
seen.push(state);
await client.shutdown();

// Everything thrown is a BatchwireError with a code of ErrorCode.
try {
  client.track("Late");
} catch (e) {
  if (e instanceof web.BatchwireError) {
    const name: "BatchwireError" = e.name;
    const code: ErrorCode = e.code;
    seen.push(name, code === "E_SHUTDOWN", e.message);
    switch (e.code) {
      case "E_INVALID_EVENT":
      case "E_TOO_LARGE":
      case "E_QUEUE_FULL":
      case "E_UNSUPPORTED":
      case "E_CONFIG":
      case "E_SHUTDOWN":
      case "E_INVALID_ARGUMENT":
      case "E_LOAD":
      case "E_GLOBAL_SCOPE":
      case "E_INTERNAL":
        break;
      default: {
        const none: never = e.code;
        seen.push(none);
      }
    }
  }
}
const made = new web.BatchwireError("E_CONFIG", "flushAt must be a number >= 1 (field: flushAt)");
// @ts-expect-error not an ErrorCode
seen.push(new web.BatchwireError("E_NOPE", "x"), made);

// The Node entry: the same exports, with its options and its client.
await node.init();
const nodeVersion: string = await node.version();
const server: NodeClient = await node.createClient(nodeOptions);
await node.createClient({ writeKey: "k", mode: "browser", anonymousId, storage: "memory" });
// @ts-expect-error mode is "server" or "browser"
await node.createClient({ writeKey: "k", mode: "edge" });
server.on("failed", (e) => {
  if (e.code === "E_SHUTDOWN") seen.push(e.messageId);
});
server.track("Job Done", { ms: 12 }, { userId: "user-1" });
const removeHandlers: () => void = server.handleSignals();
removeHandlers();
await server.closeAndFlush({ timeoutMs: 5000 });
await server.closeAndFlush();
await server.shutdown();
const asClient: Client = server;
seen.push(browserVersion, nodeVersion, asClient, failureCodes, warningCodes);
seen.push(node.BatchwireError === web.BatchwireError);
