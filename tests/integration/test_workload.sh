#!/usr/bin/env bash
# The chaos workload (harness/workload.h) against three real servers in
# namespaces: five clients spread over the three nodes run reads, writes and
# cas for ~10 s; the history parses back and the final read finds no lost
# acknowledged write. Then a second, rate-limited run during which the leader
# is SIGKILLed: the clients keep getting ok operations from the new leader,
# and still no acknowledged write is lost.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DRIVER=${WORKLOAD_DRIVER:?WORKLOAD_DRIVER must point at the workload_driver binary}
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }

api() { # node method path: prints the body
  "$HARNESS" -t "$TOPO" exec "$1" -- sh -c 'curl -s --max-time 5 -X "$1" "$CONCLAVE_HTTP_ADDR$2"' _ "$2" "$3"
}
leader_of() { api "$1" GET /v1/status/leader 2>/dev/null | tr -d '"'; }
agreed_leader() {
  local first="" l
  for n in node1 node2 node3; do
    l=$(leader_of "$n"); [ -n "$l" ] || return 1
    [ -z "$first" ] && first=$l; [ "$l" = "$first" ] || return 1
  done
  echo "$first"
}
node_at() { # ip:port -> node name
  "$HARNESS" status "$TOPO" --json | python3 -c 'import json,sys; ip=sys.argv[1].split(":")[0]
for n in json.load(sys.stdin):
    if n["address"] == ip: print(n["node"])' "$1"
}
field() { # file name: the value of name=... on the driver's result line
  sed -n "s/^result .*\b$2=\([0-9]*\).*/\1/p" "$1"
}

sed -e "s/^name: dc1-3/name: $TOPO/" "$ROOT/topologies/dc1-3.yaml" >"$TMP/dc1-3.yaml"
"$HARNESS" up "$TMP/dc1-3.yaml" >"$TMP/up.out" 2>&1 || { fail "up of dc1-3"; cat "$TMP/up.out" >&2; finish; }
L=$(agreed_leader) && ok "3 servers up, leader $L" || { fail "no agreed leader"; finish; }

# ---- run 1: healthy cluster, back to back ----
timeout 120 "$DRIVER" "$TOPO" node1,node2,node3 10 "$TMP/h1.json" --clients 5 --keys 8 \
  --prefix "wl1/" --seed 11 >"$TMP/run1.out" 2>&1
rc=$?
sed -n '/^result/,$p' "$TMP/run1.out"
[ "$(field "$TMP/run1.out" ok)" -gt 0 ] 2>/dev/null && ok "run 1: $(field "$TMP/run1.out" ok) ok operations ($(field "$TMP/run1.out" rate) ops/s)" || { fail "run 1: no ok operations (driver exit $rc)"; cat "$TMP/run1.out" >&2; }
[ "$(field "$TMP/run1.out" lost)" = 0 ] && [ "$(field "$TMP/run1.out" keys_unread)" = 0 ] && ok "run 1: every key read at the end, no acknowledged write lost" || { fail "run 1: lost writes or unread keys"; cat "$TMP/run1.out" >&2; }
[ -n "$(field "$TMP/run1.out" parsed)" ] && [ "$(field "$TMP/run1.out" parsed)" = "$(field "$TMP/run1.out" history)" ] && ok "run 1: history.json parses back ($(field "$TMP/run1.out" parsed) operations)" || fail "run 1: history.json does not parse back"
[ "$rc" = 0 ] && ok "run 1: driver verdict good" || fail "run 1: driver exit $rc"
python3 - "$TMP/h1.json" <<'PY' && ok "run 1: history has invokes and completions of read, write and cas from 6 processes" || fail "run 1: history shape"
import json, sys
ev = json.load(open(sys.argv[1]))
fs = {e["f"] for e in ev}; types = {e["type"] for e in ev}; procs = {e["process"] for e in ev}
times = [e["time"] for e in ev]
sys.exit(0 if fs == {"read", "write", "cas"} and {"invoke", "ok"} <= types
         and len(procs) == 6 and times == sorted(times) else 1)
PY

# ---- run 2: the leader is SIGKILLed at ~3 s of an 10 s run at 200 ops/s ----
L=$(agreed_leader) || { fail "no leader before run 2"; finish; }
LN=$(node_at "$L")
t0=$(date +%s%N)
timeout 120 "$DRIVER" "$TOPO" node1,node2,node3 10 "$TMP/h2.json" --clients 5 --keys 8 \
  --rate 200 --timeout-ms 2000 --prefix "wl2/" --seed 22 >"$TMP/run2.out" 2>&1 &
DRV=$!; PIDS+=($DRV)
sleep 3
tk=$(date +%s%N); "$HARNESS" -t "$TOPO" kill "$LN" >/dev/null || fail "harness kill $LN"
wait_exit "$DRV" 110
sed -n '/^result/,$p' "$TMP/run2.out"
[ "$(field "$TMP/run2.out" lost)" = 0 ] && [ "$(field "$TMP/run2.out" keys_unread)" = 0 ] && ok "run 2: leader $LN killed mid-run, no acknowledged write lost" || { fail "run 2: lost writes or unread keys (driver exit $RC)"; cat "$TMP/run2.out" >&2; }
[ "$RC" = 0 ] && ok "run 2: driver verdict good" || fail "run 2: driver exit $RC"
rate=$(field "$TMP/run2.out" rate)
[ -n "$rate" ] && [ "$rate" -le 240 ] && ok "run 2: the rate limit holds ($rate ops/s for 200 asked)" || fail "run 2: rate $rate ops/s for 200 asked"
# completions in the failover window (kill .. +5 s) and ok ones after it, from
# the history (times are relative to the driver's start line)
start=$(sed -n 's/^start \([0-9]*\)$/\1/p' "$TMP/run2.out")
counts=$(python3 - "$TMP/h2.json" $(( (tk - ${start:-$t0}) / 1000000 )) <<'PY'
import json, sys
ev, kill = json.load(open(sys.argv[1])), int(sys.argv[2]) * 1000000
last = max(e["process"] for e in ev)   # the final read's process
win = {"ok": 0, "fail": 0, "info": 0}; after = 0
for e in ev:
    if e["type"] == "invoke" or e["process"] == last:
        continue
    if kill <= e["time"] < kill + 5 * 10**9:
        win[e["type"]] += 1
    if e["time"] >= kill + 5 * 10**9 and e["type"] == "ok":
        after += 1
print(win["ok"], win["fail"], win["info"], after)
PY
)
set -- $counts
echo "run 2: in the 5 s after the kill: ok ${1:-?} fail ${2:-?} info ${3:-?}; ok after that: ${4:-?}"
[ "${4:-0}" -gt 0 ] && ok "run 2: $4 ok operations after the failover window" || fail "run 2: no ok operations after the kill ($counts)"
"$HARNESS" down "$TOPO" >/dev/null 2>&1 || fail "down"
check_root_ns "after the workload test"
finish
