// A dedicated module worker that uses the package as a page would: createClient, track, flush.
// Started by tests/e2e/worker.test.mjs; answers { ids, stats } or { error }.
import { createClient } from "/pkg/index.js";

onmessage = async ({ data: { options, n } }) => {
  try {
    const client = await createClient(options);
    const ids = [];
    for (let i = 0; i < n; i++) ids.push(client.track("Worker Event", { i }));
    await client.flush();
    postMessage({ ids, stats: client.stats() });
  } catch (e) {
    postMessage({ error: `${e?.code ?? e?.name}: ${e?.message}` });
  }
};
