// What a page adds to each event: the context fields under the Segment spec's names (library,
// page, userAgent, locale, timezone, screen), page()'s default properties, each field turned off
// by the `context` option, the caller's context merged over it, and the session id, which
// rotates after the inactivity timeout (scaled down here) and is shared by the tabs; for
// Amplitude, the same as Amplitude's own event fields.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, setup, waitForIds } from "./harness.mjs";
import { ampOptions, assertStoredOnce, waitForInsertIds } from "./amplitude.mjs";

const open = async (env, options) => {
  const page = await env.open("/e2e/index.html?from=test");
  await page.evaluate(() => (document.title = "Context Page"));
  await page.evaluate((o) => make(o), options);
  return page;
};

test("every event carries the page's context; page() sends the page's fields as properties", { timeout: 90_000 }, async (t) => {
  const env = await setup(t);
  const page = await open(env, env.options({ storage: "memory", flushAt: 1 }));
  const seen = await page.evaluate(async () => ({
    ua: navigator.userAgent, lang: navigator.language, tz: Intl.DateTimeFormat().resolvedOptions().timeZone,
    screen: { width: screen.width, height: screen.height, density: devicePixelRatio }, url: location.href,
    version: await bw.version(),
    ids: [client.track("Clicked", { a: 1 }), client.page("Home", { a: 2 }),
      client.track("Own Context", {}, { context: { campaign: { name: "winter" }, locale: "fr-FR" } }),
      // The URL is read again after the History API or a fragment changed it, the title each time.
      (history.pushState({}, "", "?from=pushed"), client.track("Pushed")),
      ((document.title = "Retitled"), client.track("Retitled")),
      // hashchange comes in a task of its own
      await new Promise((ok) => ((location.hash = "#part"), setTimeout(() => ok(client.track("Fragment")), 10)))],
  }));
  await page.evaluate(() => client.flush());
  const events = await waitForIds(env, seen.ids);
  assertExactlyOnce(assert, events, seen.ids);
  const by = Object.fromEntries(events.map((e) => [e.messageId, e]));
  const c = by[seen.ids[0]].context;
  assert.deepEqual(c.library, { name: "batchwire", version: seen.version });
  assert.deepEqual(c.page, { path: "/e2e/index.html", referrer: "", search: "?from=test", title: "Context Page", url: seen.url });
  assert.equal(c.userAgent, seen.ua);
  assert.equal(c.locale, seen.lang);
  assert.equal(c.timezone, seen.tz);
  assert.deepEqual(c.screen, seen.screen);
  assert.ok(c.sessionId > Date.now() - 60_000 && c.sessionId <= Date.now(), `sessionId ${c.sessionId} is the session's start`);
  // page(): the page's fields are its default properties, the caller's win.
  assert.deepEqual(by[seen.ids[1]].properties, { path: "/e2e/index.html", referrer: "", search: "?from=test", title: "Context Page", url: seen.url, a: 2 });
  // The caller's context is merged over the client's.
  const own = by[seen.ids[2]].context;
  assert.deepEqual(own.campaign, { name: "winter" });
  assert.equal(own.locale, "fr-FR");
  assert.equal(own.userAgent, seen.ua);
  assert.equal(by[seen.ids[3]].context.page.search, "?from=pushed");
  assert.equal(by[seen.ids[3]].context.page.url, seen.url.replace("?from=test", "?from=pushed"));
  assert.equal(by[seen.ids[4]].context.page.title, "Retitled");
  assert.equal(by[seen.ids[5]].context.page.url, seen.url.replace("?from=test", "?from=pushed") + "#part");
});

test("the context option turns fields off one by one, or all", { timeout: 90_000 }, async (t) => {
  const env = await setup(t);
  const page = await open(env, env.options({ storage: "memory", flushAt: 1, context: { userAgent: false, page: false } }));
  const ids = await page.evaluate(() => [client.track("Some"), client.page("No Defaults")]);
  await page.evaluate(async (o) => {
    await make(o);
    window.ids2 = [client.track("None")];
    await client.flush();
  }, env.options({ storage: "memory", flushAt: 1, context: false, sessionTimeoutMs: 0 }));
  const none = await page.evaluate(() => window.ids2);
  await page.evaluate(() => client.flush());
  const all = [...ids, ...none];
  const events = await waitForIds(env, all);
  assertExactlyOnce(assert, events, all);
  const by = Object.fromEntries(events.map((e) => [e.messageId, e]));
  const some = by[ids[0]].context;
  assert.equal(some.userAgent, undefined);
  assert.equal(some.page, undefined);
  assert.ok(some.library && some.locale && some.timezone && some.screen, JSON.stringify(some));
  assert.equal(by[ids[1]].properties ?? undefined, undefined, "page() added the page's fields with context.page off");
  assert.equal(by[none[0]].context ?? undefined, undefined, "context: false and no sessions still sent a context");
  // A misspelt field is refused, naming it.
  const err = await page.evaluate((o) => make(o).catch((e) => [e.code, e.message]), env.options({ context: { userAgnet: false } }));
  assert.equal(err[0], "E_CONFIG");
  assert.match(err[1], /context\.userAgnet/);
});

test("the session id holds while events come, rotates after the timeout, and is shared by tabs", { timeout: 90_000 }, async (t) => {
  const env = await setup(t);
  const options = env.options({ storage: "memory", flushAt: 1, sessionTimeoutMs: 3000 });
  const a = await open(env, options);
  const b = await open(env, options);
  const ids = [];
  const track = async (page, name) => ids.push(await page.evaluate((n) => client.track(n), name));
  await track(a, "a1");
  await a.waitForTimeout(1100); // written at most once a second: this one is written
  await track(a, "a2"); // 1.1 s after a1: the same session
  await track(b, "b1"); // another tab, idle until now: joins the session a2 kept alive
  await a.waitForTimeout(4000);
  await track(a, "a3"); // 4 s without events: a new session
  await track(b, "b2");
  await Promise.all([a.evaluate(() => client.flush()), b.evaluate(() => client.flush())]);
  const events = await waitForIds(env, ids);
  assertExactlyOnce(assert, events, ids);
  const sid = Object.fromEntries(events.map((e) => [e.properties?.x ?? e.event, e.context.sessionId]));
  assert.equal(sid.a2, sid.a1, "the session rotated while events kept coming");
  assert.equal(sid.b1, sid.a1, "the second tab started a session of its own");
  assert.notEqual(sid.a3, sid.a1, "the session did not rotate after the timeout");
  assert.ok(sid.a3 > sid.a1);
  assert.equal(sid.b2, sid.a3, "the second tab did not join the new session");
});

test("Amplitude: the page's context arrives as Amplitude's own fields", { timeout: 90_000 }, async (t) => {
  const env = await setup(t);
  const page = await open(env, ampOptions(env, { flushAt: 1 }));
  const seen = await page.evaluate(async () => ({
    lang: navigator.language, version: await bw.version(), ua: navigator.userAgent,
    ids: [client.track("Clicked"), client.page("Home")],
  }));
  await page.evaluate(() => client.flush());
  const events = await waitForInsertIds(env, seen.ids);
  assertStoredOnce(events, seen.ids);
  const major = seen.ua.match(/Chrome\/(\d+)/)[1];
  for (const e of events) {
    assert.equal(e.library, `batchwire/${seen.version}`);
    assert.equal(e.language, seen.lang);
    assert.equal(e.platform, "Web");
    assert.equal(e.os_name, "Chrome", `os_name from ${seen.ua}`);
    assert.equal(e.os_version, major);
    assert.equal(e.device_model, "Linux");
    assert.ok(e.session_id > Date.now() - 60_000 && e.session_id <= Date.now(), `session_id ${e.session_id}`);
    assert.equal(e.context, undefined, "Amplitude got a context object");
  }
  const viewed = events.find((e) => e.event_type === "Viewed Home");
  assert.equal(viewed.event_properties.title, "Context Page", "page()'s page fields as event_properties");
  assert.equal((await page.evaluate(() => window.notes.warning.count)), 0, "the browser's own context warned");
});
