#!/usr/bin/env bash
# Chaos experiments end to end: `harness chaos` runs shipped scenarios (short
# versions, --scale) on real namespaces with real daemons and must say PASS;
# a scenario with an impossible assertion and one whose stale reads break
# linearizability must be caught. Every run leaves report.json, report.html and
# a history that `harness check` agrees with, and takes its topology down.
# CHAOS_SET=short (the sanitizer build) runs fewer scenarios.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SET=${CHAOS_SET:-full}

# run_chaos NAME SCENARIO SCALE WANT_RC [EXTRA ARGS...]
run_chaos() {
  local name=$1 file=$2 scale=$3 want=$4; shift 4
  local out="$TMP/$name" topo="${TOPO}${name:0:3}$((${#TOPOS[@]}))"
  TOPOS+=("$topo")
  local t0=$SECONDS
  timeout 400 "$HARNESS" chaos "$file" --name="$topo" --out="$out" --scale="$scale" "$@" \
    >"$TMP/$name.out" 2>&1
  local rc=$?
  if [ "$rc" = "$want" ]; then
    ok "$name: harness chaos exits $rc as expected ($((SECONDS - t0)) s)"
  else
    fail "$name: harness chaos exited $rc, wanted $want"; sed 's/^/    /' "$TMP/$name.out" >&2
  fi
  [ -s "$out/report.json" ] && [ -s "$out/report.html" ] && ok "$name: report.json and report.html written" \
    || fail "$name: no report in $out"
  python3 - "$out/report.json" "$want" <<'PY' && ok "$name: report.json verdict and assertions agree with the exit code" || fail "$name: report.json inconsistent"
import json, sys
r = json.load(open(sys.argv[1]))
want_ok = sys.argv[2] == "0"
assert r["verdict"] == want_ok, r["verdict"]
assert all(a["ok"] for a in r["assertions"]) == want_ok
assert r["nodes"] and r["process"] and r["steps"]
PY
  [ "$(leftover_ns "$topo")" = 0 ] && [ ! -e "$CONCLAVE_HARNESS_DIR/$topo" ] \
    && ok "$name: topology taken down" || fail "$name: $topo left namespaces or a run directory"
  check_root_ns "$name"
}

verdict_line() { grep -F -- "$2" "$TMP/$1.out" >/dev/null && ok "$1: $3" || { fail "$1: $3 ('$2' not printed)"; sed 's/^/    /' "$TMP/$1.out" >&2; }; }

# history.json re-checked by `harness check`: WANT_RC 0 linearizable, 1 not
check_history() {
  "$HARNESS" check "$TMP/$1/history.json" >"$TMP/$1.check" 2>&1
  local rc=$?
  [ "$rc" = "$2" ] && ok "$1: harness check on the recorded history exits $rc" \
    || { fail "$1: harness check exited $rc, wanted $2"; sed 's/^/    /' "$TMP/$1.check" >&2; }
}

# -- an impossible assertion fails the run (the harness is a checker) --
run_chaos impossible "$ROOT/tests/data/scenarios/impossible-leader.yaml" 1 1
verdict_line impossible "FAIL leader_within 1s: no leader agreed by a quorum" "leader_within 1s fails with one of two servers dead"
verdict_line impossible "ok   leader_within 10s" "and holds again once the server is back"

# -- the KV workload under leader kills: PASS, linearizable, nothing lost --
run_chaos leader-kill "$ROOT/scenarios/leader-kill.yaml" 0.4 0
verdict_line leader-kill "ok   linearizable:" "linearizable verdict printed"
verdict_line leader-kill "ok   no_acked_write_lost:" "no acknowledged write lost"
check_history leader-kill 0

# -- stale reads across a partition must be found NOT linearizable --
run_chaos stale-reads "$ROOT/scenarios/stale-reads.yaml" 1 0
verdict_line stale-reads "as expected, NOT linearizable" "the checker reports the stale reads"
check_history stale-reads 1

if [ "$SET" = full ]; then
  run_chaos dc1-restarts "$ROOT/scenarios/dc1-restarts.yaml" 0.5 0
  verdict_line dc1-restarts "ok   no_leader 6s" "no leader while one of the seed's two servers is down"
  run_chaos leader-isolated "$ROOT/scenarios/leader-isolated.yaml" 0.5 0
  verdict_line leader-isolated "ok   old_leader_steps_down_within" "the isolated leader steps down"
  run_chaos minority-partition "$ROOT/scenarios/minority-partition.yaml" 0.5 0
  run_chaos lossy-network "$ROOT/scenarios/lossy-network.yaml" 0.3 0
  verdict_line lossy-network "ok   write_ok" "writes go through 15 % loss and 50 ms delay"
  run_chaos random-nemesis "$ROOT/scenarios/random-nemesis.yaml" 0.25 0
  run_chaos leader-kill-5 "$ROOT/scenarios/leader-kill.yaml" 0.4 0 --topology="$ROOT/topologies/dc1-5.yaml"
fi

[ "$FAILS" = 0 ] || { echo "$FAILS check(s) failed"; exit 1; }
echo "all chaos checks passed"
