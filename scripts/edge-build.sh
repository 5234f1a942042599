#!/usr/bin/env bash
# Builds the edge Worker's wasm (crate edge/) and optimises it with the npm binaryen wasm-opt into
# target/edge/batchwire_edge.wasm, which the Worker imports as a CompiledWasm module. Idempotent:
# cargo rebuilds only what changed, and wasm-opt runs only when its input is newer than its
# output. Prints the module's size, raw and gzip.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --release -p batchwire-edge --target wasm32-unknown-unknown
raw=target/wasm32-unknown-unknown/release/batchwire_edge.wasm
out=target/edge/batchwire_edge.wasm
mkdir -p target/edge
if [ ! -f "$out" ] || [ "$raw" -nt "$out" ]; then
  # The features the module uses, and no others (checked by validating it with only these
  # enabled: memory.copy/fill, the saturating float-to-int conversions, sign extension); workerd's
  # V8 has them all. --strip-target-features: the section is read by tools only.
  node_modules/.bin/wasm-opt "$raw" -o "$out.tmp" -Oz --converge \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --strip-debug --strip-producers --strip-target-features
  mv "$out.tmp" "$out"
fi
bytes=$(wc -c < "$out")
gz=$(gzip -9 -c "$out" | wc -c)
echo "edge wasm: $out $bytes bytes ($gz gzip)"
