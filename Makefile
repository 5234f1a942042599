# batchwire: the two commands a newcomer needs are `make demo` and `make test`.
# Every target installs what is missing first (scripts/setup.sh, idempotent and quick when done).
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: all setup package test demo collector edge bench bench-core bench-browser bench-burst bench-drain bench-cli bench-edge fuzz clean

all: test

setup:
	@bash scripts/setup.sh

## pkg/: the npm package, with the gzip size of wasm + glue printed and checked against the budget.
package: setup
	@python3 scripts/package.py

## Every test layer; the last line is "N passed, N failed".
test: setup
	@bash scripts/test.sh

## Builds the package, starts the collector and the demo page, runs the demo headless, then serves
## it for a browser until Ctrl-C. DEMO_EXIT=1 stops after the headless run.
demo: setup
	@bash scripts/demo.sh

## The reference collector on 127.0.0.1:8787 (ARGS="--help" lists its flags).
collector:
	cargo run --release -p collector -- --addr 127.0.0.1:8787 $(ARGS)

## The edge Worker in workerd through miniflare on EDGE_ADDR (127.0.0.1:8788), forwarding to
## UPSTREAM_URL (http://127.0.0.1:8787, `make collector`); state in target/edge-state. edge/README.md.
edge: setup
	node scripts/edge.mjs

bench: bench-core bench-browser bench-drain

## The sans-IO core natively: enqueue + plan + encode throughput, memory per queued event.
## The backfill CLI: paced rate against /v1-batch's scaled cap, Amplitude Batch events/s, CPU and RSS.
bench-cli:
	bash bench/cli.sh

bench-core:
	cargo bench -p batchwire --bench core

## The built package in headless Chromium: bundle size, track() cost, memory; and a peer SDK.
## Writes bench/results.md.
bench-browser: package
	cargo build -q --release -p collector
	COLLECTOR_BIN=$(CURDIR)/target/release/collector node bench/browser.mjs

## The built package in headless Chromium, IndexedDB on and off, and Snowplow's tracker in the same
## run: bursts of 1,000 to 100,000 track() calls, main-thread time and IndexedDB bytes written per
## event until delivered. Its section of bench/results.md.
bench-burst: package
	cargo build -q --release -p collector
	COLLECTOR_BIN=$(CURDIR)/target/release/collector node bench/burst.mjs

## The built package draining a backlog per protocol against the collector's caps (time scaled x10,
## about 2.5 minutes): delivered rate / cap and 429s, from the collector's log. Its section of
## bench/results.md. Measures pacing only in a package built with the `pacing` feature.
bench-drain: package
	cargo build -q --release -p collector
	COLLECTOR_BIN=$(CURDIR)/target/release/collector node bench/drain.mjs

## Events per second through the local edge (100-event /v1-batch posts until the collector has
## them all) and workerd CPU time per request. Its section of bench/results.md.
bench-edge: setup
	bash scripts/edge-build.sh
	cargo build -q --release -p collector
	COLLECTOR_BIN=$(CURDIR)/target/release/collector node bench/edge.mjs

clean:
	rm -rf pkg target/wasm-pack target/test-logs
