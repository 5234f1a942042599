// A small static server for the demo and the end-to-end tests: www/ at /, the built package at
// /pkg/, on 127.0.0.1 only. Prints "serving http://HOST:PORT" once listening (port 0 picks one).
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(import.meta.url), "../..");
const mounts = [["/pkg/", join(root, "pkg")], ["/", join(root, "www")]];
const types = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".json": "application/json", ".wasm": "application/wasm", ".map": "application/json",
  ".ts": "text/plain; charset=utf-8",
};

export function serve({ port = 0, extraMounts = [] } = {}) {
  const all = [...extraMounts, ...mounts];
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    for (const [prefix, dir] of all) {
      if (!path.startsWith(prefix)) continue;
      let file = normalize(join(dir, path.slice(prefix.length)));
      if (!file.startsWith(dir)) break; // no escaping the mount with ../
      try {
        if ((await stat(file)).isDirectory()) file = join(file, "index.html");
        const body = await readFile(file);
        res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
        res.end(body);
        return;
      } catch {
        break;
      }
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found\n");
  });
  return new Promise((ok) => server.listen(port, "127.0.0.1", () => ok(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.PORT ?? process.argv[2] ?? 8080);
  const server = await serve({ port });
  console.log(`serving http://127.0.0.1:${server.address().port}`);
}
