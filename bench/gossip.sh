#!/usr/bin/env bash
# Gossip side by side: conclave agents vs Debian's serf 0.9.4, same machine, same
# kind of namespaces, same run. For each N (default 10 and 30) and RUNS runs:
#   converge   start of the daemons -> every node reports all N alive
#   failed     SIGKILL of one node  -> every survivor reports it failed
#   rss        resident memory per agent (MiB) once converged, and PSS: RSS counts
#              every shared library page in full (conclave links ~36 libraries;
#              serf is one static binary), PSS splits shared pages among users
#   cpu        CPU per agent at idle over 10 s (% of one core)
# Medians are printed with the ratio serf/conclave (above 1: conclave better).
# Both sides are observed the same way (harness status --json), which polls
# every node in turn: the convergence and failure figures carry that polling
# delay (tens of ms for conclave's HTTP, more for `serf members`).
#
#   sudo bench/gossip.sh [build-dir]      RUNS=5 SIZES="10 30" KINDS="conclave serf"
#   KINDS=conclave SIZES=100 bench/gossip.sh  (Conclave alone at N=100)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=$(cd "${1:-build}" && pwd)   # absolute: PATH must not depend on the cwd
RUNS=${RUNS:-5}
SIZES=${SIZES:-"10 30"}
KINDS=${KINDS:-"conclave serf"}
HARNESS=$BUILD/harness/harness
export PATH="$BUILD/daemon:$BUILD/harness:$PATH"
[ "$(id -u)" = 0 ] || { echo "bench/gossip.sh: needs root" >&2; exit 1; }
command -v serf >/dev/null || { echo "bench/gossip.sh: serf is not installed (make deps)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/cc-gbench-XXXXXX)
export CONCLAVE_HARNESS_DIR=$TMP/run
T=gb$$
cleanup() { "$HARNESS" down "$T" >/dev/null 2>&1 || true; rm -rf "$TMP"; }
trap cleanup EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

topology() { # kind n
  echo "name: $T"
  echo "networks: [ { name: lan, subnet: 51.6.196.0/24 } ]"
  echo "defaults:"
  echo "  kind: $1"
  if [ "$1" = conclave ]; then
    echo "  config: { server: false, datacenter: dc1, retry_join: [\"51.6.196.10\"], retry_interval: 1s }"
  else
    echo "  config: { retry_join: [\"51.6.196.10\"], retry_interval: 1s }"
  fi
  echo "nodes:"
  for i in $(seq 0 $(($2 - 1))); do echo "  - { name: n$i, addresses: { lan: 51.6.196.$((10 + i)) } }"; done
}

# all_report N [FAILED-NODE]: every (live) node sees N alive (and, if given, that node failed)
all_report() {
  "$HARNESS" status "$T" --json | python3 -c '
import json, sys
n, dead = int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None
nodes = [x for x in json.load(sys.stdin) if x["node"] != dead]
sys.exit(0 if nodes and all(x["members"] == n for x in nodes) else 1)' "$@"
}

pids() { "$HARNESS" status "$T" --json | python3 -c 'import json,sys; print(" ".join(str(x["pid"]) for x in json.load(sys.stdin) if x["pid"]))'; }

measure() { # kind n -> "converge_ms failed_ms rss_mib cpu_pct"
  local kind=$1 n=$2
  topology "$kind" "$n" >"$TMP/t.yaml"
  "$HARNESS" up --network-only "$TMP/t.yaml" >/dev/null
  local t0; t0=$(now_ms)
  for i in $(seq 0 $((n - 1))); do "$HARNESS" -t "$T" start "n$i" >/dev/null; done
  local conv=-1 fail=-1
  for _ in $(seq 600); do all_report "$n" && { conv=$(( $(now_ms) - t0 )); break; }; sleep 0.05; done
  sleep 2
  local rss=0 pss=0 cpu0=0 cpu1=0 p
  for p in $(pids); do rss=$((rss + $(awk '/VmRSS/ {print $2}' "/proc/$p/status"))); done
  for p in $(pids); do pss=$((pss + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup"))); done
  for p in $(pids); do cpu0=$((cpu0 + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  sleep 10
  for p in $(pids); do cpu1=$((cpu1 + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  local victim=n$((n - 1))
  t0=$(now_ms)
  "$HARNESS" -t "$T" kill "$victim" >/dev/null
  for _ in $(seq 1200); do
    "$HARNESS" status "$T" --json | python3 -c '
import json, sys
nodes = [x for x in json.load(sys.stdin) if x["node"] != sys.argv[1]]
sys.exit(0 if all(x["members"] == len(nodes) for x in nodes) else 1)' "$victim" && { fail=$(( $(now_ms) - t0 )); break; }
    sleep 0.05
  done
  "$HARNESS" down "$T" >/dev/null
  awk -v c="$conv" -v f="$fail" -v r="$rss" -v p="$pss" -v n="$n" -v d="$((cpu1 - cpu0))" \
    -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%d %d %.1f %.2f %.1f\n", c, f, r / n / 1024, d / hz / 10 / n * 100, p / n / 1024 }'
}

printf '%-9s %-4s %12s %12s %10s %10s %10s\n' kind N converge failed "RSS MiB" "idle CPU" "PSS MiB"
for n in $SIZES; do
  rm -f "$TMP"/med-*
  for kind in $KINDS; do
    : >"$TMP/$kind"
    for r in $(seq "$RUNS"); do measure "$kind" "$n" >>"$TMP/$kind"; done
    c=$(awk '{print $1}' "$TMP/$kind" | median); f=$(awk '{print $2}' "$TMP/$kind" | median)
    m=$(awk '{print $3}' "$TMP/$kind" | median); u=$(awk '{print $4}' "$TMP/$kind" | median)
    q=$(awk '{print $5}' "$TMP/$kind" | median)
    printf '%-9s %-4s %9s ms %9s ms %10s %9s%% %10s\n' "$kind" "$n" "$c" "$f" "$m" "$u" "$q"
    echo "$c $f $m $u $q" >"$TMP/med-$kind"
  done
  [ -f "$TMP/med-conclave" ] && [ -f "$TMP/med-serf" ] || continue
  read -r cc cf cm cu cq <"$TMP/med-conclave"; read -r sc sf sm su sq <"$TMP/med-serf"
  awk -v a="$sc" -v b="$cc" -v c="$sf" -v d="$cf" -v e="$sm" -v f="$cm" -v g="$su" -v h="$cu" \
    -v i="$sq" -v j="$cq" -v n="$n" \
    'BEGIN { printf "%-9s %-4s %11.1fx %11.1fx %9.1fx %9.1fx %9.1fx\n", "ratio", n, a/b, c/d, e/f, (h > 0 ? g/h : 0), (j > 0 ? i/j : 0) }'
done
