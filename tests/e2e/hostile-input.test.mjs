// 52 kinds of hostile input from JavaScript. Each either throws an Error carrying a stable `code`
// (never a raw TypeError, a string, a hang or a dead wasm module), or, for the engine's own rules
// that a page applies after the call returned (a name over 200 characters, an empty name), is
// reported through `failed` with that code for the messageId the call returned, or is coerced the
// documented way: JSON semantics (what JSON.stringify would send), checked on the event the
// collector stored.
// After every case a normal event is tracked, and all of those must arrive: the client keeps
// working whatever it was fed.
import test from "node:test";
import assert from "node:assert/strict";
import { setup, waitForIds } from "./harness.mjs";

const MiB = 1024 * 1024;

// expect:
//   throws: [codes]            must throw one of these codes, or be refused with one through `failed`
//   stored: (event) => bool    must not throw; the stored event satisfies the check
//   either: { throws, stored } either outcome is acceptable (both are documented behaviours)
// `run` is the body of a function of `client` evaluated in the page; it returns a messageId.
const P = (e) => e.properties ?? {};
const CASES = [
  // properties that JSON cannot represent
  { name: "cyclic properties", run: `const p = {a: 1}; p.self = p; return client.track("Cyclic", p);`, throws: ["E_INVALID_EVENT"] },
  { name: "cycle through an array", run: `const a = []; a.push(a); return client.track("Cyclic3", {a});`, throws: ["E_INVALID_EVENT"] },
  { name: "window as a property", run: `return client.track("Window", {w: window});`, throws: ["E_INVALID_EVENT", "E_TOO_LARGE"] },
  { name: "BigInt value", run: `return client.track("BigInt", {n: 10n});`, either: { throws: ["E_INVALID_EVENT"], stored: (e) => P(e).n === "10" || P(e).n === 10 } },
  { name: "function value", run: `return client.track("Fn", {f() {}, keep: 1});`, either: { throws: ["E_INVALID_EVENT"], stored: (e) => !("f" in P(e)) && P(e).keep === 1 } },
  { name: "symbol value", run: `return client.track("Sym", {s: Symbol("x"), keep: 1});`, either: { throws: ["E_INVALID_EVENT"], stored: (e) => !("s" in P(e)) && P(e).keep === 1 } },
  { name: "symbol key", run: `return client.track("SymKey", {[Symbol("k")]: 1, keep: 1});`, stored: (e) => JSON.stringify(P(e)) === '{"keep":1}' },
  { name: "NaN", run: `return client.track("NaN", {x: NaN});`, either: { throws: ["E_INVALID_EVENT"], stored: (e) => P(e).x === null } },
  { name: "Infinity", run: `return client.track("Inf", {x: Infinity});`, either: { throws: ["E_INVALID_EVENT"], stored: (e) => P(e).x === null } },
  { name: "-Infinity in an array", run: `return client.track("NegInf", {x: [1, -Infinity]});`, either: { throws: ["E_INVALID_EVENT"], stored: (e) => JSON.stringify(P(e).x) === "[1,null]" } },
  { name: "-0", run: `return client.track("NegZero", {x: -0});`, stored: (e) => P(e).x === 0 },
  { name: "undefined value", run: `return client.track("Undef", {u: undefined, keep: 1});`, stored: (e) => !("u" in P(e)) && P(e).keep === 1 },
  { name: "sparse array", run: `return client.track("Sparse", {a: [1, , 3]});`, stored: (e) => JSON.stringify(P(e).a) === "[1,null,3]" },
  // sizes
  { name: "600 KB string value (fits a request)", run: `return client.track("HugeString", {s: "h".repeat(600000)});`, stored: (e) => P(e).s?.length === 600000 },
  { name: "2 MiB event", run: `return client.track("TwoMiB", {s: "x".repeat(${2 * MiB})});`, throws: ["E_TOO_LARGE"] },
  { name: "nesting 20 deep", run: `let o = {leaf: 1}; for (let i = 0; i < 20; i++) o = {o}; return client.track("Deep20", o);`, either: { throws: ["E_INVALID_EVENT"], stored: (e) => JSON.stringify(P(e)).split("{").length === 22 } },
  { name: "nesting 100,000 deep", run: `let o = {}; for (let i = 0; i < 100000; i++) o = {o}; return client.track("Deep", o);`, throws: ["E_INVALID_EVENT", "E_TOO_LARGE"] },
  { name: "1,000 property keys", run: `const p = {}; for (let i = 0; i < 1000; i++) p["k" + i] = i; return client.track("ManyKeys", p);`, stored: (e) => Object.keys(P(e)).length === 1000 && P(e).k999 === 999 },
  { name: "10 KB property key", run: `return client.track("LongKey", {["k".repeat(10000)]: 1});`, either: { throws: ["E_INVALID_EVENT"], stored: (e) => P(e)["k".repeat(10000)] === 1 } },
  // event names
  { name: "name of 200 chars (the limit)", run: `return client.track("n".repeat(200));`, stored: (e) => e.event === "n".repeat(200) },
  { name: "name of 201 chars", run: `return client.track("n".repeat(201));`, throws: ["E_INVALID_EVENT"] },
  { name: "empty name", run: `return client.track("");`, throws: ["E_INVALID_EVENT"] },
  { name: "name is a number", run: `return client.track(42);`, either: { throws: ["E_INVALID_EVENT"], stored: (e) => e.event === "42" } },
  { name: "name is null", run: `return client.track(null);`, throws: ["E_INVALID_EVENT"] },
  { name: "name is undefined", run: `return client.track();`, throws: ["E_INVALID_EVENT"] },
  { name: "name is an object", run: `return client.track({toString() { return "sneaky"; }});`, throws: ["E_INVALID_EVENT"] },
  { name: "name with a lone surrogate", run: `return client.track("bad\\uD800name");`, either: { throws: ["E_INVALID_EVENT"], stored: (e) => e.event === "bad\uFFFDname" } },
  // properties of the wrong type
  { name: "properties null", run: `return client.track("PropsNull", null);`, stored: (e) => e.properties == null || JSON.stringify(e.properties) === "{}" },
  { name: "properties array", run: `return client.track("PropsArray", [1, 2]);`, throws: ["E_INVALID_EVENT"] },
  { name: "properties number", run: `return client.track("PropsNumber", 5);`, throws: ["E_INVALID_EVENT"] },
  { name: "properties string", run: `return client.track("PropsString", "abc");`, throws: ["E_INVALID_EVENT"] },
  // objects with behaviour
  { name: "Date value", run: `return client.track("Date", {d: new Date(Date.UTC(2024, 0, 2, 3, 4, 5))});`, either: { throws: ["E_INVALID_EVENT"], stored: (e) => P(e).d === "2024-01-02T03:04:05.000Z" } },
  { name: "Map value", run: `return client.track("Map", {m: new Map([["a", 1]])});`, either: { throws: ["E_INVALID_EVENT"], stored: (e) => JSON.stringify(P(e).m) === "{}" } },
  { name: "class instance", run: `class Cart { constructor() { this.items = 2; } get total() { return 9; } } return client.track("Class", {c: new Cart()});`, stored: (e) => JSON.stringify(P(e).c) === '{"items":2}' },
  { name: "getter that throws", run: `return client.track("Getter", {get boom() { throw new TypeError("boom"); }});`, throws: ["E_INVALID_EVENT"] },
  { name: "toJSON that throws", run: `return client.track("ToJSONThrows", {x: {toJSON() { throw new Error("nope"); }}});`, throws: ["E_INVALID_EVENT"] },
  { name: "toJSON that returns a value", run: `return client.track("ToJSON", {x: {toJSON() { return "custom"; }}});`, either: { throws: ["E_INVALID_EVENT"], stored: (e) => P(e).x === "custom" } },
  { name: "proxy whose ownKeys trap throws", run: `return client.track("ProxyThrows", new Proxy({}, {ownKeys() { throw new Error("trap"); }}));`, throws: ["E_INVALID_EVENT"] },
  { name: "transparent proxy", run: `return client.track("Proxy", new Proxy({a: 1}, {}));`, stored: (e) => P(e).a === 1 },
  { name: "frozen object", run: `return client.track("Frozen", Object.freeze({a: Object.freeze([1])}));`, stored: (e) => JSON.stringify(P(e)) === '{"a":[1]}' },
  { name: "null-prototype object", run: `const p = Object.create(null); p.a = 1; return client.track("NullProto", p);`, stored: (e) => P(e).a === 1 },
  // strings
  { name: "emoji, CJK, RTL and NUL", run: `return client.track("Ünïcødé 🎉", {s: "日本語 עברית 🧪\\u0000end"});`, stored: (e) => e.event === "Ünïcødé 🎉" && P(e).s === "日本語 עברית 🧪\u0000end" },
  { name: "NUL in a name", run: `return client.track("bad\\u0000name");`, throws: ["E_INVALID_EVENT"] },
  { name: "NUL in a userId", run: `return client.track("NulUser", {}, {userId: "u\\u0000v"});`, throws: ["E_INVALID_EVENT"] },
  { name: "lone surrogate in a value", run: `return client.track("LoneValue", {s: "a\\uDC00b"});`, either: { throws: ["E_INVALID_EVENT"], stored: (e) => P(e).s === "a\uFFFDb" } },
  // prototype pollution
  { name: "__proto__ key from JSON.parse", run: `return client.track("Proto", JSON.parse('{"__proto__": {"polluted": 1}, "keep": 1}'));`, either: { throws: ["E_INVALID_EVENT"], stored: (e) => P(e).keep === 1 } },
  { name: "constructor and prototype keys", run: `return client.track("CtorKeys", {constructor: 1, prototype: 2});`, stored: (e) => P(e).constructor === 1 && P(e).prototype === 2 },
  // identities and the other calls
  { name: "userId of 100,000 chars", run: `return client.track("LongUser", {}, {userId: "u".repeat(100000)});`, either: { throws: ["E_INVALID_EVENT", "E_TOO_LARGE"], stored: (e) => e.userId === "u".repeat(100000) } },
  { name: "userId is an object", run: `return client.track("ObjUser", {}, {userId: {id: 1}});`, throws: ["E_INVALID_EVENT"] },
  { name: "identify with an object userId", run: `return client.identify({id: 1}, {plan: "pro"});`, throws: ["E_INVALID_EVENT"] },
  { name: "alias(undefined)", run: `return client.alias(undefined);`, throws: ["E_INVALID_EVENT"] },
  { name: "group with cyclic traits", run: `const t = {}; t.t = t; return client.group("g-1", t);`, throws: ["E_INVALID_EVENT"] },
];

test("52 kinds of hostile input: a coded error or a documented coercion, and the client keeps working", { timeout: 120_000 }, async (t) => {
  assert.equal(CASES.length, 52);
  const env = await setup(t);
  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({ storage: "memory", flushAt: 100, maxQueueBytes: 64 * MiB }));

  const results = await page.evaluate(async (cases) => {
    const out = [], refused = {};
    window.client.on("failed", (f) => (refused[f.messageId] = f.code));
    for (const c of cases) {
      const r = { name: c.name };
      try {
        r.messageId = new Function("client", c.run)(window.client);
        r.threw = false;
      } catch (e) {
        r.threw = true;
        r.isError = e instanceof Error;
        r.code = e?.code;
        r.errorName = e?.name;
        r.message = String(e?.message ?? e).slice(0, 200);
      }
      try {
        r.canary = window.client.track("Canary", { after: c.name });
      } catch (e) {
        r.canaryError = String(e?.message ?? e).slice(0, 200);
      }
      out.push(r);
    }
    await new Promise((ok) => setTimeout(ok)); // the microtasks that hand events over and report
    for (const r of out) r.refused = refused[r.messageId];
    return out;
  }, CASES.map(({ name, run }) => ({ name, run })));
  const polluted = await page.evaluate(() => ({}).polluted !== undefined);
  await page.evaluate(() => client.flush());

  // Every canary and every event the client accepted must be stored.
  const accepted = results.filter((r) => !r.threw && !r.refused && typeof r.messageId === "string").map((r) => r.messageId);
  const canaries = results.filter((r) => r.canary).map((r) => r.canary);
  let stored = [];
  try {
    stored = await waitForIds(env, [...canaries, ...accepted], { timeout: 30_000 });
  } catch (e) {
    stored = await env.collector.events();
    t.diagnostic(e.message.split("\n")[0]);
  }
  const byId = new Map(stored.map((e) => [e.messageId, e]));

  // What the SDK chose where two behaviours are acceptable, for the record.
  const chosen = CASES.map((c, i) => [c, results[i]]).filter(([c]) => c.either)
    .map(([c, r]) => `${c.name}: ${r.threw ? r.code : r.refused ? "refused " + r.refused : "coerced"}`);
  t.diagnostic(`either-way cases: ${chosen.join("; ")}`);

  for (const [i, c] of CASES.entries()) {
    const r = results[i];
    await t.test(`${i + 1}. ${c.name}`, () => {
      assert.equal(r.canaryError, undefined, "the client stopped working after this input");
      assert.ok(byId.has(r.canary), "the normal event tracked after this input was not delivered");
      const throws = c.throws ?? c.either?.throws;
      const check = c.stored ?? c.either?.stored;
      if (r.threw) {
        assert.ok(throws, `threw ${r.errorName} ${r.code}: ${r.message} — expected it to be accepted`);
        assert.ok(r.isError, `threw a non-Error: ${r.message}`);
        assert.ok(throws.includes(r.code), `threw code ${r.code} (${r.errorName}: ${r.message}); expected ${throws}`);
      } else if (r.refused) {
        assert.ok(throws, `refused with ${r.refused} through failed — expected it to be accepted`);
        assert.ok(throws.includes(r.refused), `refused with ${r.refused}; expected ${throws}`);
        assert.ok(!byId.has(r.messageId), "refused, yet the collector stored it");
      } else {
        assert.ok(check, `accepted (messageId ${r.messageId}) — expected a ${throws} error`);
        assert.equal(typeof r.messageId, "string", "an accepted event returns its messageId");
        const e = byId.get(r.messageId);
        assert.ok(e, "accepted but never stored");
        assert.ok(check(e), `stored form is not the documented coercion: ${JSON.stringify(e).slice(0, 300)}`);
      }
    });
  }
  await t.test("Object.prototype was not polluted", () => assert.equal(polluted, false));
});
