/** Loads the wasm module (once). */
export function init(): Promise<unknown>;
/** The batchwire build's version. */
export function version(): Promise<string>;
