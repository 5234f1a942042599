// engine.js over the built wasm, in Node: the JavaScript wrapper of edge/src/abi.rs is what the
// Worker runs, so each of its calls is exercised once here (the behaviour itself is tested
// natively in edge/tests). Builds the wasm first (scripts/edge-build.sh: quick when up to date).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

import { Engine, EdgeConfigError } from "../../edge/worker/engine.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
execFileSync("scripts/edge-build.sh", { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
const wasm = await WebAssembly.compile(await readFile(`${root}/target/edge/batchwire_edge.wasm`));
const engine = await Engine.load(wasm);

const enc = new TextEncoder();
const dec = new TextDecoder();
const env = {
  UP_KEY: "uk_live_up",
  ADMIN: "adm",
  BATCHWIRE_EDGE_CONFIG: {
    shards: 1,
    adminKeySecret: "ADMIN",
    cors: ["https://app.example.com"],
    sources: { uk_live_src: { destination: "up", mapping: { events: { rename: { "Signed Up": "signup" } } } } },
    destinations: {
      up: { protocol: "v1-batch", url: "http://127.0.0.1:9", keySecret: "UP_KEY", options: { flushAt: 2, flushIntervalMs: 50 } },
    },
  },
  SOME_BINDING: { not: "a string" },
};

test("configure: the summary, the cache, and errors naming their field", () => {
  const cfg = engine.configure(env);
  assert.equal(cfg.shards, 1);
  assert.equal(cfg.maxBodyBytes, 1048576);
  assert.deepEqual(cfg.cors, ["https://app.example.com"]);
  assert.deepEqual(cfg.perIp, { requests: 600, windowMs: 60000 });
  assert.equal(cfg.adminKey, "adm");
  assert.deepEqual(cfg.destinations, ["up"]);
  assert.equal(engine.configure(env), cfg, "the same env gives the same configuration");
  assert.equal(engine.configure({ ...env, BATCHWIRE_EDGE_CONFIG: JSON.stringify(env.BATCHWIRE_EDGE_CONFIG) }).shards, 1);
  assert.throws(
    () => engine.configure({ ...env, UP_KEY: undefined }),
    (e) => e instanceof EdgeConfigError && e.field === "destinations.up.keySecret" && /UP_KEY/.test(e.message),
  );
  assert.throws(
    () => engine.configure({ BATCHWIRE_EDGE_CONFIG: "{\"shards\": 0}" }),
    (e) => e instanceof EdgeConfigError && e.field === "shards",
  );
  const demo = engine.configure({});
  assert.deepEqual([demo.destinations, demo.cors, demo.adminKey], [["upstream"], ["*"], null]);
});

test("ingest, then a shard appends, sends, settles, dead-letters and replays", () => {
  const cfg = engine.configure(env);
  const body = JSON.stringify({
    batch: [
      { type: "track", event: "Signed Up", messageId: "m-1", anonymousId: "a-1" },
      { type: "track", messageId: "m-2", anonymousId: "a-1" },
      { type: "track", event: "Played", messageId: "m-3", anonymousId: "a-2" },
    ],
  });
  const now = 1_800_000_000_000;
  assert.equal(engine.ingest(cfg, "uk_live_nope", "batch", enc.encode(body), now).status, 401);
  assert.throws(() => engine.ingest(cfg, "uk_live_src", "csv", body, now), TypeError);
  const r = engine.ingest(cfg, "uk_live_src", "batch", enc.encode(body), now);
  assert.equal(r.status, 200);
  const answer = JSON.parse(r.body);
  assert.deepEqual([answer.accepted, answer.failed, answer.errors[0].index, answer.errors[0].messageId], [2, 1, 1, "m-2"]);
  assert.equal(r.parts.length, 1);
  assert.equal(r.parts[0].shard, "up#0");
  assert.ok(r.parts[0].events instanceof Uint8Array);

  const hook = engine.ingest(cfg, "uk_live_src", "webhook", JSON.stringify({ event: "x", userId: "u-1" }), now);
  assert.equal(JSON.parse(hook.body).accepted, 1);

  const shard = engine.shard(cfg, "up#0", 12345);
  assert.throws(() => engine.shard(cfg, "nope#0", 1), /names no shard/);
  const store = new Map();
  const apply = ({ puts = [], deletes = [] }) => {
    for (const [k, v] of puts) store.set(k, v);
    for (const k of deletes) store.delete(k);
  };
  const a = shard.append(r.parts[0].events, now);
  assert.deepEqual(a.puts.map(([k]) => k), ["q:0000000000000000", "q:0000000000000001"]);
  apply(a);
  const dup = shard.append(r.parts[0].events, now + 1);
  assert.deepEqual(dup.puts.map(([k]) => k), a.puts.map(([k]) => k), "not queued twice");

  let step = shard.poll(now + 60);
  apply(step);
  assert.equal(step.sends.length, 1);
  const send = step.sends[0];
  assert.equal(send.url, "http://127.0.0.1:9/v1-batch");
  assert.equal(send.headers.Authorization, "Bearer uk_live_up");
  assert.equal(send.timeoutMs, 30000);
  const sent = JSON.parse(dec.decode(send.body));
  assert.deepEqual(sent.batch.map((e) => [e.messageId, e.event]), [["m-1", "signup"], ["m-3", "Played"]]);
  assert.equal(typeof step.alarm, "number");

  // A 5xx: retried later, nothing written.
  shard.response(send.id, 503, "120", enc.encode("{}"), now + 70);
  step = shard.poll(now + 71);
  assert.deepEqual([step.sends.length, step.puts.length, step.deletes.length], [0, 0, 0]);
  assert.ok(step.alarm >= now + 70 + 120_000, "the Retry-After is honoured");
  assert.ok(step.log.some((l) => l.kind === "retrying"));
  shard.timeout(step.alarm);
  step = shard.poll(step.alarm);
  assert.equal(step.sends.length, 1);
  assert.deepEqual(JSON.parse(dec.decode(step.sends[0].body)), sent, "the same bytes");

  // A 401: both dead-lettered in the step that empties the queue.
  shard.response(step.sends[0].id, 401, null, enc.encode('{"success":false,"error":"Invalid API key"}'), step.alarm + 5);
  step = shard.poll(step.alarm + 6);
  apply(step);
  assert.deepEqual([...store.keys()].sort(), ["d:m-1", "d:m-3"]);
  const dead = JSON.parse(dec.decode(store.get("d:m-1")));
  assert.deepEqual([dead.messageId, dead.code, dead.event.messageId], ["m-1", "E_HTTP", "m-1"]);
  assert.match(dead.reason, /401/);
  assert.equal(shard.stats().deadLetters, 2);

  // A restarted object restores its storage; a replay brings the letter back with its messageId.
  const again = engine.shard(cfg, "up#0", 99);
  assert.throws(() => shard.stats(), /released/, "a new shard of the name releases the old one");
  for (const [k, v] of [...store.entries()].sort()) again.restore(k, v, now + 10_000);
  assert.equal(again.stats().deadLetters, 2);
  const rp = again.replay("d:m-1", store.get("d:m-1"), now + 10_000);
  assert.deepEqual(rp.deletes, ["d:m-1"]);
  assert.equal(rp.puts.length, 1);
  apply(rp);
  step = again.poll(now + 10_100);
  const resent = JSON.parse(dec.decode(step.sends[0].body));
  assert.deepEqual(resent.batch.map((e) => e.messageId), ["m-1"]);
  again.failure(step.sends[0].id, now + 10_200);
  again.timeout(now + 20_000);
  step = again.poll(now + 20_000);
  const ok = JSON.stringify({ success: true, accepted: 1, failed: 0, errors: [], warnings: [] });
  again.response(step.sends[0].id, 200, null, ok, now + 20_010);
  step = again.poll(now + 20_011);
  apply(step);
  assert.deepEqual([...store.keys()], ["d:m-3"]);
  assert.ok(step.log.some((l) => l.kind === "delivered" && l.messageIds[0] === "m-1"));
  assert.equal(again.stats().delivered, 1);
  shard.free(); // already released: a no-op that must not touch `again`
  assert.equal(again.stats().delivered, 1);
  again.free();
  assert.throws(() => again.stats(), /released/);
});

test("a shard delivers to the collector over fetch; a wrong key's dead letters replay once fixed", async (t) => {
  execFileSync("cargo", ["build", "-q", "-p", "collector"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  const { collector, WRITE_KEY } = await import("../node/helpers.mjs");
  const c = await collector(t);
  const envFor = (key) => ({
    UP_KEY: key,
    BATCHWIRE_EDGE_CONFIG: {
      shards: 1,
      sources: { uk_live_src: { destination: "up" } },
      destinations: { up: { protocol: "v1-batch", url: c.url, keySecret: "UP_KEY", options: { flushIntervalMs: 10 } } },
    },
  });
  const store = new Map();
  const apply = ({ puts = [], deletes = [] }) => {
    for (const [k, v] of puts) store.set(k, v);
    for (const k of deletes) store.delete(k);
  };
  // The Durable Object's loop, bounded: poll, fetch each send, answer, until nothing is queued.
  const drive = async (shard) => {
    for (let i = 0; i < 50; i++) {
      const step = shard.poll(Date.now());
      apply(step);
      for (const s of step.sends) {
        try {
          const res = await fetch(s.url, { method: "POST", headers: s.headers, body: s.body, redirect: "manual", signal: AbortSignal.timeout(s.timeoutMs) });
          shard.response(s.id, res.status, res.headers.get("Retry-After"), new Uint8Array(await res.arrayBuffer()), Date.now());
        } catch {
          shard.failure(s.id, Date.now());
        }
      }
      const st = shard.stats();
      if (st.queued === 0 && st.inFlight === 0 && step.sends.length === 0) return;
      if (!step.sends.length) await new Promise((r) => setTimeout(r, Math.max(0, Math.min(50, (step.alarm ?? 0) - Date.now()))));
      if (step.alarm !== null && Date.now() >= step.alarm) shard.timeout(Date.now());
    }
    throw new Error("the shard never settled");
  };
  const ids = ["e-1", "e-2", "e-3"];
  const body = JSON.stringify({ batch: ids.map((id) => ({ type: "track", event: "Played", messageId: id, anonymousId: "a-1" })) });

  const wrong = engine.configure(envFor("uk_live_wrong"));
  const r = engine.ingest(wrong, "uk_live_src", "batch", body, Date.now());
  const shard = engine.shard(wrong, "up#0", 5);
  apply(shard.append(r.parts[0].events, Date.now()));
  await drive(shard);
  assert.deepEqual([...store.keys()].sort(), ids.map((id) => `d:${id}`));
  assert.match(JSON.parse(dec.decode(store.get("d:e-1"))).reason, /401/);
  assert.equal((await c.events()).length, 0);

  const fixed = engine.configure(envFor(WRITE_KEY));
  const again = engine.shard(fixed, "up#0", 6);
  for (const [k, v] of [...store.entries()].sort()) again.restore(k, v, Date.now());
  for (const k of [...store.keys()]) apply(again.replay(k, store.get(k), Date.now()));
  await drive(again);
  assert.equal(store.size, 0, [...store.keys()].join());
  const got = (await c.events()).map((e) => e.messageId).sort();
  assert.deepEqual(got, ids, "each stored once, with its messageId");
  again.free();
});

test("after a trap the engine refuses every call and says why", () => {
  const e = new Engine({
    memory: new WebAssembly.Memory({ initial: 1 }),
    bw_configure() {
      throw new WebAssembly.RuntimeError("unreachable");
    },
    bw_alloc: () => 8,
  });
  assert.throws(() => e.configure({}), WebAssembly.RuntimeError);
  assert.equal(e.broken, "unreachable");
  assert.throws(() => e.configure({ other: "env" }), /broken \(unreachable\); load a new Engine/);
  assert.equal(engine.broken, null, "the real engine never trapped");
});
