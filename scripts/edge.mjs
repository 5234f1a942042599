// The edge Worker run locally: workerd through miniflare, with its Durable Objects persisted on
// disk so that a restart finds their queues and dead letters.
//
//   node scripts/edge.mjs          (make edge)
//
// Environment: EDGE_ADDR (default 127.0.0.1:8788), UPSTREAM_URL (http://127.0.0.1:8787),
// UPSTREAM_WRITE_KEY (uk_live_demo), BATCHWIRE_EDGE_CONFIG (a file path or the JSON itself),
// EDGE_ADMIN_KEY, EDGE_STATE (the persist directory, default target/edge-state), EDGE_NO_BUILD=1
// (skip scripts/edge-build.sh). Every secret the configuration names (`keySecret`,
// `adminKeySecret`) is read from the environment variable of that name.
//
// `startEdge(options)` is the launcher the edge tests and the benchmark import.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Miniflare } from "miniflare";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const WASM = join(ROOT, "target/edge/batchwire_edge.wasm");
export const COMPATIBILITY_DATE = "2026-04-01";

/** Builds target/edge/batchwire_edge.wasm (scripts/edge-build.sh); throws when it fails. */
export function buildEdge({ quiet = false } = {}) {
  const r = spawnSync("bash", [join(ROOT, "scripts/edge-build.sh")], {
    cwd: ROOT, stdio: quiet ? ["ignore", "pipe", "pipe"] : "inherit", encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`scripts/edge-build.sh failed (${r.status})${quiet ? `:\n${r.stdout}${r.stderr}` : ""}`);
}

/** The configuration text of BATCHWIRE_EDGE_CONFIG: JSON as is, else a path to read. */
export function configText(value) {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "object") return JSON.stringify(value);
  return value.trimStart().startsWith("{") ? value : readFileSync(resolve(value), "utf8");
}

/** The secret names a configuration text refers to (to pass those variables through). */
function secretNames(text) {
  const names = new Set(["UPSTREAM_WRITE_KEY", "EDGE_ADMIN_KEY"]);
  if (text === undefined) return names;
  let cfg;
  try {
    cfg = JSON.parse(text);
  } catch {
    return names; // the engine's validation says what is wrong with it
  }
  if (typeof cfg?.adminKeySecret === "string") names.add(cfg.adminKeySecret);
  for (const d of Object.values(cfg?.destinations ?? {})) if (typeof d?.keySecret === "string") names.add(d.keySecret);
  return names;
}

/**
 * Validates the configuration as the Worker will (engine.js over the same wasm, in Node), so an
 * invalid one stops the launcher with the engine's message instead of every request failing.
 */
export async function checkConfig(bindings, root = ROOT) {
  const { Engine } = await import(pathToFileURL(join(root, "edge/worker/engine.js")).href);
  const engine = await Engine.load(await WebAssembly.compile(readFileSync(join(root, "target/edge/batchwire_edge.wasm"))));
  return engine.configure(bindings);
}

/** Pids of this process's workerd children. */
function workerdChildren() {
  const out = new Set();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(readFileSync(`/proc/${d}/stat`, "utf8"));
      if (m && Number(m[2]) === process.pid && m[1].startsWith("workerd")) out.add(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** utime + stime of `pid` in clock ticks (/proc/<pid>/stat fields 14 and 15). */
export function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

/**
 * Starts the Worker in workerd. Options:
 * - upstreamUrl, upstreamWriteKey: UPSTREAM_URL / UPSTREAM_WRITE_KEY (null leaves the key unset)
 * - config: BATCHWIRE_EDGE_CONFIG (an object, JSON text or a path); absent: the default one
 * - secrets: more bindings ({ NAME: value }), e.g. the keySecret and adminKeySecret values
 * - persistDir: where the Durable Objects' storage lives (default target/edge-state)
 * - root: the tree holding edge/worker/ and target/edge/ (default this repository)
 * - host, port (0: a free one), build (run scripts/edge-build.sh first), check (validate the
 *   configuration in Node first; default true), onOutput(line) for the Worker's console
 * - rateLimit: { limit, period } binds the Workers Rate Limiting binding EDGE_RATE_LIMITER
 * Resolves to { url, mf, pid, stop(), kill(), output() }.
 */
export async function startEdge({
  upstreamUrl = "http://127.0.0.1:8787", upstreamWriteKey = "uk_live_demo", config, secrets = {},
  persistDir = join(ROOT, "target/edge-state"), host = "127.0.0.1", port = 0, build = false, check = true,
  onOutput, root = ROOT, rateLimit,
} = {}) {
  if (build) buildEdge();
  const wasm = join(root, "target/edge/batchwire_edge.wasm");
  if (!existsSync(wasm)) throw new Error(`${wasm} is missing: run bash scripts/edge-build.sh`);
  const bindings = { UPSTREAM_URL: upstreamUrl, ...secrets };
  if (upstreamWriteKey !== null && upstreamWriteKey !== undefined) bindings.UPSTREAM_WRITE_KEY = upstreamWriteKey;
  const text = configText(config);
  if (text !== undefined) bindings.BATCHWIRE_EDGE_CONFIG = text;
  if (check) await checkConfig(bindings, root);

  const lines = [];
  const collect = (stream) => {
    let rest = "";
    stream.setEncoding("utf8").on("data", (chunk) => {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop();
      for (const l of parts) {
        lines.push(l);
        if (lines.length > 2000) lines.splice(0, lines.length - 1000);
        onOutput?.(l);
      }
    });
  };
  const before = workerdChildren();
  const mf = new Miniflare({
    host, port, cf: false, verbose: false,
    modules: true, modulesRoot: root, scriptPath: join(root, "edge/worker/index.js"),
    modulesRules: [{ type: "ESModule", include: ["**/*.js"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: COMPATIBILITY_DATE,
    bindings,
    durableObjects: { SHARD: { className: "Shard", useSQLite: true } },
    durableObjectsPersist: persistDir,
    ...(rateLimit ? { ratelimits: { EDGE_RATE_LIMITER: { simple: rateLimit } } } : {}),
    handleRuntimeStdio: (out, err) => { collect(out); collect(err); },
  });
  const url = (await mf.ready).href.replace(/\/$/, "");
  const pid = [...workerdChildren()].find((p) => !before.has(p)) ?? null;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await mf.dispose().catch(() => {});
  };
  return {
    url, mf, pid, stop,
    /** SIGKILL to workerd (a crash: no graceful end for anything in flight), then cleanup. */
    kill: async () => {
      if (pid !== null) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      await stop();
    },
    output: () => lines.join("\n"),
  };
}

async function main() {
  const [h, p] = (process.env.EDGE_ADDR ?? "127.0.0.1:8788").split(/:(?=\d+$)/);
  const env = process.env;
  let text;
  try {
    text = configText(env.BATCHWIRE_EDGE_CONFIG);
  } catch (e) {
    console.error(`edge: cannot read BATCHWIRE_EDGE_CONFIG: ${e.message}`);
    process.exit(2);
  }
  const secrets = {};
  for (const name of secretNames(text)) if (env[name] !== undefined) secrets[name] = env[name];
  if (env.EDGE_NO_BUILD !== "1") {
    try {
      buildEdge();
    } catch (e) {
      console.error(`edge: ${e.message}`);
      process.exit(1);
    }
  }
  let edge;
  try {
    edge = await startEdge({
      host: h, port: Number(p), config: text, secrets,
      upstreamUrl: env.UPSTREAM_URL ?? "http://127.0.0.1:8787",
      upstreamWriteKey: env.UPSTREAM_WRITE_KEY ?? "uk_live_demo",
      persistDir: resolve(env.EDGE_STATE ?? join(ROOT, "target/edge-state")),
      onOutput: (l) => console.log(l),
    });
  } catch (e) {
    console.error(`edge: ${e.name === "EdgeConfigError" ? "invalid configuration: " : ""}${e.message}`);
    process.exit(2);
  }
  console.log(`edge listening on ${edge.url}`);
  const end = async () => {
    await edge.stop();
    process.exit(0);
  };
  process.on("SIGINT", end);
  process.on("SIGTERM", end);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
