// A scriptable HTTP proxy between the page and the collector (node:http only), for answers a
// well-behaved collector never gives: a replaced status, headers or body, a redirect, a response
// that never ends. The page's apiHost is the proxy; the proxy forwards to the real collector.
//
// Every request is logged on arrival ({ n, atMs, method, path, ids, action, answeredMs }; `ids`
// are the messageIds of a POST's batch, `answeredMs` when the answer's head was written), so a test
// can prove that no GET arrived and that nothing flooded. Preflights (OPTIONS) are forwarded: the
// collector does CORS. An answer the proxy makes up carries the collector's CORS headers (any
// origin, Retry-After exposed), or the browser would turn it into a network error and the page
// would never see it.
//
// What a POST gets is decided by `proxy.rule(post)`, where `post` is { n (0-based among POSTs),
// path, ids }; it returns undefined (forward, pass the answer through) or one action:
//   { status, headers?, body?, forward? }  answer this instead; `forward: true` first forwards the
//                                          request and waits for the collector's answer (so it
//                                          stored the events), `false` (default) does not
//   { redirect: location, status? }        a 302 (or `status`) with Location; never forwarded
//   { hang: "silent" | "headers", forward? } hold the response open: nothing sent at all, or a 200
//                                          header and a partial body, never ended
// Other methods than POST and OPTIONS are answered 405 without forwarding (and logged).
import http from "node:http";

const CORS = { "access-control-allow-origin": "*", "access-control-expose-headers": "Retry-After" };
// A bound on what one request body may be: the proxy buffers it (the protocol's own 1 MiB cap,
// and some room).
const MAX_BODY = 2 * 1024 * 1024;
const MAX_LOG = 10_000;

/** Starts the proxy on 127.0.0.1, port 0, in front of `target` (the collector's base URL). */
export async function startProxy(target) {
  const upstream = new URL(target);
  const log = [];
  const sockets = new Set();
  const held = new Set();
  let posts = 0;
  let closed = false;
  const proxy = {
    url: "",
    /** Every request, in arrival order. */
    log,
    /** undefined: forward; else an action (see the file's head). Tests replace it at will. */
    rule: () => undefined,
    /** The POSTs, in arrival order. */
    posts: () => log.filter((r) => r.method === "POST"),
    /** Requests of any method but POST and OPTIONS (a followed redirect would be a GET). */
    strays: () => log.filter((r) => r.method !== "POST" && r.method !== "OPTIONS"),
    /** The most requests (of any method) that arrived within any `spanMs` window. */
    peak(spanMs = 1000) {
      const t = log.map((r) => r.atMs);
      let best = 0;
      for (let i = 0, j = 0; j < t.length; j++) {
        while (t[j] - t[i] >= spanMs) i++;
        best = Math.max(best, j - i + 1);
      }
      return best;
    },
    close,
  };

  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on("end", () => handle(req, res, Buffer.concat(chunks)).catch((e) => {
      if (!res.headersSent) res.writeHead(502, { ...CORS, "content-type": "text/plain" });
      res.end(`proxy: ${e.message}`);
    }));
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  async function handle(req, res, body) {
    const entry = { n: log.length, atMs: Date.now(), method: req.method, path: req.url, ids: [], action: "forward" };
    if (log.length < MAX_LOG) log.push(entry);
    // When the answer's head was written (no client can have read it before); a silent hold never
    // writes one.
    const head = res.writeHead;
    res.writeHead = (...a) => {
      entry.answeredMs = Date.now();
      return head.apply(res, a);
    };
    if (req.method === "OPTIONS") return pipe(await forward(req, body), res);
    if (req.method !== "POST") {
      entry.action = "405";
      res.writeHead(405, { ...CORS, "content-type": "application/json" });
      return res.end('{"success":false,"error":"Method not allowed"}');
    }
    entry.ids = messageIds(body);
    const action = proxy.rule({ n: posts++, path: req.url, ids: entry.ids });
    if (!action) return pipe(await forward(req, body), res);
    if (action.redirect !== undefined) {
      entry.action = "redirect";
      res.writeHead(action.status ?? 302, { ...CORS, location: action.redirect, "content-type": "text/plain" });
      return res.end("moved");
    }
    if (action.forward) {
      const up = await forward(req, body);
      entry.upstream = up.status;
    }
    if (action.hang) {
      entry.action = `hang-${action.hang}`;
      held.add(res);
      res.on("close", () => held.delete(res));
      if (action.hang === "headers") {
        res.writeHead(200, { ...CORS, "content-type": "application/json", "content-length": "1000" });
        res.write('{"success": true, "accep');
      }
      return; // never ended: close() destroys it
    }
    entry.action = `replace-${action.status}`;
    res.writeHead(action.status, { ...CORS, ...(action.headers ?? {}) });
    res.end(action.body ?? "");
  }

  // The request as it came, to the collector; resolves to { status, headers, body }.
  function forward(req, body) {
    return new Promise((ok, fail) => {
      const headers = { ...req.headers, host: upstream.host };
      const up = http.request({
        host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers,
      }, (r) => {
        const chunks = [];
        r.on("data", (c) => chunks.push(c));
        r.on("end", () => ok({ status: r.statusCode, headers: r.headers, body: Buffer.concat(chunks) }));
        r.on("error", fail);
      });
      up.setTimeout(10_000, () => up.destroy(new Error("collector did not answer in 10 s")));
      up.on("error", fail);
      up.end(body);
    });
  }

  function pipe(up, res) {
    const headers = { ...up.headers };
    delete headers["transfer-encoding"];
    delete headers.connection;
    headers["content-length"] = String(up.body.length);
    res.writeHead(up.status, headers);
    res.end(up.body);
  }

  async function close() {
    if (closed) return;
    closed = true;
    for (const res of held) res.destroy();
    const done = new Promise((r) => server.close(() => r()));
    for (const s of sockets) s.destroy();
    await done;
  }

  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", ok);
  });
  proxy.url = `http://127.0.0.1:${server.address().port}`;
  return proxy;
}

// The messageIds of a /v1-batch body, in order ([] for anything else).
function messageIds(body) {
  try {
    const batch = JSON.parse(body.toString("utf8")).batch;
    return Array.isArray(batch) ? batch.map((e) => e?.messageId) : [];
  } catch {
    return [];
  }
}
