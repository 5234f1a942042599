#!/usr/bin/env bash
# The backfill CLI's benchmark (`make bench-cli`):
#  1. N events (default 100,000) to /v1-batch with the collector's request cap scaled (100
#     requests per 6 s window: --window-secs 6) and the CLI told the window (--rate-window-ms
#     6000): achieved rate against the cap, 429s;
#  2. N events of 10,000 identities to Amplitude Batch: events/s;
# with the CLI's CPU time and peak RSS for each (GNU time). Needs python3 and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
cargo build --release -q -p collector -p batchwire-cli
BIN=$PWD/target/release
WORK=$(mktemp -d)
COLLECTOR=
trap '[ -n "$COLLECTOR" ] && kill $COLLECTOR 2>/dev/null; rm -rf "$WORK"' EXIT

python3 - "$N" > "$WORK/events.ndjson" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"type": "track", "event": "Backfilled %d" % (i % 20),
                      "userId": "user-%05d" % (i % 10000), "properties": {"i": i, "plan": "pro"},
                      "timestamp": "2024-03-01T12:00:00Z"}, separators=(",", ":")))
PY

# case LABEL "COLLECTOR FLAGS" CLI ARGS...
case_run() {
  local label=$1 cflags=$2; shift 2
  # shellcheck disable=SC2086
  "$BIN/collector" --addr 127.0.0.1:0 $cflags > "$WORK/collector.out" &
  COLLECTOR=$!
  HOST=
  for _ in $(seq 100); do
    HOST=$(sed -n 's/^collector listening on //p' "$WORK/collector.out")
    [ -n "$HOST" ] && break
    sleep 0.05
  done
  rm -f "$WORK/cp" "$WORK/rejects"
  local cmd=("$BIN/batchwire" send --api-host "$HOST" --no-progress
    --checkpoint "$WORK/cp" --rejects "$WORK/rejects" "$@" "$WORK/events.ndjson")
  echo "\$ ${cmd[*]}" | sed "s#$WORK#\$WORK#g; s#$BIN#target/release#g"
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%U %S %M' -o "$WORK/time" "${cmd[@]}" > "$WORK/summary.json" 2> "$WORK/cli.err"
  else
    "${cmd[@]}" > "$WORK/summary.json" 2> "$WORK/cli.err"
    echo "0 0 0" > "$WORK/time"
  fi
  curl -s "$HOST/_stats" > "$WORK/stats.json"
  kill $COLLECTOR; wait $COLLECTOR 2>/dev/null || true; COLLECTOR=
  python3 - "$label" "$WORK" <<'PY'
import json, sys
label, work = sys.argv[1:]
user, sys_, rss = open(f"{work}/time").read().split()[-3:]
s = json.load(open(f"{work}/summary.json")); st = json.load(open(f"{work}/stats.json"))
secs = s["elapsed_ms"] / 1000
by = st["requests"]["by_status"]
print(f"{label}: {s['delivered']:,} delivered in {secs:.1f} s = {s['delivered']/secs:,.0f} events/s; "
      f"{s['requests']} requests, {by.get('429', 0)} answered 429; stored by the server: "
      f"{st['events']['stored']:,}")
print(f"  CLI CPU {float(user)+float(sys_):.2f} s (user {user}, sys {sys_}), peak RSS {int(rss)/1024:.1f} MiB")
if label.startswith("/v1-batch"):
    times = sorted(e["ms"] for e in st["log"] if e.get("status") == 200)
    reqs = len(times)
    span = (times[-1] - times[0]) / 1000
    # Under a cap of 100 requests per rolling 6 s, the fastest possible: 100 at once, then 100
    # every 6 s, so the last of R requests arrives (R/100 - 1) * 6 s after the first.
    ideal = max(reqs / 100 - 1, 0) * 6
    print(f"  cap: 100 requests / 6 s ({100*100/6:,.0f} events/s at 100 a request); {reqs} requests "
          f"arrived over {span:.1f} s, the fastest the cap allows {ideal:.1f} s: "
          f"{ideal/span*100:.1f} % of the cap")
PY
}

case_run "/v1-batch (cap 100 requests / 6 s)" "--window-secs 6" \
  --protocol v1-batch --key uk_live_demo --rate-window-ms 6000
case_run "Amplitude Batch (10,000 identities)" "" \
  --protocol amplitude-batch --key amp_demo_key
