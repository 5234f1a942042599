// The process around a client: SIGTERM with handleSignals delivers (or reports) what is queued
// and then ends the process as the signal would have; an idle process exits at once, since the
// client's timers are unref'd, and what is still queued at a natural exit is sent first.
import test from "node:test";
import assert from "node:assert/strict";
import { app, collector, run, stored, waitStored, WRITE_KEY } from "./helpers.mjs";

// A child that queues `n` events (the flush interval a minute away, so only closing sends them),
// prints their ids and "ready", and stays alive until a signal, unless told to return.
const child = (url, { n = 20, extra = "", stay = true } = {}) => `
import { createClient } from "batchwire";
const client = await createClient({ writeKey: ${JSON.stringify(WRITE_KEY)}, apiHost: ${JSON.stringify(url)},
  flushIntervalMs: 60000, backoffBaseMs: 100, backoffMaxMs: 200, ${extra} });
client.on("failed", (f) => console.log("failed " + f.messageId + " " + f.code));
const ids = [];
for (let i = 0; i < ${n}; i++) ids.push(client.track("Queued", { i }, { userId: "user-" + (i % 4) }));
console.log("ids " + JSON.stringify(ids));
console.log("ready");
${stay ? "setInterval(() => {}, 1000);" : ""}
`;
const idsOf = (stdout) => JSON.parse(/^ids (.*)$/m.exec(stdout)[1]);

test("SIGTERM with handleSignals: everything queued is delivered, then the process ends by the signal", { timeout: 60_000 }, async (t) => {
  const c = await collector(t);
  const a = app(t);
  const p = run(a.dir, child(c.url, { extra: "handleSignals: true" }));
  await p.ready;
  p.kill("SIGTERM");
  const r = await p.done;
  assert.equal(r.signal, "SIGTERM", `ended by the signal (code ${r.code}): ${r.stderr}`);
  assert.ok(r.ms < 20_000, `took ${r.ms} ms`);
  const ids = idsOf(r.stdout);
  assert.equal((await waitStored(c, ids, 5000)).length, ids.length);
});

test("SIGINT with handleSignals against a failing collector: what is left is reported E_SHUTDOWN", { timeout: 60_000 }, async (t) => {
  const c = await collector(t);
  await c.faults({ fail_rate: 1, statuses: [503], seed: 4 });
  const a = app(t);
  const p = run(a.dir, child(c.url, { n: 6, extra: "handleSignals: true, signalTimeoutMs: 1000" }));
  await p.ready;
  p.kill("SIGINT");
  const r = await p.done;
  assert.equal(r.signal, "SIGINT", `ended by the signal (code ${r.code}): ${r.stderr}`);
  const reported = [...r.stdout.matchAll(/^failed (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]);
  assert.deepEqual(reported.sort(), idsOf(r.stdout).map((id) => [id, "E_SHUTDOWN"]).sort(), r.stdout);
});

test("without handleSignals, SIGTERM ends the process at once as usual", { timeout: 30_000 }, async (t) => {
  const c = await collector(t);
  const p = run(app(t).dir, child(c.url, { n: 3 }));
  await p.ready;
  p.kill("SIGTERM");
  const r = await p.done;
  assert.equal(r.signal, "SIGTERM");
  assert.deepEqual(await stored(c, idsOf(r.stdout)), [], "nothing was flushed: the handler is opt-in");
});

test("a natural exit sends what is queued first, and an idle client does not keep the process alive", { timeout: 60_000 }, async (t) => {
  const c = await collector(t);
  const a = app(t);
  // The flush interval is a minute: only the exit hook sends them, and the unref'd timer lets the
  // process end long before the minute.
  const r = await run(a.dir, child(c.url, { n: 7, stay: false }), { killAfter: 30_000 }).done;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.ms < 20_000, `exited after ${r.ms} ms`);
  const ids = idsOf(r.stdout);
  assert.equal((await stored(c, ids)).length, ids.length, "every queued event left at exit");
  // Idle: a client that has sent everything (or nothing) lets the process end.
  const idle = await run(a.dir, `
import { createClient } from "batchwire";
const client = await createClient({ writeKey: ${JSON.stringify(WRITE_KEY)}, apiHost: ${JSON.stringify(c.url)} });
client.track("One", {}, { userId: "u" });
await client.flush();
console.log("flushed");
`, { killAfter: 30_000 }).done;
  assert.equal(idle.code, 0, idle.stderr);
  assert.match(idle.stdout, /flushed/);
  assert.ok(idle.ms < 10_000, `an idle process took ${idle.ms} ms to exit`);
});
