// beforeSend(event) => event | null runs inside track() before validation: what it returns is
// what is validated, stored and sent (renamed, enriched), null drops the event, and an error it
// throws is reported through `failed` (E_BEFORE_SEND) with nothing queued.
import test from "node:test";
import assert from "node:assert/strict";
import { setup, waitForIds } from "./harness.mjs";

test("beforeSend renames, enriches and drops; its output is validated; its errors are reported", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  const page = await env.open();
  const out = await page.evaluate(async (o) => {
    const seen = [];
    const failed = [];
    window.client = await bw.createClient({
      ...o,
      storage: "memory",
      beforeSend(e) {
        seen.push({ type: e.type, event: e.event, name: e.name, userId: e.userId, anonymousId: e.anonymousId, messageId: e.messageId });
        if (e.event === "Debug Ping") return null;
        if (e.event === "Broken") throw new Error("middleware bug");
        if (e.event === "Too Long") return { ...e, event: "x".repeat(201) };
        if (e.event === "plan_changed") return { ...e, event: "Account Upgraded", properties: { ...e.properties, source: "web" } };
        if (e.type === "identify") return { ...e, traits: { ...e.traits, enriched: true } };
        // It sees the whole context, the client's and the event's: a URL's query is scrubbed.
        if (e.event === "Viewed") e.context.page.url = e.context.page.url.split("?")[0] + "?scrubbed";
        return e;
      },
    });
    client.on("failed", (f) => failed.push(f));
    const renamed = client.track("plan_changed", { plan: "pro" }, { userId: "u-1" });
    history.replaceState({}, "", "?token=secret");
    const kept = client.track("Viewed", { n: 1 }, { userId: "u-1", context: { campaign: { name: "c" } } });
    const dropped = client.track("Debug Ping", {});
    const broken = client.track("Broken", {});
    // A name over 200 characters breaks the engine's rule, which a page applies after the call
    // returned: reported through `failed`.
    const tooLong = client.track("Too Long", {});
    const identified = client.identify("u-1", { plan: "pro" });
    let config;
    try {
      await bw.createClient({ ...o, beforeSend: "nope" });
    } catch (e) {
      config = `${e.code} ${e.message}`;
    }
    await client.flush();
    await new Promise((ok) => setTimeout(ok, 50)); // listeners run in a later task
    return { seen, failed, renamed, kept, dropped, broken, tooLong, identified, config, stats: client.stats() };
  }, env.options());

  assert.equal(typeof out.dropped, "string", "a dropped event's call still returns its messageId");
  assert.match(out.config, /^E_CONFIG .*beforeSend/);
  assert.equal(out.seen[0].type, "track");
  assert.equal(out.seen[0].event, "plan_changed");
  assert.equal(out.seen[0].userId, "u-1");
  assert.ok(out.seen[0].anonymousId && out.seen[0].messageId === out.renamed, "the event seen carries its ids");
  assert.deepEqual(out.failed.map((f) => [f.messageId, f.code]), [[out.broken, "E_BEFORE_SEND"], [out.tooLong, "E_INVALID_EVENT"]],
    "beforeSend's error, and its output validated");
  assert.match(out.failed[0].reason, /middleware bug/);
  assert.match(out.failed[1].reason, /event name is 201 characters/);
  assert.equal(out.stats.delivered, 3, "renamed, kept and identify delivered; nothing else queued");

  const ids = [out.renamed, out.kept, out.identified];
  const events = await waitForIds(env, ids);
  const by = Object.fromEntries(events.map((e) => [e.messageId, e]));
  assert.equal(by[out.renamed].event, "Account Upgraded");
  assert.deepEqual(by[out.renamed].properties, { plan: "pro", source: "web" });
  assert.equal(by[out.kept].event, "Viewed");
  assert.match(by[out.kept].context.page.url, /\/e2e\/index\.html\?scrubbed$/, "beforeSend's change to the client's context was not kept");
  assert.deepEqual(by[out.kept].context.campaign, { name: "c" }, "the event's own context was not merged under beforeSend");
  assert.equal(by[out.kept].context.page.search, "?token=secret");
  assert.ok(!by[out.renamed].context.page.url.includes("scrubbed"), "one event's change leaked into another's context");
  assert.deepEqual(by[out.identified].traits, { plan: "pro", enriched: true });
  const all = await env.collector.events();
  assert.ok(!all.some((e) => e.messageId === out.dropped || e.messageId === out.broken));
  assert.equal(all.length, 3, `only the three kept events reached the collector: ${all.map((e) => e.event)}`);
});
