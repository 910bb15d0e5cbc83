#!/usr/bin/env bash
# Brings up and tears down the network of N = 10, 50, 100, 200 nodes (no daemons):
# once with `harness up --network-only` / `harness down`, once with the same
# topology built by iproute2 (`ip -batch` for the namespaces and veths, one
# `ip -n NS -batch` per namespace for its addresses). Same machine, same run,
# RUNS repetitions each; prints medians and the ratio. Root only; cleans up.
#
#   sudo bench/topology.sh [build-dir]      (RUNS=5 and SIZES="10 50 100 200" by default)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
HARNESS=$BUILD/harness/harness
RUNS=${RUNS:-5}
SIZES=${SIZES:-"10 50 100 200"}
[ "$(id -u)" = 0 ] || { echo "bench/topology.sh: needs root" >&2; exit 1; }
[ -x "$HARNESS" ] || { echo "bench/topology.sh: build first (make build)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/cc-bench-XXXXXX)
export CONCLAVE_HARNESS_DIR=$TMP/run
T=bn$$            # harness topology name
I=bi$$            # iproute2 namespace prefix
cleanup() {
  "$HARNESS" down "$T" >/dev/null 2>&1 || true
  for ns in $(ip netns list | awk '{print $1}' | grep "^$I-" || true); do ip netns del "$ns"; done
  rm -rf "$TMP"
}
trap cleanup EXIT

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

topology() { # N
  echo "name: $T"
  echo "defaults: { kind: command, command: [sleep, \"1\"] }"
  echo "networks: [ { name: lan, subnet: 51.6.0.0/16 } ]"
  echo "nodes:"
  for i in $(seq 1 "$1"); do echo "  - { name: n$i, addresses: { lan: 51.6.$((i / 250)).$((i % 250 + 2)) } }"; done
}

ip_scripts() { # N -> $TMP/ip-up.batch, $TMP/ip-ns-*.batch, $TMP/ip-down*.batch
  local n=$1
  {
    echo "netns add $I-fabric"
    for i in $(seq 1 "$n"); do echo "netns add $I-n$i"; done
  } >"$TMP/ip-ns.batch"
  {
    echo "link add br-lan type bridge"
    echo "link set br-lan up"
    for i in $(seq 1 "$n"); do
      echo "link add n$i type veth peer name eth0 netns $I-n$i"
      echo "link set n$i master br-lan up"
    done
  } >"$TMP/ip-fabric.batch"
  for i in $(seq 1 "$n"); do
    printf 'link set lo up\nlink set eth0 up\naddr add 51.6.%d.%d/16 dev eth0\n' $((i / 250)) $((i % 250 + 2)) >"$TMP/ip-n$i.batch"
  done
  {
    for i in $(seq 1 "$n"); do echo "link del n$i"; done
    echo "link del br-lan"
  } >"$TMP/ip-fabric-down.batch"
  {
    for i in $(seq 1 "$n"); do echo "netns del $I-n$i"; done
    echo "netns del $I-fabric"
  } >"$TMP/ip-down.batch"
}

ip_up() { # N
  ip -batch "$TMP/ip-ns.batch"
  ip -n "$I-fabric" -batch "$TMP/ip-fabric.batch"
  for i in $(seq 1 "$1"); do ip -n "$I-n$i" -batch "$TMP/ip-n$i.batch"; done
}
ip_down() {
  ip -n "$I-fabric" -batch "$TMP/ip-fabric-down.batch"
  ip -batch "$TMP/ip-down.batch"
}

printf '%-6s %14s %14s %14s %14s %10s\n' nodes "harness up" "ip -batch up" "harness down" "ip down" "up ratio"
for n in $SIZES; do
  topology "$n" >"$TMP/topo.yaml"
  ip_scripts "$n"
  : >"$TMP/h-up"; : >"$TMP/h-down"; : >"$TMP/i-up"; : >"$TMP/i-down"
  for r in $(seq 1 "$RUNS"); do
    a=$(now_ns); "$HARNESS" up --network-only "$TMP/topo.yaml" >/dev/null; b=$(now_ns)
    echo $(( (b - a) / 1000 )) >>"$TMP/h-up"
    a=$(now_ns); "$HARNESS" down "$T" >/dev/null; b=$(now_ns)
    echo $(( (b - a) / 1000 )) >>"$TMP/h-down"
    a=$(now_ns); ip_up "$n"; b=$(now_ns)
    echo $(( (b - a) / 1000 )) >>"$TMP/i-up"
    a=$(now_ns); ip_down; b=$(now_ns)
    echo $(( (b - a) / 1000 )) >>"$TMP/i-down"
  done
  hu=$(median <"$TMP/h-up"); hd=$(median <"$TMP/h-down"); iu=$(median <"$TMP/i-up"); id=$(median <"$TMP/i-down")
  awk -v n="$n" -v hu="$hu" -v iu="$iu" -v hd="$hd" -v id="$id" 'BEGIN {
    printf "%-6s %11.1f ms %11.1f ms %11.1f ms %11.1f ms %9.1fx\n", n, hu/1000, iu/1000, hd/1000, id/1000, iu/hu }'
done
left=$(ip netns list | grep -c -e "^$T-" -e "^$I-" || true)
echo "namespaces left behind: $left"
