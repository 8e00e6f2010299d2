#!/usr/bin/env bash
# Time to the first master page: `halab up` against `docker-compose up -d` on
# the very files halab renders, both with warm images and followed by the
# same wait (GET http://127.0.0.1:PORT/ every 50 ms until the master's page).
# Each is repeated N times with a down in between; prints a Markdown table of
# the median and the spread (min–max). Exits 2 on a harness error.
#
# Usage: bench/up.sh [N] [LAB...]   (default 5, labs/nginx-keepalived.yaml labs/fast-failover.yaml)
# Env:   HALAB (binary, default target/release/halab, built when absent),
#        HALAB_BASELINE (another halab binary, e.g. an older build, timed in
#        the same loop so that both see the same load; its own row),
#        BENCH_PORT, BENCH_SUBNET (where the copies run), UP_TIMEOUT (s, 60).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
shift || true
labs=("$@")
[ ${#labs[@]} -gt 0 ] || labs=(labs/nginx-keepalived.yaml labs/fast-failover.yaml)
port=${BENCH_PORT:-18321}
subnet=${BENCH_SUBNET:-10.211.0.0/16}
limit=${UP_TIMEOUT:-60}
halab=${HALAB:-target/release/halab}
baseline=${HALAB_BASELINE:-}
[ -z "$baseline" ] || [ -x "$baseline" ] || {
  echo "up.sh: HALAB_BASELINE=$baseline is not an executable" >&2
  exit 2
}
[ -x "$halab" ] || cargo build --quiet --release
command -v docker-compose >/dev/null || {
  echo "up.sh: docker-compose (1.29, the Python one) is not installed" >&2
  exit 2
}
work=$(mktemp -d)
name=""

die() {
  echo "up.sh: $*" >&2
  exit 2
}
down() {
  [ -n "$name" ] || return 0
  if [ -f "$work/$name/docker-compose.yml" ]; then
    docker-compose -p "$name" -f "$work/$name/docker-compose.yml" down -t 1 >/dev/null 2>&1 || true
  fi
  # Whatever is left, by halab's labels.
  "$halab" down -q --name "$name" >/dev/null 2>&1 || true
}
trap 'down; rm -rf "$work"' EXIT

now() { date +%s.%N; }
since() { awk -v t="$(now)" -v s="$1" 'BEGIN { printf "%.3f", t - s }'; }

# Polls the port every 50 ms until the master's page answers; fails after
# $limit seconds.
wait_master() {
  local page=$1 deadline
  deadline=$(awk -v t="$(now)" -v l="$limit" 'BEGIN { printf "%.3f", t + l }')
  until curl -s -m 1 "http://127.0.0.1:$port/" 2>/dev/null | grep -qF "$page"; do
    if awk -v t="$(now)" -v d="$deadline" 'BEGIN { exit !(t > d) }'; then
      return 1
    fi
    sleep 0.05
  done
}

ratios=()
printf '| lab | how | runs | median s | spread s |\n| --- | --- | --- | --- | --- |\n'
for lab in "${labs[@]}"; do
  base=$(basename "$lab" .yaml)
  name="bench-up-$base"
  args=(--lab "$lab" --name "$name" --port "$port" --subnet "$subnet")
  page=$(sed -n '/state: MASTER/,/page:/s/^ *page: *//p' "$lab" | head -1)
  [ -n "$page" ] || die "no master page in $lab"
  down
  # Warm-up, not timed: builds the lab image if it is missing.
  "$halab" up -q "${args[@]}" >/dev/null || die "halab up failed for $lab"
  down
  "$halab" render -q "${args[@]}" --out "$work/$name" >/dev/null || die "halab render failed for $lab"
  halab_t=() compose_t=() baseline_t=()
  for _ in $(seq "$n"); do
    t0=$(now)
    "$halab" up -q "${args[@]}" >/dev/null || die "halab up failed for $lab"
    wait_master "$page" || die "$lab (halab up): no $page on port $port within ${limit}s"
    halab_t+=("$(since "$t0")")
    down

    if [ -n "$baseline" ]; then
      t0=$(now)
      "$baseline" up -q "${args[@]}" >/dev/null || die "baseline up failed for $lab"
      wait_master "$page" || die "$lab (baseline up): no $page on port $port within ${limit}s"
      baseline_t+=("$(since "$t0")")
      down
    fi

    t0=$(now)
    docker-compose -p "$name" -f "$work/$name/docker-compose.yml" up -d >/dev/null 2>&1 ||
      die "docker-compose up failed for $lab (files in $work/$name)"
    wait_master "$page" || die "$lab (docker-compose): no $page on port $port within ${limit}s"
    compose_t+=("$(since "$t0")")
    down
  done
  # Warm images served the timed runs; the bench leaves none behind.
  "$halab" down -q --images --name "$name" >/dev/null 2>&1 || true
  ratios+=("$(python3 - "$base" "${#halab_t[@]}" "${halab_t[@]}" "${compose_t[@]}" <<'EOF'
import statistics, sys
lab, n, *ts = sys.argv[1:]
h, c = [float(t) for t in ts[: int(n)]], [float(t) for t in ts[int(n) :]]
print(f"{lab}: halab / docker-compose (medians) = {statistics.median(h) / statistics.median(c):.2f}")
EOF
  )")
  hows=(halab compose)
  [ -z "$baseline" ] || hows+=(baseline)
  for how in "${hows[@]}"; do
    case $how in
    halab) times=("${halab_t[@]}") label='`halab up`' ;;
    compose) times=("${compose_t[@]}") label='`docker-compose up -d`' ;;
    baseline) times=("${baseline_t[@]}") label="\`$(basename "$baseline") up\` (baseline)" ;;
    esac
    python3 - "$base" "$label" "${times[@]}" <<'EOF'
import statistics, sys
lab, how, *ts = sys.argv[1:]
ts = [float(t) for t in ts]
print(f"| {lab} | {how} + wait | {len(ts)} | {statistics.median(ts):.2f} | {min(ts):.2f}–{max(ts):.2f} |")
EOF
  done
done
echo
printf '%s\n' "${ratios[@]}"
echo "load (1/5/15 min): $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ)"
