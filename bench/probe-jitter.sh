#!/usr/bin/env bash
# How precisely the open-loop probe keeps its schedule: p50/p99 of send jitter
# (actual − scheduled start) and of answer latency against a loopback server.
# Usage: bench/probe-jitter.sh [INTERVAL] [DURATION] [ROUNDS]   (default 10ms 10s 3)
set -euo pipefail
cd "$(dirname "$0")/.."
interval=${1:-10ms}
duration=${2:-10s}
rounds=${3:-3}
cargo build --quiet --release --example probe_jitter
for round in $(seq "$rounds"); do
  echo "== round $round"
  target/release/examples/probe_jitter "$interval" "$duration"
done
