#!/usr/bin/env bash
# make demo: builds pkg/ and the edge Worker, starts the reference collector, the edge (workerd
# through miniflare, forwarding to the collector) and the demo page on 127.0.0.1, runs the page
# headless so events are seen flowing (browser -> collector, then browser -> edge -> collector),
# then keeps all three up for a browser until Ctrl-C.
# DEMO_EXIT=1 (or CI=true) stops after the headless run. Ports: COLLECTOR_PORT, EDGE_PORT, WWW_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
collector_port=${COLLECTOR_PORT:-8787}
www_port=${WWW_PORT:-8080}
edge_port=${EDGE_PORT:-8788}
run_dir=target/demo
mkdir -p "$run_dir"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'echo; echo "[demo] stopped"; exit 0' INT TERM

# Waits until $1 (a log file) has a line matching $2, or the process $3 has died.
wait_for() {
  for _ in $(seq 1 600); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { echo "[demo] failed to start:"; cat "$1"; return 1; }
    sleep 0.1
  done
  echo "[demo] timed out waiting for: $2"; cat "$1"; return 1
}

python3 scripts/package.py
cargo build -q -p collector

target/debug/collector --addr "127.0.0.1:$collector_port" >"$run_dir/collector.log" 2>&1 &
pids+=($!)
wait_for "$run_dir/collector.log" "listening on" "${pids[-1]}"
# The edge keeps its Durable Objects on disk; the demo starts it with none left from a past run.
rm -rf "$run_dir/edge-state"
EDGE_ADDR="127.0.0.1:$edge_port" UPSTREAM_URL="http://127.0.0.1:$collector_port" EDGE_STATE="$run_dir/edge-state" \
  node scripts/edge.mjs >"$run_dir/edge.log" 2>&1 &
pids+=($!)
wait_for "$run_dir/edge.log" "edge listening on" "${pids[-1]}"
node scripts/serve.mjs "$www_port" >"$run_dir/www.log" 2>&1 &
pids+=($!)
wait_for "$run_dir/www.log" "serving" "${pids[-1]}"

www="http://127.0.0.1:$www_port"
collector="http://127.0.0.1:$collector_port"
edge="http://127.0.0.1:$edge_port"
echo "[demo] collector on $collector, edge on $edge, demo page on $www"
# The collector's second line lists the keys it accepts (the page uses uk_live_demo).
echo "[demo] the collector's $(grep -m1 '^keys:' "$run_dir/collector.log" || echo 'keys: (not printed)')"
node scripts/demo-run.mjs "$www" "$collector" "$edge"

if [ "${DEMO_EXIT:-}" = 1 ] || [ "${CI:-}" = true ]; then exit 0; fi
echo
echo "[demo] open $www/ in a browser to track events by hand (collector stats: $collector/_stats);"
echo "[demo] $www/?edge=$edge sends them through the edge Worker; ?key=KEY uses another write key"
echo "[demo] (start the collector with --write-key KEY for it), ?protocol=amplitude-batch another protocol."
echo "[demo] Ctrl-C stops the collector, the edge and the page server."
wait
