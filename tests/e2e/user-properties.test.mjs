// Amplitude user-property updates (docs/PROTOCOLS.md D): the SDK counts each user's updates over a
// rolling hour and warns W_USER_PROPERTY_LIMIT, naming the user, at 90 % of Amplitude's 1,800 and
// at every update past it, while still sending every event; `skipUserPropertiesSync` (for the
// client or one event) puts `$skip_user_properties_sync: true` at the top level of the event the
// collector stores, and such an event is not counted.
//
// The budgets are raised on both sides (100 events a second per identity) so that the 1,900
// identifies of one user (and device) go out at once: pacing is the subject of pacing.test.mjs.
import test from "node:test";
import assert from "node:assert/strict";
import { setup } from "./harness.mjs";
import { ampOptions, assertStoredOnce, pacingPage, waitForInsertIds } from "./amplitude.mjs";

const CODE = "W_USER_PROPERTY_LIMIT";
const LIMIT = 1800;
const N = 1900;
const collectorArgs = ["--eps-v2", "100"];
const fast = { identityEventsPerSecond: 100 };
const SKIP = "$skip_user_properties_sync";

test(`${N} identifies of one user warn ${CODE} naming the user, and every event is sent`, { timeout: 60_000 }, async (t) => {
  const env = await setup(t, { collectorArgs });
  const page = await pacingPage(env, ampOptions(env, fast));
  await page.evaluate((c) => keepWarnings(c), CODE);
  const user = "user-props-1";
  const ids = await page.evaluate(([n, u]) => identifyMany(n, u, { plan: "pro" }), [N, user]);
  await page.evaluate(() => flushSoon());
  const events = await waitForInsertIds(env, ids, { timeout: 30_000 });
  assertStoredOnce(events, ids);
  const mine = events.filter((e) => e.user_id === user);
  assert.equal(mine.length, N);
  assert.ok(mine.every((e) => e.event_type === "$identify" && e.user_properties?.$set?.plan === "pro"),
    "a stored event is not the identify sent");
  assert.ok(mine.every((e) => !(SKIP in e)), `an identify carried ${SKIP}`);

  const warnings = await page.evaluate((c) => window.kept[c], CODE);
  // At the 1,620th (90 %) and at each of the 100 past 1,800.
  assert.equal(warnings.length, 1 + (N - LIMIT), `warnings: ${JSON.stringify(warnings.slice(0, 3))}`);
  assert.ok(warnings.every((w) => w.message.includes(user)), `a warning does not name the user: ${JSON.stringify(warnings[0])}`);
  assert.match(warnings[0].message, /1620/);
  assert.match(warnings.at(-1).message, new RegExp(String(N)));
  t.diagnostic(`${warnings.length} warnings; first: ${warnings[0].message}; last: ${warnings.at(-1).message}`);
});

test("skipUserPropertiesSync for one event: the stored event carries $skip_user_properties_sync: true, the others do not", { timeout: 60_000 }, async (t) => {
  const env = await setup(t, { collectorArgs });
  const page = await pacingPage(env, ampOptions(env, fast));
  await page.evaluate((c) => keepWarnings(c), CODE);
  const user = "user-props-2";
  const plain = await page.evaluate((u) => client.track("Plain", { a: 1 }, { userId: u }), user);
  const skipped = await page.evaluate((u) => client.track("Skipped", { a: 2 }, { userId: u, skipUserPropertiesSync: true }), user);
  // Identifies that skip the sync update nothing, so they are not counted: no warning.
  const quiet = await page.evaluate(([n, u]) => identifyMany(n, u, { plan: "free" }, { skipUserPropertiesSync: true }), [N, user]);
  await page.evaluate(() => flushSoon());
  const events = await waitForInsertIds(env, [plain, skipped, ...quiet], { timeout: 30_000 });
  const byId = new Map(events.map((e) => [e.insert_id, e]));
  assert.equal(byId.get(skipped)[SKIP], true, `stored: ${JSON.stringify(byId.get(skipped))}`);
  assert.equal(byId.get(skipped).event_properties?.[SKIP], undefined, "it belongs at the top level");
  assert.ok(!(SKIP in byId.get(plain)), `stored: ${JSON.stringify(byId.get(plain))}`);
  assert.ok(quiet.every((id) => byId.get(id)[SKIP] === true), "an identify without the flag");
  assert.deepEqual(await page.evaluate((c) => window.kept[c], CODE), [], "skipped updates were counted");
});

test("skipUserPropertiesSync for the client: every stored event carries $skip_user_properties_sync: true", { timeout: 60_000 }, async (t) => {
  const env = await setup(t, { collectorArgs });
  const page = await pacingPage(env, ampOptions(env, { ...fast, skipUserPropertiesSync: true }));
  const ids = [
    await page.evaluate(() => client.track("Track", { a: 1 }, { userId: "user-props-3" })),
    await page.evaluate(() => client.identify("user-props-3", { plan: "team" })),
    await page.evaluate(() => client.page("Home")),
  ];
  await page.evaluate(() => flushSoon());
  const events = await waitForInsertIds(env, ids, { timeout: 20_000 });
  assertStoredOnce(events, ids);
  for (const e of events) assert.equal(e[SKIP], true, `stored: ${JSON.stringify(e)}`);
});
