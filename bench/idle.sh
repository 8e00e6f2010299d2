#!/usr/bin/env bash
# Fast adverts must not cause failovers on their own: bring a lab up, leave it
# alone for DURATION seconds, and count keepalived state transitions
# ("Entering … STATE" lines written after the steady state) on every node.
# Prints a Markdown table; exits 1 when a transition happened or the master
# lost the VIP, 2 on a harness error.
#
# Usage: bench/idle.sh [LAB] [DURATION_S]   (default labs/fast-failover.yaml 60)
# Env:   HALAB (binary, default target/release/halab, built when absent),
#        BENCH_NAME, BENCH_PORT, BENCH_SUBNET (where the lab runs).
set -euo pipefail
cd "$(dirname "$0")/.."
lab=${1:-labs/fast-failover.yaml}
duration=${2:-60}
name=${BENCH_NAME:-halab-idle}
port=${BENCH_PORT:-18311}
subnet=${BENCH_SUBNET:-10.210.0.0/16}
halab=${HALAB:-target/release/halab}
[ -x "$halab" ] || cargo build --quiet --release
lab_args=(--lab "$lab" --name "$name" --port "$port" --subnet "$subnet")

die() {
  echo "idle.sh: $*" >&2
  exit 2
}
cleanup() { "$halab" down -q --images --name "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT

transitions() {
  # `halab logs` prefixes each line with the node; keep keepalived's state lines.
  "$halab" logs -q "${lab_args[@]}" 2>/dev/null | grep -c 'Entering [A-Z]* STATE' || true
}

cleanup
"$halab" up -q "${lab_args[@]}" >/dev/null || die "halab up failed for $lab"
# Let the start-up elections settle before counting.
sleep 1
before=$(transitions)
sleep "$duration"
after=$(transitions)
status=$("$halab" status -q --json "${lab_args[@]}") || die "halab status failed"
master_holds=$(python3 -c '
import json, sys
s = json.load(sys.stdin)
print(next(n["holds_vip"] for n in s["nodes"] if n["vrrp"] == "MASTER" or n["holds_vip"]))
' <<<"$status" 2>/dev/null || echo unknown)
answer=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["answer"]["node"])' <<<"$status")
load=$(cut -d' ' -f1-3 /proc/loadavg)
n=$((after - before))
echo "| lab | idle | advert | VRRP transitions | serving at the end | load (1/5/15 min) |"
echo "| --- | --- | --- | --- | --- | --- |"
advert=$(sed -n 's/^ *advert_int: *//p' "$lab")
echo "| $(basename "$lab" .yaml) | ${duration} s | ${advert:-1s} | $n | $answer | $load |"
[ "$n" -eq 0 ] && [ "$master_holds" = True ] || exit 1
