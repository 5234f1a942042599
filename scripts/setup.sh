#!/usr/bin/env bash
# Installs what batchwire's build, demo and tests need, and nothing that is already there.
# Every step checks first, so a second run costs a few seconds. Safe to run by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

export PATH="$HOME/.cargo/bin:$PATH"
wb_version=$(sed -n 's/^wasm-bindgen = .*"=\([0-9.]*\)".*/\1/p' Cargo.toml)
wp_version=$(sed -n 's/^wasm_pack = "\([0-9.]*\)"/\1/p' wasm-pack.toml)
[ -n "$wb_version" ] && [ -n "$wp_version" ] || { echo "[setup] cannot read the pinned tool versions" >&2; exit 1; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
for c in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$c"; then rustup component add "$c"; fi
done

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
  say "installing wasm-bindgen-cli $wb_version (matches the wasm-bindgen pin)"
  # No --locked: the published lockfile names a crate version the registry no longer has.
  cargo install wasm-bindgen-cli --version "$wb_version" --force
fi

if [ "$(wasm-pack --version 2>/dev/null | awk '{print $2}')" != "$wp_version" ]; then
  say "installing wasm-pack $wp_version"
  cargo install wasm-pack --version "$wp_version" --force
fi

if ! have chromium || ! have chromedriver; then
  say "installing Debian chromium and chromium-driver"
  export DEBIAN_FRONTEND=noninteractive
  # Package lists are empty on a new machine: apt knows no candidate version until an update.
  if ! apt-cache policy chromium-driver 2>/dev/null | grep -q 'Candidate: [^(]'; then
    as_root apt-get update -qq
  fi
  as_root apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# Node packages (binaryen's wasm-opt, rolldown's minifier, playwright-core, vite, miniflare and
# workerd for the edge layer, typescript for the types test, the peer SDKs the
# browser benches compare with) from the committed lockfile;
# reinstalled only when the lockfile changes.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.lock-hash 2>/dev/null)" != "$lock_hash" ]; then
  say "installing node packages from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.lock-hash
fi

say "ready: $(rustc --version | cut -d' ' -f1-2), wasm-bindgen $wb_version, wasm-pack $wp_version, $(chromium --version 2>/dev/null | head -1), node $(node --version)"
