#!/usr/bin/env bash
# Wake-up latency of a reader parked on a follower when the leader takes a
# write: Conclave's blocking query (Consul's ?index=&wait= long poll on
# /v1/kv/KEY) vs an etcd 3.4 watch (its HTTP/JSON gateway, /v3/watch), each in
# a 3-server cluster of its own kind, same machine, same run (bench/wake.py
# does the measuring inside the follower's namespace; SAMPLES per run, RUNS
# runs, medians of the runs' medians). Issue 7's target: under 50 ms. Run as root:
#
#   sudo bench/wake.sh [build-dir]     RUNS=3 SAMPLES=30 TIMEOUT=30
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${RUNS:-3}
SAMPLES=${SAMPLES:-30}
TIMEOUT=${TIMEOUT:-30}
[ "$(id -u)" = 0 ] || { echo "bench/wake.sh: needs root" >&2; exit 1; }
[ -x "$BUILD/harness/harness" ] && [ -x "$BUILD/daemon/conclave" ] ||
  { echo "bench/wake.sh: no harness/conclave in $BUILD (make build)" >&2; exit 1; }
command -v etcd >/dev/null || { echo "bench/wake.sh: etcd is not installed (make deps)" >&2; exit 1; }
for v in RUNS SAMPLES TIMEOUT; do
  case ${!v} in ''|*[!0-9]*|0) echo "bench/wake.sh: $v must be a whole number above 0, not \"${!v}\"" >&2; exit 1 ;; esac
done
BUILD=$(cd "$BUILD" && pwd)
HARNESS=$BUILD/harness/harness
export PATH="$BUILD/daemon:$BUILD/harness:$PATH"
TMP=$(mktemp -d /tmp/cc-wbench-XXXXXX)
export CONCLAVE_HARNESS_DIR=$TMP/run
declare -A TOPO=([conclave]=wkc$$ [etcd]=wke$$)
cleanup() {
  for k in conclave etcd; do "$HARNESS" down "${TOPO[$k]}" >/dev/null 2>&1 || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

topology() { # kind
  echo "name: ${TOPO[$1]}"
  echo "networks: [ { name: lan, subnet: 51.6.196.0/24 } ]"
  echo "defaults:"
  echo "  kind: $1"
  if [ "$1" = conclave ]; then
    echo "  config: { server: true, bootstrap_expect: 3, datacenter: dc1, log_level: INFO,"
    echo "            retry_join: [\"51.6.196.10\", \"51.6.196.11\", \"51.6.196.12\"], retry_interval: 1s }"
  fi
  echo "nodes:"
  for i in 0 1 2; do echo "  - { name: n$i, addresses: { lan: 51.6.196.$((10 + i)) } }"; done
}

# "LEADER_IP FOLLOWER FOLLOWER_IP" once every node names one leader.
roles() { # kind
  local i
  for i in $(seq $((TIMEOUT * 5))); do
    "$HARNESS" status "${TOPO[$1]}" --json 2>/dev/null | python3 -c '
import json, sys
nodes = json.load(sys.stdin)
leaders = {n.get("leader") for n in nodes}
if len(leaders) != 1 or not next(iter(leaders)): sys.exit(1)
l = next(iter(leaders)); lip = l.split(":")[0]
lead = [n for n in nodes if n["node"] == l or n["address"] == lip]
if not lead: sys.exit(1)
f = [n for n in nodes if n is not lead[0]][0]
print(lead[0]["address"], f["node"], f["address"])' && return 0
    sleep 0.2
  done
  echo "bench/wake.sh: ${TOPO[$1]}: no leader agreed on after ${TIMEOUT}s" >&2
  return 1
}

for kind in conclave etcd; do
  topology "$kind" >"$TMP/$kind.yaml"
  "$HARNESS" up "$TMP/$kind.yaml" --timeout="$TIMEOUT" >/dev/null
  : >"$TMP/$kind.res"
done
echo "# $(date -u +%FT%TZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); RUNS=$RUNS SAMPLES=$SAMPLES"
for r in $(seq "$RUNS"); do
  for kind in conclave etcd; do
    read -r LIP F FIP <<<"$(roles "$kind")"
    res=$("$HARNESS" -t "${TOPO[$kind]}" exec "$F" -- python3 "$PWD/bench/wake.py" "$kind" "$FIP" "$LIP" "$SAMPLES" |
      awk '$1 == "WAKE" {print $2, $3, $4}')
    [ -n "$res" ] || { echo "bench/wake.sh: $kind: no result" >&2; exit 1; }
    echo "$res" >>"$TMP/$kind.res"
    echo "  run $r $kind (reader on $F): median p90 max ms: $res" >&2
  done
done
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf '%-9s %10s %10s %10s\n' kind "median ms" "p90 ms" "max ms"
for kind in conclave etcd; do
  printf '%-9s %10s %10s %10s\n' "$kind" "$(cut -d' ' -f1 "$TMP/$kind.res" | median)" \
    "$(cut -d' ' -f2 "$TMP/$kind.res" | median)" "$(cut -d' ' -f3 "$TMP/$kind.res" | median)"
done
c=$(cut -d' ' -f1 "$TMP/conclave.res" | median); e=$(cut -d' ' -f1 "$TMP/etcd.res" | median)
awk -v c="$c" -v e="$e" 'BEGIN { printf "%-9s %9.1fx   (etcd / conclave: above 1 is Conclave sooner)\n", "ratio", e / c }'
