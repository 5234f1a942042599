// Answers no honest server gives, made up by a proxy (tests/e2e/proxy.mjs) between the page and
// the real collector: Retry-After values that are not delay-seconds, absurd waits, a give-up
// horizon inside a long rate limit, redirects, responses that never end, 2xx answers that do not
// confirm delivery (docs/PROTOCOLS.md sections E and F).
//
// Every test checks the same three things besides its own: nothing lost (each tracked messageId
// is reported delivered or failed exactly once, and the queue ends empty), nothing stored twice
// (the collector de-duplicates on messageId; GET /_events holds each at most once), and no flood
// (the proxy never sees more than FLOOD_BOUND requests, of any method, within any 1 s).
//
// The client backs off with backoffBaseMs = backoffMaxMs = 1, so every backoff step is the
// engine's floor, 500 ms: retries come twice a second, and a wait the engine chose shows up
// exactly in its `rateLimited` report.
import test from "node:test";
import assert from "node:assert/strict";
import { countById, setup, waitFor } from "./harness.mjs";
import { startProxy } from "./proxy.mjs";

const FLOOR_MS = 500; // protocol::RETRY_FLOOR_MS
const FLOOD_BOUND = 5;
const N = 20; // events per test: one request's worth (flushAt 20)
const RATE_LIMITED = JSON.stringify({ success: false, error: "Rate limit exceeded: max 100 requests per minute per (org, IP)", code: "rate_limited" });

// A page whose client sends through a proxy in front of this test's collector, and records every
// report (window.all) with the time it was dispatched.
// `context`: options of the browser context (e.g. a timezoneId).
async function world(t, options = {}, context) {
  const env = await setup(t);
  const proxy = await startProxy(env.collector.url);
  t.after(() => proxy.close());
  env.apiHost = proxy.url;
  if (context) env.context = await env.browser.newContext(context);
  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({
    storage: "memory", flushAt: N, backoffBaseMs: 1, backoffMaxMs: 1, ...options,
  }));
  await page.evaluate(() => {
    window.all = { delivered: [], failed: [], warning: [], rateLimited: [] };
    for (const k of Object.keys(window.all)) client.on(k, (p) => window.all[k].push({ at: Date.now(), ...p }));
  });
  return { env, proxy, page };
}

// Tracks N events and starts a flush; returns their messageIds.
async function send(page, name) {
  const ids = await page.evaluate(([n, name]) => trackMany(n, name), [N, name]);
  await page.evaluate(() => flushSoon());
  return ids;
}

const reports = (page) => page.evaluate(() => window.all);

// Waits until every id is reported delivered or failed; returns the reports.
async function settled(env, page, ids, timeout = 30_000) {
  let all;
  await waitFor(async () => {
    all = await reports(page);
    const done = new Set([...all.delivered.flatMap((d) => d.messageIds), ...all.failed.map((f) => f.messageId)]);
    return ids.every((id) => done.has(id));
  }, { timeout, what: () => `every event reported (delivered ${all?.delivered.length}, failed ${all?.failed.length})\n${env.diagnostics()}` });
  return all;
}

// Nothing lost, nothing reported twice, nothing stored twice, no flood. `outcome` is "delivered"
// or a failure code every event must have failed with; returns the stored counts by messageId.
async function invariants(env, proxy, page, ids, outcome) {
  // A report that would come late (twice, or after a failure) has had time to arrive.
  await new Promise((r) => setTimeout(r, 300));
  const all = await reports(page);
  const delivered = all.delivered.flatMap((d) => d.messageIds);
  const failed = all.failed.map((f) => f.messageId);
  const times = countById([...delivered, ...failed].map((messageId) => ({ messageId })));
  assert.deepEqual(ids.filter((id) => times.get(id) !== 1), [], "events not reported exactly once");
  assert.equal(delivered.length + failed.length, ids.length, "reports of events never tracked");
  if (outcome === "delivered") {
    assert.deepEqual(all.failed, [], "an event failed");
  } else {
    assert.deepEqual(all.delivered, [], "an event was reported delivered");
    assert.deepEqual([...new Set(all.failed.map((f) => f.code))], [outcome]);
  }
  const s = await page.evaluate(() => stats());
  assert.deepEqual({ queued: s.queued, inFlight: s.inFlight }, { queued: 0, inFlight: 0 });

  const stored = countById(await env.collector.events());
  assert.deepEqual([...stored].filter(([, n]) => n > 1), [], "events stored twice");
  assert.deepEqual(proxy.strays().map((r) => `${r.method} ${r.path}`), [], "requests that were not POST or OPTIONS");
  assert.ok(proxy.peak(1000) <= FLOOD_BOUND,
    `${proxy.peak(1000)} requests within 1 s (bound ${FLOOD_BOUND}): ${JSON.stringify(proxy.log.map((r) => [r.method, r.atMs]))}`);
  return stored;
}

// The first POST is a rate-limit 429 (not forwarded: nothing stored) with `retryAfter`; then
// normal service. Returns what the test needs to judge the wait.
async function rateLimitedOnce(t, retryAfter, options = {}, context) {
  const w = await world(t, options, context);
  w.proxy.rule = ({ n }) => (n === 0
    ? { status: 429, headers: { "content-type": "application/json", "retry-after": retryAfter }, body: RATE_LIMITED }
    : undefined);
  const ids = await send(w.page, `Limited ${retryAfter}`);
  const all = await settled(w.env, w.page, ids);
  await invariants(w.env, w.proxy, w.page, ids, "delivered");
  const posts = w.proxy.posts();
  assert.equal(posts[0].action, "replace-429");
  assert.ok(posts.length >= 2);
  assert.equal(all.rateLimited.length, 1, "the rate limit was not reported once");
  const answered = posts[0].answeredMs;
  // The engine's chosen wait, measured from the proxy's answer (one clock: same machine).
  const chosen = all.rateLimited[0].until - answered;
  const next = posts[1].atMs - answered;
  t.diagnostic(`wait chosen ${chosen} ms after the 429; next request ${next} ms after it; ${posts.length} POSTs`);
  return { ...w, ids, all, chosen, next };
}

for (const [label, value] of [["-5", "-5"], ["1.5", "1.5"], ["junk", "soon"], ["a past HTTP-date", "Thu, 01 Jan 2015 00:00:00 GMT"]]) {
  test(`Retry-After ${label} on a rate limit is ignored: one backoff step (never zero), then delivered`, { timeout: 60_000 }, async (t) => {
    const { chosen, next } = await rateLimitedOnce(t, value);
    // At least the floor, never zero, and not a reading of the value: -5 as 5 s, 1.5 as 1.5 or
    // 2 s, an HTTP-date in the past as anything long.
    assert.ok(chosen >= FLOOR_MS && chosen < 1400, `wait chosen: ${chosen} ms after the 429`);
    assert.ok(next >= FLOOR_MS, `the next request came ${next} ms after the 429`);
  });
}

test("Retry-After 999999999 is cut to maxRetryAfterMs with W_RETRY_AFTER_CAPPED, then delivered", { timeout: 60_000 }, async (t) => {
  const cap = 2000;
  const { all, chosen, next } = await rateLimitedOnce(t, "999999999", { maxRetryAfterMs: cap });
  const capped = all.warning.filter((w) => w.code === "W_RETRY_AFTER_CAPPED");
  assert.equal(capped.length, 1, `warnings: ${JSON.stringify(all.warning)}`);
  assert.ok(chosen >= cap && chosen < cap + 900, `wait chosen: ${chosen} ms after the 429`);
  assert.ok(next >= cap, `the next request came ${next} ms after the 429`);
});

// The third HTTP-date form, asctime, carries no zone and means GMT. The page runs in Auckland
// (UTC+13 in December), where reading it as local time would put it 13 hours in the past.
test("Retry-After as an asctime HTTP-date (GMT without saying so) holds requests until that time", { timeout: 60_000 }, async (t) => {
  const until = Math.ceil((Date.now() + 4000) / 1000) * 1000;
  const [day, date, mon, year, time] = new Date(until).toUTCString().replace(",", "").split(" ");
  const asctime = `${day} ${mon} ${date.replace(/^0/, " ")} ${time} ${year}`;
  const { proxy, all } = await rateLimitedOnce(t, asctime, {}, { timezoneId: "Pacific/Auckland" });
  t.diagnostic(`Retry-After: ${asctime}`);
  assert.ok(all.rateLimited[0].until >= until, `held until ${all.rateLimited[0].until - until} ms after the date`);
  const early = proxy.posts().slice(1).filter((p) => p.atMs < until);
  assert.deepEqual(early.map((p) => p.atMs - until), [], "requests before the Retry-After date (ms)");
});

test("the give-up horizon fails every event during a long rate limit", { timeout: 60_000 }, async (t) => {
  const giveUp = 3000;
  const { env, proxy, page } = await world(t, { giveUpAfterMs: giveUp });
  proxy.rule = () => ({ status: 429, headers: { "content-type": "application/json", "retry-after": "120" }, body: RATE_LIMITED });
  const tracked = Date.now();
  const ids = await send(page, "Limited Past The Horizon");
  const all = await settled(env, page, ids, 20_000);
  await invariants(env, proxy, page, ids, "E_RETRY_HORIZON");
  assert.equal(all.rateLimited.length, 1);
  const answered = proxy.posts()[0].answeredMs;
  assert.ok(all.rateLimited[0].until - answered >= 119_000, "the 120 s rate limit was not taken");
  // Failed at the horizon, not at the end of the rate limit, and nothing sent meanwhile.
  const last = Math.max(...all.failed.map((f) => f.at));
  assert.ok(last - tracked < giveUp + 5000, `failed ${last - tracked} ms after tracking`);
  assert.equal(proxy.posts().length, 1, "a request went out during the rate limit");
  assert.equal((await env.collector.events()).length, 0);
});

test("a 302 is not followed: W_REDIRECT, no GET anywhere, delivered once the redirects stop", { timeout: 60_000 }, async (t) => {
  const { env, proxy, page } = await world(t);
  const redirects = 3;
  // Back to the proxy itself, so a followed redirect would be logged whatever its method.
  proxy.rule = ({ n }) => (n < redirects ? { redirect: `${proxy.url}/moved/v1-batch` } : undefined);
  const ids = await send(page, "Redirected");
  const all = await settled(env, page, ids);
  const stored = await invariants(env, proxy, page, ids, "delivered");
  assert.deepEqual(ids.filter((id) => stored.get(id) !== 1), [], "events not stored");
  const posts = proxy.posts();
  assert.equal(posts.length, redirects + 1, `POSTs: ${JSON.stringify(posts.map((p) => p.action))}`);
  for (const p of posts) assert.deepEqual(p.ids, ids, "a resend did not carry the same messageIds");
  const warned = all.warning.filter((w) => w.code === "W_REDIRECT");
  assert.equal(warned.length, redirects, JSON.stringify(all.warning));
  // The browser hides the Location: the warning must not name an empty one.
  assert.ok(warned.every((w) => !/to\s+not/.test(w.message)), warned[0].message);
  t.diagnostic(`W_REDIRECT: ${warned[0].message}`);
  // The collector's own log: every request it saw was a POST to /v1-batch (the one forwarded).
  const log = (await env.collector.stats()).log;
  assert.deepEqual(log.map((r) => `${r.method} ${r.path}`), ["POST /v1-batch"]);
});

// The first POST is held open (forwarded first or not); then normal service.
async function heldOpen(t, hang, forward) {
  const timeout = 1500;
  const { env, proxy, page } = await world(t, { requestTimeoutMs: timeout });
  proxy.rule = ({ n }) => (n === 0 ? { hang, forward } : undefined);
  const ids = await send(page, `Held ${hang}`);
  await settled(env, page, ids);
  const stored = await invariants(env, proxy, page, ids, "delivered");
  assert.deepEqual(ids.filter((id) => stored.get(id) !== 1), [], "events not stored");
  const posts = proxy.posts();
  assert.equal(posts[0].action, `hang-${hang}`);
  assert.equal(posts.length, 2, `POSTs: ${JSON.stringify(posts.map((p) => p.action))}`);
  assert.deepEqual(posts[1].ids, ids, "the resend did not carry the same messageIds");
  // Given up by the timeout, not before it.
  const after = posts[1].atMs - posts[0].atMs;
  assert.ok(after >= timeout, `resent ${after} ms after the held request`);
  assert.ok((await page.evaluate(() => stats())).retried >= N);
  t.diagnostic(`resent ${after} ms after the held request`);
  return { env };
}

test("a response that never starts is aborted after requestTimeoutMs and resent with the same messageIds", { timeout: 60_000 }, async (t) => {
  await heldOpen(t, "silent", false);
});

test("a response whose body never ends (events stored) is aborted, resent, stored once", { timeout: 60_000 }, async (t) => {
  const { env } = await heldOpen(t, "headers", true);
  assert.ok((await env.collector.stats()).events.duplicates >= N, "the held request had not been stored");
});

test("a 200 with HTML (events stored) is not a delivery: resent, stored once, delivered once the proxy stops lying", { timeout: 60_000 }, async (t) => {
  const { env, proxy, page } = await world(t);
  const lies = 3;
  proxy.rule = ({ n }) => (n < lies
    ? { forward: true, status: 200, headers: { "content-type": "text/html" }, body: "<!doctype html><title>Sign in to the Wi-Fi</title><form></form>" }
    : undefined);
  const ids = await send(page, "Portal");
  const all = await settled(env, page, ids);
  const stored = await invariants(env, proxy, page, ids, "delivered");
  assert.deepEqual(ids.filter((id) => stored.get(id) !== 1), [], "events not stored");
  const posts = proxy.posts();
  assert.equal(posts.length, lies + 1, `POSTs: ${JSON.stringify(posts.map((p) => p.action))}`);
  for (const p of posts) assert.deepEqual(p.ids, ids, "a resend did not carry the same messageIds");
  assert.ok(posts.slice(0, lies).every((p) => p.upstream === 200), "the collector did not store the lied-about requests");
  assert.equal((await env.collector.stats()).events.duplicates, lies * N);
  // Reported only after the honest answer.
  assert.ok(all.delivered.every((d) => d.at >= posts[lies].answeredMs), "delivered before the collector's own answer");
});

// Every POST gets `answer` (forwarded first when `forward`); each event must fail E_UNCONFIRMED
// after exactly 10 such answers, never delivered. Returns the stored counts.
async function neverConfirmed(t, answer, forward) {
  const { env, proxy, page } = await world(t);
  proxy.rule = () => ({ forward, status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(answer) });
  const ids = await send(page, "Unconfirmed");
  const all = await settled(env, page, ids);
  await page.evaluate(() => client.flush());
  t.diagnostic(`E_UNCONFIRMED: ${all.failed[0].reason}`);
  const stored = await invariants(env, proxy, page, ids, "E_UNCONFIRMED");
  const posts = proxy.posts();
  assert.equal(posts.length, 10, `POSTs: ${posts.length}`);
  for (const p of posts) assert.deepEqual(p.ids, ids, "a resend did not carry the same messageIds");
  return { env, stored, ids };
}

test("a server that never confirms: every event fails E_UNCONFIRMED after 10 answers, never delivered", { timeout: 60_000 }, async (t) => {
  const { stored } = await neverConfirmed(t, { success: true }, false);
  assert.equal(stored.size, 0);
});

test("accepted: 0, failed: N without naming them (events stored) is not a delivery: E_UNCONFIRMED, stored once", { timeout: 60_000 }, async (t) => {
  const { env, stored, ids } = await neverConfirmed(t, { success: false, accepted: 0, failed: N, errors: [], warnings: [] }, true);
  assert.deepEqual(ids.filter((id) => stored.get(id) !== 1), [], "events not stored");
  assert.equal((await env.collector.stats()).events.duplicates, 9 * N);
});

test("a 200 naming one event twice as failed (failed: 2) confirms nothing: resent, stored once, then delivered", { timeout: 60_000 }, async (t) => {
  const { env, proxy, page } = await world(t);
  const lies = 2;
  proxy.rule = ({ n, ids }) => {
    if (n >= lies) return undefined;
    const err = { index: 1, messageId: ids[1], error: "event name too long" };
    const body = { success: false, accepted: ids.length - 2, failed: 2, errors: [err, err], warnings: [] };
    return { forward: true, status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  };
  const ids = await send(page, "Named Twice");
  await settled(env, page, ids);
  const stored = await invariants(env, proxy, page, ids, "delivered");
  assert.deepEqual(ids.filter((id) => stored.get(id) !== 1), [], "events not stored");
  const posts = proxy.posts();
  assert.equal(posts.length, lies + 1, `POSTs: ${JSON.stringify(posts.map((p) => p.action))}`);
  for (const p of posts) assert.deepEqual(p.ids, ids, "a resend did not carry the same messageIds");
});

// setTimeout fires at once for a delay above 2^31-1 ms (about 24.8 days): a request timeout set
// beyond it must still mean "a long time", not "abort every request".
test("a requestTimeoutMs beyond setTimeout's range does not abort every request", { timeout: 60_000 }, async (t) => {
  const { env, proxy, page } = await world(t, { requestTimeoutMs: 2 ** 32 });
  const ids = await send(page, "Long Timeout");
  await settled(env, page, ids);
  const stored = await invariants(env, proxy, page, ids, "delivered");
  assert.deepEqual(ids.filter((id) => stored.get(id) !== 1), [], "events not stored");
  assert.equal(proxy.posts().length, 1, "a request was given up and resent");
});
