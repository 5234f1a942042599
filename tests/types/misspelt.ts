// Codes compared with a misspelling: each line marked MISSPELT must be a compile error (the
// unions say which codes exist), and nothing else in this file may be one.
import { BatchwireError, createClient } from "../../pkg-template/index.js";

const seen: string[] = [];
const client = await createClient({ writeKey: "k", apiHost: "https://api.example.com" });
client.on("failed", (e) => {
  if (e.code === "E_HTPP") seen.push(e.reason); // MISSPELT
});
client.on("warning", (w) => {
  if (w.code === "W_REDIRCT") seen.push(w.message); // MISSPELT
});
try {
  client.track("Signed Up");
} catch (e) {
  if (e instanceof BatchwireError && e.code === "E_INVALID_EVNT") seen.push(e.message); // MISSPELT
}
