// Server mode, the Node default: one client serves many users, so identity is per event only.
// identify() does not stick, no anonymousId is shared, an event naming nobody is refused, and where
// /v1-batch requires an anonymousId the caller did not give, the one derived from the userId is
// sent: the same for every event of that user, different between users.
import test from "node:test";
import assert from "node:assert/strict";
import { app, collector, waitStored, WRITE_KEY } from "./helpers.mjs";

test("server mode: identity per event, no sticking, derived anonymousId stable per user", { timeout: 60_000 }, async (t) => {
  const c = await collector(t);
  const { createClient } = await app(t).load();
  const client = await createClient({ writeKey: WRITE_KEY, apiHost: c.url });
  const ids = {
    aliceIdentify: client.identify("alice", { plan: "pro" }),
    bob: client.track("Viewed", {}, { userId: "bob" }),
    device: client.track("Viewed", {}, { anonymousId: "device-7" }),
    alice: client.track("Paid", {}, { userId: "alice" }),
    bob2: client.page("Home", {}, { userId: "bob" }),
  };
  await client.closeAndFlush({ timeoutMs: 10_000 });
  const events = await waitStored(c, Object.values(ids));
  const by = Object.fromEntries(Object.entries(ids).map(([k, id]) => [k, events.find((e) => e.messageId === id)]));
  // identify("alice") did not stick: later events of others do not carry her.
  assert.equal(by.bob.userId, "bob");
  assert.equal(by.device.userId, undefined, "an event of a device alone names no user");
  assert.equal(by.device.anonymousId, "device-7", "a given anonymousId is kept");
  // Derived: one per user, the same on each of that user's events.
  assert.equal(by.aliceIdentify.anonymousId, by.alice.anonymousId);
  assert.equal(by.bob.anonymousId, by.bob2.anonymousId);
  assert.notEqual(by.alice.anonymousId, by.bob.anonymousId, "users do not share a device");
  assert.match(by.alice.anonymousId, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  // Nothing is kept: user() names nobody after identify(), and reset() has nothing to forget.
  assert.deepEqual(client.user(), { userId: null, anonymousId: null, traits: {} });
  client.reset();
  assert.deepEqual(client.user(), { userId: null, anonymousId: null, traits: {} });
  // ...and stable across clients (and processes): derived from the userId alone.
  const again = await createClient({ writeKey: WRITE_KEY, apiHost: c.url });
  const later = again.track("Paid", {}, { userId: "alice" });
  await again.closeAndFlush({ timeoutMs: 10_000 });
  assert.equal((await waitStored(c, [later]))[0].anonymousId, by.alice.anonymousId);
});

test("server mode: an event with neither userId nor anonymousId is refused, naming the field", { timeout: 30_000 }, async (t) => {
  const c = await collector(t);
  const { createClient } = await app(t).load();
  const client = await createClient({ writeKey: WRITE_KEY, apiHost: c.url });
  for (const call of [
    () => client.track("Nobody"),
    () => client.track("Nobody", {}, {}),
    () => client.track("Nobody", {}, { userId: "" }),
    () => client.page("Home", {}, { anonymousId: null }),
    () => client.group("g1", {}),
  ]) {
    assert.throws(call, (e) => e.name === "BatchwireError" && e.code === "E_INVALID_EVENT" && /\(field: userId\)/.test(e.message));
  }
  // identify() names its user: no other id is needed, and the next event still needs its own.
  client.identify("carol");
  assert.throws(() => client.track("After identify"), { code: "E_INVALID_EVENT" });
  await assert.rejects(createClient({ writeKey: WRITE_KEY, apiHost: c.url, anonymousId: "shared" }), { code: "E_CONFIG" });
  await assert.rejects(createClient({ writeKey: WRITE_KEY, apiHost: c.url, mode: "serverless" }), { code: "E_CONFIG" });
  assert.equal(client.stats().queued + client.stats().inFlight + client.stats().delivered, 1, "only carol's identify was taken");
  await client.closeAndFlush({ timeoutMs: 10_000 });
  assert.equal(client.stats().delivered, 1);
});

test("browser mode in Node keeps the browser's rules: identify() sticks", { timeout: 30_000 }, async (t) => {
  const c = await collector(t);
  const { createClient } = await app(t).load();
  const client = await createClient({ writeKey: WRITE_KEY, apiHost: c.url, mode: "browser", anonymousId: "device-b" });
  client.identify("dave");
  const id = client.track("Clicked");
  await client.flush();
  const [e] = await waitStored(c, [id]);
  assert.equal(e.userId, "dave");
  assert.equal(e.anonymousId, "device-b");
  await client.shutdown();
});
