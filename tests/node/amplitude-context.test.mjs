// An event's `context` (Segment's names) reaches Amplitude as its event fields: the package in
// Node encodes them, the collector validates their types and stores them, /_events gives them back.
import test from "node:test";
import assert from "node:assert/strict";
import { AMP_KEY, app, collector, waitStored } from "./helpers.mjs";

const CHROME_ON_WINDOWS =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

test("Segment's context fields are stored as Amplitude's event fields; a custom key is named by a warning", { timeout: 60_000 }, async (t) => {
  const c = await collector(t);
  const { createClient } = await app(t).load();
  const client = await createClient({ writeKey: AMP_KEY, apiHost: c.url, protocol: "amplitude-http-v2" });
  const warnings = [];
  const failed = [];
  client.on("warning", (w) => warnings.push(w));
  client.on("failed", (f) => failed.push(f));
  const browser = client.track("Viewed Pricing", {}, {
    userId: "user-ctx-1",
    context: {
      library: { name: "batchwire", version: "0.1.0" },
      locale: "fr-FR",
      sessionId: 1_700_000_000_000,
      page: { path: "/pricing", url: "https://example.com/pricing" },
      userAgent: CHROME_ON_WINDOWS,
      timezone: "Europe/Paris",
      screen: { width: 1920, height: 1080 },
      ip: "192.0.2.7",
    },
  });
  const server = client.track("Order Completed", {}, {
    userId: "user-ctx-2",
    context: {
      os: { name: "iOS", version: "17.1" },
      device: { manufacturer: "Apple", model: "iPhone15,2", brand: "Apple" },
      app: { version: "2.1.0", build: "210" },
      location: { country: "France", region: "IDF", city: "Paris", latitude: 48.8566, longitude: 2.3522 },
      locale: 7, // the wrong type: left out
      campaign: { name: "spring" },
      foo: "bar",
    },
  });
  await client.closeAndFlush({ timeoutMs: 5000 });
  const events = await waitStored(c, [browser, server]);
  const byId = Object.fromEntries(events.map((e) => [e.insert_id, e]));
  const pick = (e, keys) => Object.fromEntries(keys.filter((k) => k in e).map((k) => [k, e[k]]));
  const fields = ["library", "language", "session_id", "platform", "os_name", "os_version", "device_model",
    "device_brand", "device_manufacturer", "app_version", "ip", "country", "region", "city", "location_lat",
    "location_lng", "context", "timezone", "screen", "campaign", "foo"];
  assert.deepEqual(pick(byId[browser], fields), {
    library: "batchwire/0.1.0",
    language: "fr-FR",
    session_id: 1_700_000_000_000,
    platform: "Web",
    os_name: "Chrome",
    os_version: "120",
    device_model: "Windows",
    ip: "192.0.2.7",
  });
  assert.deepEqual(pick(byId[server], fields), {
    os_name: "iOS",
    os_version: "17.1",
    device_model: "iPhone15,2",
    device_brand: "Apple",
    device_manufacturer: "Apple",
    app_version: "2.1.0",
    country: "France",
    region: "IDF",
    city: "Paris",
    location_lat: 48.8566,
    location_lng: 2.3522,
  });
  assert.deepEqual(failed, []);
  const ctx = warnings.filter((w) => w.code === "W_CONTEXT_NOT_SENT");
  assert.deepEqual(ctx.map((w) => [w.messageId, w.message]),
    [[server, "context.foo is not sent to Amplitude (field: context)"]]);
});
