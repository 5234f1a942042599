#!/usr/bin/env bash
# Runs every test layer of batchwire and ends with one summary line: "N passed, N failed".
#   1. checks: rustfmt, clippy (native and wasm32), the package build with its size budget
#   2. native: cargo test for the whole workspace (core, protocols, collector, backfill CLI)
#   3. browser: wasm-bindgen tests in headless Chromium (wasm-pack test)
#   4. end to end: the built npm package in headless Chromium against the collector (tests/e2e)
#   5. node: the built npm package imported by its name in Node (the `node` export condition)
#      against the collector, in-process and as child processes (tests/node)
#   6. edge: the Cloudflare Worker (edge/) in workerd through miniflare against the collector:
#      exactly once, kill and restart, dead letters, pacing, the front's answers (tests/edge)
# A layer that breaks before reporting (a compile error, a crash) counts as one failure.
# Logs of each layer are kept in target/test-logs/.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
logs=target/test-logs
mkdir -p "$logs"
passed=0
failed=0
failed_layers=()

# Adds the counts a layer printed. $1 layer name, $2 exit code, $3 log, $4 format (cargo|node|check)
tally() {
  local name=$1 rc=$2 log=$3 format=$4 p=0 f=0
  case $format in
    cargo)
      read -r p f < <(grep -aE '^test result:' "$log" |
        sed -E 's/.* ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/' | awk '{p+=$1; f+=$2} END {print p+0, f+0}') ;;
    node)
      read -r p f < <(grep -aE '^# (pass|fail) [0-9]+' "$log" |
        awk '$2=="pass" {p+=$3} $2=="fail" {f+=$3} END {print p+0, f+0}') ;;
    check)
      if [ "$rc" = 0 ]; then p=1; else f=1; fi ;;
  esac
  p=${p:-0}; f=${f:-0}
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
  if [ "$rc" = 0 ] && [ "$format" != check ] && [ "$p" = 0 ]; then
    echo "[test] $name ran no test"; f=$((f + 1))
  fi
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$f" != 0 ]; then failed_layers+=("$name"); fi
  printf '[test] %-28s %s passed, %s failed   (log: %s)\n' "$name" "$p" "$f" "$log"
}

# Runs a layer, showing its output as it goes and keeping a copy.
layer() {
  local name=$1 format=$2; shift 2
  local log="$logs/${name// /-}.log"
  echo "[test] === $name: $*"
  "$@" 2>&1 | tee "$log"
  tally "$name" "${PIPESTATUS[0]}" "$log" "$format"
}

layer "rustfmt" check cargo fmt --all -- --check
layer "clippy native" check cargo clippy --workspace --all-targets -- -D warnings
layer "clippy wasm32" check cargo clippy -p batchwire --lib --target wasm32-unknown-unknown -- -D warnings
# The npm package's build: no_std, with src/wasm_rt.rs's allocator and panic handler; bare, and
# with the features of each of its three modules (wasm-pack.toml [[module]]).
layer "clippy wasm32 no_std" check cargo clippy -p batchwire --lib --target wasm32-unknown-unknown --no-default-features -- -D warnings
layer "clippy wasm32 v1-batch module" check cargo clippy -p batchwire --lib --target wasm32-unknown-unknown --no-default-features --features pacing -- -D warnings
layer "clippy wasm32 all-protocol module" check cargo clippy -p batchwire --lib --target wasm32-unknown-unknown --no-default-features --features pacing,user-properties -- -D warnings
layer "clippy wasm32 server module" check cargo clippy -p batchwire --lib --target wasm32-unknown-unknown --no-default-features --features pacing,user-properties,server -- -D warnings
# The edge Worker's wasm (edge/src/abi.rs is wasm32 only): std, the engine with `embedded`.
layer "clippy wasm32 edge" check cargo clippy -p batchwire-edge --lib --target wasm32-unknown-unknown -- -D warnings
layer "package and size budget" check python3 scripts/package.py
# --no-fail-fast: a failing test binary must not hide the counts of the others.
layer "native" cargo cargo test --workspace --no-fail-fast
# Only tests/web_*.rs are browser suites; the native integration tests are not built for wasm32.
layer "browser" cargo \
  wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver --mode no-install -- --test 'web_*'

# The node suites start the collector binary themselves; a suite folder without tests fails the layer.
node_layer() {
  local name=$1 dir=$2
  if ! compgen -G "$dir/*.test.mjs" >/dev/null; then
    echo "[test] $name: no $dir/*.test.mjs"; failed=$((failed + 1)); failed_layers+=("$name"); return
  fi
  cargo build -q -p collector
  COLLECTOR_BIN=$PWD/target/debug/collector layer "$name" node \
    node --test --test-concurrency=1 --test-reporter=tap "$dir/"
}
node_layer "end to end" tests/e2e
node_layer "node" tests/node
# The edge layer needs the Worker's wasm (target/edge/batchwire_edge.wasm) built first.
if bash scripts/edge-build.sh > "$logs/edge-build.log" 2>&1; then
  node_layer "edge" tests/edge
else
  cat "$logs/edge-build.log"; echo "[test] edge: scripts/edge-build.sh failed"
  failed=$((failed + 1)); failed_layers+=("edge")
fi

if [ ${#failed_layers[@]} -gt 0 ]; then echo "[test] failing layers: ${failed_layers[*]}"; fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
