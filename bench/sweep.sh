#!/usr/bin/env bash
# The failover curve of the fast lab: `halab sweep` of vrrp.advert_int over
# ADVERTS for each scenario of SCENARIOS (RUNS runs per point), then an idle
# soak of SOAK at each advert value under each stress of STRESSES (the cost
# side: VRRP transitions nobody asked for). Writes under OUT:
#   runs/             the sweeps' stored runs (`halab report --all --runs-dir OUT/runs`)
#   idle-<stress>/    the soaks' stored runs
#   report.html       the HTML report of the sweeps, with the curves
#   failover-curve.svg  the curves alone, one SVG (copy it into docs/img/)
# and prints Markdown: the curve table, the soak table, date, load, command.
#
# Exits 2 on a harness error (halab exit 2: a copy that did not come up, a
# run that could not be judged), 0 otherwise: missed budgets and
# transitions are the figures, not errors.
#
# Usage: bench/sweep.sh [RUNS] [OUT]   (default 3, .halab/bench/sweep-<UTC time>)
# Env:   LAB        (default labs/fast-failover.yaml)
#        ADVERTS    (default 20ms,50ms,100ms,200ms,1s)
#        SCENARIOS  (default "kill-master pause-master")
#        SOAK       idle watch per advert value (default 30s; 0 to skip)
#        STRESSES   (default "vrrp-loss starve-master"; loss 20 %, share 0.02)
#        HALAB      binary (default target/release/halab, built when absent)
#        BENCH_NAME, BENCH_PORT, BENCH_SUBNET  where the copies run: named
#                   NAME-p<N> at PORT+N (default ht-bsw, 18470, 10.246.0.0/16)
#        LOCK       flock file each engine command holds (default
#                   /tmp/halab-engine.lock; empty for none)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
out=${2:-.halab/bench/sweep-$(date -u +%Y%m%dT%H%M%SZ)}
lab=${LAB:-labs/fast-failover.yaml}
adverts=${ADVERTS:-20ms,50ms,100ms,200ms,1s}
read -r -a scenarios <<<"${SCENARIOS:-kill-master pause-master}"
soak=${SOAK:-30s}
read -r -a stresses <<<"${STRESSES:-vrrp-loss starve-master}"
name=${BENCH_NAME:-ht-bsw}
port=${BENCH_PORT:-18470}
subnet=${BENCH_SUBNET:-10.246.0.0/16}
lock=${LOCK-/tmp/halab-engine.lock}
halab=${HALAB:-target/release/halab}
[ -x "$halab" ] || cargo build --quiet --release
mkdir -p "$out/runs"
errors=0

locked() {
  if [ -n "$lock" ]; then flock "$lock" "$@"; else "$@"; fi
}
# 0 = budgets met, 1 = missed: both are measurements.
sweep() {
  local rc=0
  echo "  halab sweep $*" >&2
  locked "$halab" -q sweep "$@" --lab "$lab" --name "$name" --port "$port" \
    --subnet "$subnet" >>"$out/sweep.log" 2>&1 || rc=$?
  if [ "$rc" -gt 1 ]; then
    echo "sweep.sh: halab sweep $* exited $rc (see $out/sweep.log)" >&2
    errors=$((errors + 1))
  fi
}

started=$(date -u +%Y-%m-%dT%H:%MZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for scenario in "${scenarios[@]}"; do
  sweep "$scenario" --set "vrrp.advert_int=$adverts" --runs "$runs" --runs-dir "$out/runs"
done
soaked=()
if [ "$soak" != 0 ]; then
  for stress in "${stresses[@]}"; do
    mkdir -p "$out/idle-$stress"
    sweep idle --set "vrrp.advert_int=$adverts" --runs 1 --runs-dir "$out/idle-$stress" \
      --option "watch=$soak,stress=$stress,loss=0.2,share=0.02"
    soaked+=("$stress")
  done
fi
finished=$(date -u +%Y-%m-%dT%H:%MZ)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

"$halab" report --all --no-fail --runs-dir "$out/runs" --format html -o "$out/report.html" 2>/dev/null ||
  { echo "sweep.sh: no report" >&2; exit 2; }
python3 bench/summarize.py curves "$out/report.html" "$out/failover-curve.svg" \
  --title "$(basename "$lab" .yaml): vrrp.advert_int (x) against ${scenarios[*]}; median, min–max bars; $runs runs per point; $started" || errors=$((errors + 1))

echo "## Failover curve: $(basename "$lab" .yaml), vrrp.advert_int = $adverts, $runs runs per point"
echo
# The Markdown report's curve section alone.
"$halab" report --all --no-fail --runs-dir "$out/runs" --format markdown 2>/dev/null |
  sed -n '/^### Failover curves/,/^#/p' | sed '1,2d;/^#/d'
for stress in "${soaked[@]}"; do
  echo
  echo "## Idle soak, $soak per advert value, stress $stress"
  echo
  python3 bench/summarize.py idle "$out/idle-$stress" --stress "$stress" || errors=$((errors + 1))
done
echo
echo "started $started (load $load_start), finished $finished (load $load_end)"
echo "command: RUNS=$runs ADVERTS=$adverts SCENARIOS=\"${scenarios[*]}\" SOAK=$soak STRESSES=\"${stresses[*]}\" bench/sweep.sh $runs"
[ "$errors" -eq 0 ] || { echo "sweep.sh: $errors harness error(s)" >&2; exit 2; }
