// Types of the Node entry (the `node` export condition): the browser entry's, with createClient
// resolving to a NodeClient (closeAndFlush, handleSignals).
export * from "./index.js";
import type { ClientOptions, NodeClient } from "./index.js";

/** Compiles the wasm module (read from disk) once; later calls share the same promise. */
export function init(): Promise<void>;
/** Creates a client; `mode` defaults to "server" in Node. */
export function createClient(options: ClientOptions): Promise<NodeClient>;
/** The batchwire build's version. */
export function version(): Promise<string>;
