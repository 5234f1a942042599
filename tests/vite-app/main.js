// A minimal app as a user would write it: import the package by name and track a few events.
// The collector address comes from the query string (?apiHost=...&n=...) so the test can point it.
import { createClient } from "batchwire";

const params = new URLSearchParams(location.search);
const status = document.getElementById("status");

async function main() {
  const client = await createClient({
    writeKey: "uk_live_demo",
    apiHost: params.get("apiHost"),
    protocol: "v1-batch",
    storage: "memory",
  });
  const n = Number(params.get("n") ?? 20);
  const ids = [];
  for (let i = 0; i < n; i++) ids.push(client.track("Vite App Event", { i }));
  await client.flush();
  window.trackedIds = ids;
  status.textContent = `sent ${ids.length}`;
}

main().catch((e) => {
  window.appError = `${e?.code ?? ""} ${e?.message ?? e}`;
  status.textContent = `error: ${window.appError}`;
});
