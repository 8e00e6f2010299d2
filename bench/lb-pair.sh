#!/usr/bin/env bash
# The production shape's figures (labs/lb-pair.yaml): kill-web and hang-web
# under a layer-7 check (the lab as shipped) and a layer-4 one (a copy with
# `backends.check.kind: tcp`), and kill-lb-master; RUNS runs each through
# `halab chaos`. Then, per lab and scenario, the median and spread (min–max)
# of the time until the VIP holder's HAProxy took the dead server out of its
# pool, the failed and late requests, the worst answer and the switch, from
# the stored runs.
#
# Prints a Markdown table. Exits 2 on a harness error (a lab that did not
# come up, a run halab could not do), 0 otherwise; missed budgets (hang-web
# under the layer-4 check fails by design) are figures here, not errors.
#
# Usage: bench/lb-pair.sh [RUNS] [OUT]   (default 5, .halab/bench/<UTC time>)
# Env:   HALAB        binary (default target/release/halab, rebuilt)
#        BENCH_PREFIX lab names' prefix (default bench-lb)
#        BENCH_PORT   first host port (default 18351; the lb pair publishes none,
#                     halab still books one per lab)
#        BENCH_SUBNET_BASE  labs get 10.N.0.0/16 and 10.N+1.0.0/16 (default 210)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
out=${2:-.halab/bench/$(date -u +%Y%m%dT%H%M%SZ)}
prefix=${BENCH_PREFIX:-bench-lb}
port=${BENCH_PORT:-18351}
net=${BENCH_SUBNET_BASE:-210}
if [ -z "${HALAB:-}" ]; then
  cargo build --quiet --release
  HALAB=target/release/halab
fi
halab=$HALAB
mkdir -p "$out/runs"
bench=lb-pair.sh
# shellcheck source=bench/lib.sh
. bench/lib.sh

# The layer-4 variant: the same lab, its web servers checked by a connect.
l4="$out/lb-pair-l4.yaml"
sed 's/check: { kind: http,/check: { kind: tcp,/' labs/lb-pair.yaml >"$l4"
grep -q 'kind: tcp,' "$l4" || { echo "lb-pair.sh: could not write the layer-4 variant" >&2; exit 2; }

started=$(date -u +%Y-%m-%dT%H:%MZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "runs stored in $out/runs (\`halab report --all --runs-dir $out/runs\`)" >&2

bench_lab labs/lb-pair.yaml "$prefix-l7" kill-web hang-web kill-lb-master
bench_lab "$l4" "$prefix-l4" kill-web hang-web

echo "## lb-pair ($runs runs per lab and scenario; times in ms; median (min–max))"
echo
python3 bench/summarize.py pool "$out/runs" || harness "no stored run to summarise"
echo
echo "started $started, load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
[ "$errors" -eq 0 ] || exit 2
