// Types of the Node entry (the `node` export condition): the browser entry's, with the Node-only
// options (NodeClientOptions) and createClient resolving to a NodeClient (closeAndFlush,
// handleSignals).
export * from "./index.js";
import type { Client, ClientOptions } from "./index.js";

/** createClient's options in Node: the browser's, and those of the Node lifecycle. */
export interface NodeClientOptions extends ClientOptions {
  /** Default "server": identity per event (identify() does not stick, no shared anonymousId; an
   * event with neither userId nor anonymousId throws E_INVALID_EVENT; /v1-batch's anonymousId is
   * derived from the userId when not given), the queue in memory, shutdown() as closeAndFlush().
   * "browser" keeps the browser's rules (the queue in memory still: Node has no IndexedDB). */
  mode?: "server" | "browser";
  /** Run closeAndFlush({ timeoutMs: signalTimeoutMs }) on SIGTERM and SIGINT, then let the signal
   * end the process (see NodeClient.handleSignals). Default false. */
  handleSignals?: boolean;
  /** closeAndFlush's timeout on a handled signal, in ms. Default 5000. */
  signalTimeoutMs?: number;
  /** closeAndFlush's timeout at a natural exit (beforeExit) with events queued, in ms. Default
   * 10000. */
  exitTimeoutMs?: number;
}

/** What the Node entry's createClient resolves to. */
export interface NodeClient extends Client {
  /** Stops taking events (later calls throw E_SHUTDOWN) and resolves once everything queued is
   * delivered or reported; what is still queued or in flight after `timeoutMs` (default 10000) is
   * reported `failed` with code E_SHUTDOWN, never dropped quietly. Then the client lets go. Later
   * calls share the first call's promise. */
  closeAndFlush(options?: { timeoutMs?: number }): Promise<void>;
  /** Server mode: closeAndFlush() with its default timeout. Browser mode: as Client.shutdown. */
  shutdown(): Promise<void>;
  /** On SIGTERM or SIGINT: closeAndFlush({ timeoutMs: signalTimeoutMs }), then the signal is
   * raised again so the process ends as it would have (unless the application listens to that
   * signal too). Returns a function that removes the handlers. */
  handleSignals(): () => void;
}

/** Compiles the wasm module (read from disk) once; later calls share the same promise. */
export function init(): Promise<void>;
/** Creates a client; `mode` defaults to "server" in Node. */
export function createClient(options: NodeClientOptions): Promise<NodeClient>;
/** The batchwire build's version. */
export function version(): Promise<string>;
