// The demo's live chart, on a plain <canvas>: the client's queued, in-flight and delivered counts
// over the last minute; along the top, one mark per request the collector logged, coloured by its
// answer; shaded, the time the client was paused by a rate limit or held by a quota; dashed lines
// where something was switched (a fault, the protocol).

export const COLORS = {
  queued: "#bf8700", inFlight: "#0969da", delivered: "#1a7f37",
  paused: "rgba(191, 135, 0, 0.14)", held: "rgba(130, 80, 223, 0.14)",
};
const STATUS_COLORS = { ok: "#1a7f37", s429: "#bf8700", s413: "#8250df", s5xx: "#cf222e", dropped: "#57606a", other: "#cf222e" };

/** A request of the collector's log (`/_stats`): its colour and a short label. */
export function statusOf(r) {
  if (r.dropped || r.status === 0) return { color: STATUS_COLORS.dropped, label: "dropped" };
  if (r.status < 300) return { color: STATUS_COLORS.ok, label: String(r.status) };
  if (r.status === 429) return { color: STATUS_COLORS.s429, label: "429" };
  if (r.status === 413) return { color: STATUS_COLORS.s413, label: "413" };
  if (r.status >= 500) return { color: STATUS_COLORS.s5xx, label: String(r.status) };
  return { color: STATUS_COLORS.other, label: String(r.status) };
}

const STRIP = 34; // the request strip at the top
const LEFT = 44;
const BOTTOM = 20;
const RIGHT = 10;

export class Chart {
  constructor(canvas, { spanMs = 60_000, minSpanMs = 20_000 } = {}) {
    this.canvas = canvas;
    // The time shown grows from minSpanMs after the page opened to spanMs, so a first burst is
    // not squeezed into the right edge of an empty minute.
    this.maxSpanMs = spanMs;
    this.minSpanMs = minSpanMs;
    this.spanMs = minSpanMs;
    this.start = Date.now();
    this.samples = [];
    this.requests = [];
    this.marks = [];
  }

  /** One reading of client.stats() at time `t` (epoch ms). */
  sample(t, s) {
    this.samples.push({
      t, queued: s.queued, inFlight: s.inFlight, delivered: s.delivered,
      paused: s.rateLimitedUntil > t, held: s.quotaHeldUntil > t,
    });
    while (this.samples.length > 2 && this.samples[1].t < t - this.maxSpanMs - 1000) this.samples.shift();
  }

  /** The collector's request log: [{ ms, status, events, dropped }]. */
  setRequests(log) {
    this.requests = log;
  }

  /** A dashed vertical line labelled `text` at time `t`. */
  mark(t, text) {
    this.marks.push({ t, text });
    if (this.marks.length > 40) this.marks.shift();
  }

  draw(now = Date.now()) {
    const c = this.canvas;
    const dpr = globalThis.devicePixelRatio || 1;
    const w = Math.max(300, c.clientWidth || 800);
    const h = Math.max(160, c.clientHeight || 260);
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    g.fillStyle = "#ffffff";
    g.fillRect(0, 0, w, h);
    g.font = "11px system-ui, sans-serif";
    this.spanMs = Math.min(this.maxSpanMs, Math.max(this.minSpanMs, Math.ceil((now - this.start + 2000) / 5000) * 5000));
    const t0 = now - this.spanMs;
    const plotTop = STRIP + 6;
    const plotH = h - plotTop - BOTTOM;
    const plotW = w - LEFT - RIGHT;
    const x = (t) => LEFT + ((t - t0) / this.spanMs) * plotW;
    const seen = this.samples.filter((s) => s.t >= t0 - 1000);
    const top = niceMax(Math.max(10, ...seen.map((s) => Math.max(s.queued, s.inFlight, s.delivered))));
    const y = (v) => plotTop + plotH - (v / top) * plotH;

    // Shading: paused by a rate limit, held by a quota.
    for (let i = 0; i < seen.length; i++) {
      const a = seen[i];
      const b = seen[i + 1]?.t ?? now;
      for (const [flag, color] of [["paused", COLORS.paused], ["held", COLORS.held]]) {
        if (!a[flag]) continue;
        g.fillStyle = color;
        g.fillRect(Math.max(LEFT, x(a.t)), plotTop, Math.max(1, x(b) - Math.max(LEFT, x(a.t))), plotH);
      }
    }

    // Grid and axes.
    g.strokeStyle = "#d0d7de";
    g.fillStyle = "#57606a";
    g.lineWidth = 1;
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (let k = 0; k <= 4; k++) {
      const v = (top / 4) * k;
      const yy = Math.round(y(v)) + 0.5;
      g.beginPath();
      g.moveTo(LEFT, yy);
      g.lineTo(LEFT + plotW, yy);
      g.stroke();
      g.fillText(String(Math.round(v)), LEFT - 6, yy);
    }
    g.textAlign = "center";
    g.textBaseline = "top";
    const step = this.spanMs <= 30_000 ? 5 : 10;
    for (let s = 0; s <= this.spanMs / 1000; s += step) {
      const xx = Math.round(x(now - s * 1000)) + 0.5;
      g.fillText(s === 0 ? "now" : `−${s} s`, xx, plotTop + plotH + 5);
    }
    g.textAlign = "left";
    g.textBaseline = "middle";
    g.fillText("requests", 4, STRIP / 2 + 4);
    g.strokeStyle = "#d0d7de";
    g.beginPath();
    g.moveTo(LEFT, STRIP + 0.5);
    g.lineTo(LEFT + plotW, STRIP + 0.5);
    g.stroke();

    // Lines: queued, in flight, delivered (a step each time a reading changes).
    for (const key of ["delivered", "queued", "inFlight"]) {
      if (!seen.length) break;
      g.strokeStyle = COLORS[key];
      g.lineWidth = 2;
      g.beginPath();
      seen.forEach((s, i) => {
        const xx = Math.max(LEFT, x(s.t));
        if (i === 0) g.moveTo(xx, y(s[key]));
        else g.lineTo(xx, y(seen[i - 1][key])), g.lineTo(xx, y(s[key]));
      });
      g.lineTo(x(now), y(seen[seen.length - 1][key]));
      g.stroke();
    }

    // Marks: switches of faults or protocol, their labels stacked where they would overlap.
    g.setLineDash([4, 3]);
    g.lineWidth = 1;
    g.textBaseline = "top";
    const rows = [];
    for (const m of this.marks) {
      if (m.t < t0) continue;
      const xx = Math.round(x(m.t)) + 0.5;
      g.strokeStyle = "#8c959f";
      g.beginPath();
      g.moveTo(xx, plotTop);
      g.lineTo(xx, plotTop + plotH);
      g.stroke();
      const tw = g.measureText(m.text).width;
      const lx = Math.min(xx + 3, LEFT + plotW - tw);
      let row = rows.findIndex((end) => end < lx);
      if (row < 0) row = rows.length;
      rows[row] = lx + tw + 6;
      g.fillStyle = "rgba(255, 255, 255, 0.8)";
      g.fillRect(lx - 1, plotTop + 2 + row * 13, tw + 2, 12);
      g.fillStyle = "#24292f";
      g.fillText(m.text, lx, plotTop + 2 + row * 13);
    }
    g.setLineDash([]);

    // Requests: one tick each on the strip, labelled when not a plain success.
    let lastLabelEnd = -Infinity;
    for (const r of this.requests) {
      if (r.ms < t0) continue;
      const xx = x(r.ms);
      const { color, label } = statusOf(r);
      g.fillStyle = color;
      g.fillRect(xx - 2, STRIP - 14, 4, 12);
      if (label !== "200" && xx > lastLabelEnd) {
        g.textBaseline = "bottom";
        g.fillText(label, xx - 2, STRIP - 15);
        lastLabelEnd = xx + g.measureText(label).width + 2;
      }
    }
  }
}

function niceMax(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
