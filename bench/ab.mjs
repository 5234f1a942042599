// A/B of two builds of the package on the burst bench (bench/burst.mjs): runs it on build A, then
// on build B, `--pairs` times (alternating, so that the machine's drift over the minutes falls on
// both), and prints per SDK and burst size the medians of each side and in how many pairs A read
// lower than B. On this 2-core machine one run's spread is wider than most changes: the pairs and
// the count of pairs A won are the reading, not one run (bench/README.md, "Task time and CPU time").
//
// usage: COLLECTOR_BIN=target/release/collector node bench/ab.mjs --a DIR --b DIR
//          [--pairs 4] [--sizes 10000,100000] [--sdks batchwire]
// DIR: a copy of pkg/ as `make package` built it (e.g. cp -r pkg target/pkg-new).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { flag, median } from "./results.mjs";

const A = flag("--a"), B = flag("--b");
if (!A || !B) {
  console.error("usage: node bench/ab.mjs --a DIR --b DIR [--pairs N] [--sizes N,N] [--sdks a,b]");
  process.exit(2);
}
const PAIRS = Number(flag("--pairs", 4));
const SIZES = flag("--sizes", "10000,100000");
const SDKS = flag("--sdks", "batchwire");
const BURST = join(fileURLToPath(new URL(".", import.meta.url)), "burst.mjs");
const scratch = mkdtempSync(join(tmpdir(), "bw-ab-"));

// The figures of one line burst.mjs prints for a row.
const LINE = /^(\S+) burst (\d+): ([\d.]+) µs\/event main thread, CPU ([\d.]+) µs; again ([\d.]+), CPU ([\d.]+) µs/;
const FIGURES = ["task", "cpu", "again task", "again cpu"];

function run(dir) {
  const out = execFileSync("node", [BURST, "--sizes", SIZES, "--sdks", SDKS, "--pkg", resolve(dir), "--out", join(scratch, "discard.md")],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const rows = {};
  for (const line of out.split("\n")) {
    const m = LINE.exec(line);
    if (m) rows[`${m[1]} ${m[2]}`] = m.slice(3).map(Number);
  }
  return rows;
}

const runs = { a: [], b: [] };
try {
  for (let i = 1; i <= PAIRS; i++) {
    runs.a.push(run(A));
    runs.b.push(run(B));
    console.log(`pair ${i} of ${PAIRS} done`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

console.log(`\nA: ${A}\nB: ${B}\n${PAIRS} pairs; µs per event, medians A / B, and the pairs in which A read lower`);
for (const row of Object.keys(runs.a[0] ?? {})) {
  const cells = FIGURES.map((name, f) => {
    const a = runs.a.map((r) => r[row]?.[f]), b = runs.b.map((r) => r[row]?.[f]);
    const won = a.filter((x, i) => x < b[i]).length;
    return `${name} ${median(a).toFixed(1)} / ${median(b).toFixed(1)} (${won} of ${PAIRS})`;
  });
  console.log(`${row.padEnd(24)} ${cells.join(", ")}`);
}
