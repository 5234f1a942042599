// Where a burst's main-thread time goes: `node bench/burst.mjs --profile` records a CPU profile
// (CDP Profiler, sampled every 100 µs) over each burst, and this reads it: the sampled self time
// per event grouped (fetch, IndexedDB, garbage collection, TextEncoder/Decoder, the package's
// JavaScript, its wasm, a peer SDK's, Chromium's own "(program)"), then the functions with the most
// self time, the package's named by its source map (src/web/js/store.js:97), not as minified.
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Starts sampling on a page's CDP session; `Profiler.stop` ends it. */
export async function startProfile(cdp) {
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
  await cdp.send("Profiler.start");
}

// Chromium's own functions that are IndexedDB's.
const IDB = new Set(["put", "delete", "get", "getAll", "getAllKeys", "transaction", "objectStore", "commit", "open"]);
const group = (f, url) =>
  f === "(idle)" ? "idle"
  : f === "(garbage collector)" ? "garbage collection"
  : f === "(program)" ? "Chromium, unattributed (program)"
  : f === "fetch" && !url ? "fetch() (native)"
  : IDB.has(f) && !url ? "IndexedDB (native)"
  : ["encodeInto", "encode", "decode"].includes(f) && !url ? "TextEncoder / TextDecoder"
  : f.startsWith("wasm-function") ? "the package's wasm"
  : url.includes("/pkg/") ? "the package's JavaScript"
  : url.includes("/peer/") ? "the peer SDK's JavaScript"
  : url ? "the page's JavaScript (the bench's own)"
  : "other native";

// Where a position of the minified module comes from, "source:line", by its source map: the
// mappings are base64 VLQ segments (column, source, line, column[, name]), each relative to the
// one before.
function sourceMap(file) {
  let map;
  try {
    map = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return () => "";
  }
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const lines = [];
  let src = 0, line = 0, col = 0;
  for (const text of map.mappings.split(";")) {
    const segs = [];
    let gen = 0;
    for (const seg of text ? text.split(",") : []) {
      const v = [];
      for (let i = 0, shift = 0, n = 0; i < seg.length; i++) {
        const d = B64.indexOf(seg[i]);
        n += (d & 31) << shift;
        if (d & 32) shift += 5;
        else v.push(n & 1 ? -(n >>> 1) : n >>> 1), (n = 0), (shift = 0);
      }
      gen += v[0];
      if (v.length >= 4) (src += v[1]), (line += v[2]), (col += v[3]), segs.push([gen, src, line]);
    }
    lines.push(segs);
  }
  return (l, c) => {
    let hit;
    for (const s of lines[l] ?? []) if (s[0] <= c) hit = s;
    return hit ? `${map.sources[hit[1]]}:${hit[2] + 1}` : "";
  };
}

/** The report's lines for `profile` (Profiler.stop's) over a burst of `n` events of the package
 * in `pkg` (its index.js.map names the package's functions). */
export function profileReport(profile, n, pkg, top = 20) {
  const where = sourceMap(join(pkg, "index.js.map"));
  const nodes = new Map(profile.nodes.map((x) => [x.id, x.callFrame]));
  const fns = new Map(), groups = new Map();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const f = nodes.get(id), dt = profile.timeDeltas[i] ?? 0, g = group(f.functionName, f.url);
    if (g === "idle") return;
    const at = f.url.endsWith("/pkg/index.js") ? where(f.lineNumber, f.columnNumber) : "";
    const name = `${f.functionName || "(anonymous)"} ${at || (f.url ? f.url.split("/").pop() + ":" + (f.lineNumber + 1) : "")}`.trim();
    busy += dt;
    fns.set(name, (fns.get(name) ?? 0) + dt);
    groups.set(g, (groups.get(g) ?? 0) + dt);
  });
  const per = (us) => `${(us / n).toFixed(2).padStart(7)} µs/event`;
  return [
    `  sampled, not idle: ${(busy / n).toFixed(1)} µs/event; by group:`,
    ...[...groups].sort((a, b) => b[1] - a[1]).map(([g, us]) => `  ${per(us)}  ${g}`),
    `  the ${top} functions with the most self time:`,
    ...[...fns].sort((a, b) => b[1] - a[1]).slice(0, top).map(([f, us]) => `  ${per(us)}  ${f}`),
  ];
}
