# Shared by the benches that bring labs up and run `halab chaos` on them
# (failover.sh, lb-pair.sh). Source it after setting:
#   bench   the script's name, for messages
#   halab   the binary;  out  the output folder (runs go to $out/runs)
#   port    the next host port;  net  the next subnet's second octet
#   runs    runs per scenario
# It sets errors=0 and current="", and removes the current lab on exit.

errors=0
current=""

# Images too: a bench leaves nothing behind.
cleanup() { [ -z "$current" ] || "$halab" down -q --images --name "$current" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# A run the bench could not do (not a missed budget: that is a figure).
harness() {
  echo "$bench: $*" >&2
  errors=$((errors + 1))
}

# bench_lab LAB NAME SCENARIO...: bring LAB up as NAME on the next port and
# subnet, run each scenario $runs times through `halab chaos`, take it down.
bench_lab() {
  local lab=$1 label=$2
  shift 2
  current=$label
  local args=(--lab "$lab" --name "$current" --port "$port" --subnet "10.$net.0.0/16")
  port=$((port + 1))
  net=$((net + 1))
  cleanup
  if ! timeout 180 "$halab" up -q "${args[@]}" >"$out/up-$current.log" 2>&1; then
    harness "$lab did not come up (see $out/up-$current.log)"
    current=""
    return
  fi
  for scenario in "$@"; do
    for i in $(seq "$runs"); do
      echo "  $current $scenario $i/$runs" >&2
      local rc=0
      timeout 300 "$halab" chaos -q "$scenario" "${args[@]}" --runs-dir "$out/runs" \
        >>"$out/chaos-$current.log" 2>&1 || rc=$?
      # 0 = every budget met, 1 = a budget missed: both are measurements.
      if [ "$rc" -gt 1 ]; then
        harness "$current $scenario run $i: halab chaos exited $rc (see $out/chaos-$current.log)"
      fi
    done
  done
  cleanup
  current=""
}
