// Identity in a browser: the user identify() names and their traits are kept per write key and
// restored by the next page; reset() (a logout) forgets them, here and for later pages, and starts
// a new anonymousId. Events carry the identity they were tracked with.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, setup, waitForIds } from "./harness.mjs";

test("identify survives a reload; reset() clears it and starts a new anonymousId", { timeout: 90_000 }, async (t) => {
  const env = await setup(t);
  const options = env.options({ storage: "memory", flushAt: 1 });
  const page = await env.open();
  await page.evaluate((o) => make(o), options);
  const first = await page.evaluate(() => {
    const ids = [client.identify("user-123", { plan: "pro" }), client.identify("user-123", { seats: 5 })];
    return { ids, user: client.user() };
  });
  assert.equal(first.user.userId, "user-123");
  assert.deepEqual(first.user.traits, { plan: "pro", seats: 5 }, "traits of one user merge");
  await page.evaluate(() => client.flush());

  // A new page: the user is restored, and its events say so without being told.
  await page.reload();
  await page.waitForFunction("window.bwReady === true");
  await page.evaluate((o) => make(o), options);
  const second = await page.evaluate(() => ({ user: client.user(), id: client.track("After Reload") }));
  assert.equal(second.user.userId, "user-123", "the userId was not restored");
  assert.deepEqual(second.user.traits, { plan: "pro", seats: 5 });
  assert.equal(second.user.anonymousId, first.user.anonymousId);

  // Logout: later events carry no userId and a new anonymousId; a reload stays logged out.
  const third = await page.evaluate(() => {
    client.reset();
    return { user: client.user(), id: client.track("After Reset") };
  });
  assert.equal(third.user.userId, null);
  assert.deepEqual(third.user.traits, {});
  assert.notEqual(third.user.anonymousId, first.user.anonymousId, "reset() kept the anonymousId");
  await page.evaluate(() => client.flush());
  await page.reload();
  await page.waitForFunction("window.bwReady === true");
  await page.evaluate((o) => make(o), options);
  const fourth = await page.evaluate(() => ({ user: client.user(), id: client.track("After Second Reload") }));
  assert.equal(fourth.user.userId, null, "a reload brought back the user reset() forgot");
  assert.equal(fourth.user.anonymousId, third.user.anonymousId, "the new anonymousId was not kept");
  await page.evaluate(() => client.flush());

  const ids = [...first.ids, second.id, third.id, fourth.id];
  const events = await waitForIds(env, ids);
  assertExactlyOnce(assert, events, ids);
  const by = Object.fromEntries(events.map((e) => [e.messageId, e]));
  assert.equal(by[second.id].userId, "user-123");
  assert.equal(by[second.id].anonymousId, first.user.anonymousId);
  assert.equal(by[third.id].userId ?? null, null, "an event after reset() still named the user");
  assert.equal(by[third.id].anonymousId, third.user.anonymousId);
  assert.equal(by[fourth.id].userId ?? null, null);
  assert.equal(by[fourth.id].anonymousId, third.user.anonymousId);
});
