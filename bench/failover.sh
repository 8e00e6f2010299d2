#!/usr/bin/env bash
# Failover figures: every scenario on every lab, RUNS times each, through
# `halab chaos`; then the median and spread (min–max) of what a client lived
# through (switch time, failed and late requests, worst answer) and of the
# VRRP takeover and dual-ownership window, from the stored runs. Also the
# probe's own send jitter at a 10 ms schedule and the idle check of the fast
# lab (no VRRP transition in IDLE seconds).
#
# Prints Markdown tables. Exits 2 on a harness error (a run halab could not
# do, a lab that did not come up), 1 when the idle check saw a transition,
# 0 otherwise; missed budgets are figures here, not errors.
#
# Usage: bench/failover.sh [RUNS] [OUT]   (default 5, .halab/bench/<UTC time>)
# Env:   LABS       lab files   (default labs/nginx-keepalived.yaml labs/fast-failover.yaml)
#        SCENARIOS  scenarios   (default: all eight)
#        IDLE       idle check seconds, 0 to skip (default 60)
#        JITTER     1 to measure the probe's jitter (default 1)
#        HALAB      binary (default target/release/halab, rebuilt)
#        BENCH_PORT first host port (default 18331), BENCH_SUBNET_BASE (default 200:
#                   labs get 10.200.0.0/16, 10.201.0.0/16, …, clear of the
#                   tests' and shipped labs' 172.x subnets)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
out=${2:-.halab/bench/$(date -u +%Y%m%dT%H%M%SZ)}
read -r -a labs <<<"${LABS:-labs/nginx-keepalived.yaml labs/fast-failover.yaml}"
read -r -a scenarios <<<"${SCENARIOS:-stop-master kill-master pause-master partition-master kill-nginx kill-keepalived stop-backup failback}"
idle=${IDLE:-60}
port=${BENCH_PORT:-18331}
net=${BENCH_SUBNET_BASE:-200}
if [ -z "${HALAB:-}" ]; then
  cargo build --quiet --release
  HALAB=target/release/halab
fi
halab=$HALAB
mkdir -p "$out/runs"
bench=failover.sh
# shellcheck source=bench/lib.sh
. bench/lib.sh

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%MZ)
echo "runs stored in $out/runs (\`halab report --all --runs-dir $out/runs\`)" >&2

for lab in "${labs[@]}"; do
  bench_lab "$lab" "bench-fo-$(basename "$lab" .yaml)" "${scenarios[@]}"
done

echo "## Failover ($runs runs per lab and scenario; times in ms; median (min–max))"
echo
python3 bench/summarize.py table "$out/runs" || harness "no stored run to summarise"

if [ "${JITTER:-1}" = 1 ]; then
  echo
  echo "## Probe send jitter (10 ms schedule, 10 s, loopback server)"
  echo
  bench/probe-jitter.sh 10ms 10s 3 >"$out/jitter.txt" || harness "probe-jitter.sh failed"
  python3 bench/summarize.py jitter <"$out/jitter.txt" || harness "no jitter figures"
fi

idle_rc=0
if [ "$idle" -gt 0 ]; then
  echo
  echo "## Idle: VRRP transitions with nobody breaking anything"
  echo
  HALAB=$halab BENCH_SUBNET="10.$net.0.0/16" BENCH_PORT=$port \
    bench/idle.sh labs/fast-failover.yaml "$idle" || idle_rc=$?
  [ "$idle_rc" -le 1 ] || harness "idle check failed to run"
fi

echo
echo "started $started (load $load_start), finished $(date -u +%Y-%m-%dT%H:%MZ) (load $(cut -d' ' -f1-3 /proc/loadavg))"
if [ "$errors" -gt 0 ]; then
  echo "failover.sh: $errors harness error(s)" >&2
  exit 2
fi
exit "$idle_rc"
