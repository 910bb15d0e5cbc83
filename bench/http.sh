#!/usr/bin/env bash
# HTTP reads side by side: one Conclave agent vs one etcd 3.4 member (Debian's
# etcd-server, its v3 HTTP/JSON gateway), each in a 3-server cluster of its own
# kind, same machine, same kind of namespaces, same run. wrk (Debian's wrk 4.1)
# runs inside the namespace of the node it loads (THREADS threads, CONNS
# keep-alive connections, DURATION s) and the node's resident memory (VmRSS,
# sampled every 0.2 s, the peak kept) and CPU time are read from /proc meanwhile.
# A 128-byte value is written under bench/key first. The modes, and what each
# kind is asked:
#   kv-follower    conclave GET /v1/kv/bench/key (default mode) on a follower
#                  etcd     POST /v3/kv/range {"key"} (linearizable) on a follower
#   kv-leader      the same two on the leader
#   kv-consistent  conclave GET /v1/kv/bench/key?consistent on a follower
#                  etcd     the kv-follower figures (the same request: etcd's
#                           linearizable read is the equivalent of ?consistent)
#   kv-stale       conclave GET /v1/kv/bench/key?stale on a follower
#                  etcd     POST /v3/kv/range {"key", "serializable": true} on a follower
#   status         conclave GET /v1/status/leader on a follower
#                  etcd     POST /v3/maintenance/status on a follower (which member
#                           leads, with the member's Raft indexes)
# Consul's default mode asks the leader for its applied index (one RPC per read
# on a follower) without a quorum round; ?consistent and etcd's linearizable read
# confirm leadership with a quorum first (Raft's read index).
#
# The two clusters are up together, and every run measures every mode of one
# kind, then of the other. Before the first run each mode is loaded WARMUP s
# without being counted. Medians over the runs are printed, with the ratio:
# conclave / etcd for req/s, etcd / conclave for latencies, memory and CPU per
# request, so above 1 always means Conclave better. wrk's percentiles are
# latencies of the requests it made (a closed loop: CONNS requests in flight).
# Each result must be 2xx: any other answer or socket error is counted in
# "errors". Run it as root:
#
#   sudo bench/http.sh [build-dir]     RUNS=5 DURATION=5 THREADS=2 CONNS=16 WARMUP=1
#                                      KINDS="conclave etcd" MODES="kv-follower ..."
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${RUNS:-5}
DURATION=${DURATION:-5}
THREADS=${THREADS:-2}
CONNS=${CONNS:-16}
WARMUP=${WARMUP:-1}
TIMEOUT=${TIMEOUT:-30}
KINDS=${KINDS:-"conclave etcd"}
MODES=${MODES:-"kv-follower kv-leader kv-consistent kv-stale status"}
[ "$(id -u)" = 0 ] || { echo "bench/http.sh: needs root" >&2; exit 1; }
[ -x "$BUILD/harness/harness" ] && [ -x "$BUILD/daemon/conclave" ] ||
  { echo "bench/http.sh: no harness/conclave in $BUILD (make build)" >&2; exit 1; }
for c in wrk curl; do
  command -v "$c" >/dev/null || { echo "bench/http.sh: $c is not installed (make deps)" >&2; exit 1; }
done
case " $KINDS " in *" etcd "*) command -v etcd >/dev/null ||
  { echo "bench/http.sh: etcd is not installed (make deps)" >&2; exit 1; } ;; esac
for m in $MODES; do
  case $m in kv-follower|kv-leader|kv-consistent|kv-stale|status) ;;
  *) echo "bench/http.sh: unknown mode \"$m\" in MODES; modes are kv-follower kv-leader kv-consistent kv-stale status" >&2
     exit 1 ;;
  esac
done
for v in RUNS DURATION THREADS CONNS WARMUP TIMEOUT; do
  case ${!v} in ''|*[!0-9]*) echo "bench/http.sh: $v must be a whole number, not \"${!v}\"" >&2; exit 1 ;; esac
done
[ "$RUNS" -ge 1 ] && [ "$DURATION" -ge 1 ] && [ "$CONNS" -ge "$THREADS" ] && [ "$THREADS" -ge 1 ] ||
  { echo "bench/http.sh: need RUNS >= 1, DURATION >= 1 and CONNS >= THREADS >= 1" >&2; exit 1; }
BUILD=$(cd "$BUILD" && pwd)
HARNESS=$BUILD/harness/harness
export PATH="$BUILD/daemon:$BUILD/harness:$PATH"
TMP=$(mktemp -d /tmp/cc-hbench-XXXXXX)
export CONCLAVE_HARNESS_DIR=$TMP/run
declare -A TOPO=([conclave]=wbc$$ [etcd]=wbe$$)
# etcd's kv-consistent is its kv-follower request: measured once when both are asked
case " $MODES " in *" kv-follower "*) SAME=etcd:kv-consistent ;; *) SAME=none ;; esac
cleanup() {
  local k
  for k in conclave etcd; do "$HARNESS" down "${TOPO[$k]}" >/dev/null 2>&1 || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "bench/http.sh: interrupted" >&2; exit 130' INT
trap 'echo "bench/http.sh: terminated" >&2; exit 143' TERM

median() { sort -g | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
TICK=$(getconf CLK_TCK)
KEY=bench/key
VALUE=$(printf '0123456789abcdef%.0s' 1 2 3 4 5 6 7 8) # 128 bytes
B64KEY=$(printf %s "$KEY" | base64 -w0)
B64VALUE=$(printf %s "$VALUE" | base64 -w0)

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

# wrk scripts: the request (etcd's are POSTs with a JSON body), and one result
# line at the end: req/s, p50 and p99 in us, requests, non-2xx answers, socket errors.
lua() { # file [body]
  {
    if [ -n "${2:-}" ]; then
      echo 'wrk.method = "POST"'
      echo "wrk.body = '$2'"
      echo 'wrk.headers["Content-Type"] = "application/json"'
    fi
    cat <<'LUA'
done = function(s, lat, req)
  local e = s.errors
  io.write(string.format("WBRESULT %.1f %d %d %d %d %d\n", s.requests / (s.duration / 1e6),
    lat:percentile(50), lat:percentile(99), s.requests, e.status,
    e.connect + e.read + e.write + e.timeout))
end
LUA
  } >"$1"
}
lua "$TMP/get.lua"
lua "$TMP/range.lua" "{\"key\":\"$B64KEY\"}"
lua "$TMP/range-ser.lua" "{\"key\":\"$B64KEY\",\"serializable\":true}"
lua "$TMP/status.lua" "{}"

# The leader and a follower, once every node names the same leader:
# "LEADER LEADER_IP LEADER_PID FOLLOWER FOLLOWER_IP FOLLOWER_PID". Read from
# `harness status --json` (one key per line) with awk: a Python start-up costs
# seconds on a loaded 2-core machine.
roles() { # kind
  local i
  for i in $(seq $((TIMEOUT * 5))); do
    "$HARNESS" status "${TOPO[$1]}" --json 2>/dev/null | awk '
      match($0, /"(node|address|pid|leader)":[ \t]*/) {
        k = substr($0, RSTART + 1, index(substr($0, RSTART + 1), "\"") - 1)
        v = substr($0, RSTART + RLENGTH); gsub(/[",]/, "", v); gsub(/[ \t]+$/, "", v)
        if (k == "node") n++
        if (v == "null") v = ""
        val[n, k] = v
      }
      END {
        if (n < 2) exit 1
        for (i = 1; i <= n; i++) {
          l = val[i, "leader"]
          if (l == "" || val[i, "pid"] + 0 <= 0 || (i > 1 && l != val[1, "leader"])) exit 1
        }
        split(l, hp, ":")
        for (i = 1; i <= n; i++)
          if (val[i, "node"] == l || val[i, "address"] == hp[1]) L = i
        if (!L) exit 1
        F = (L == 1 ? 2 : 1)
        print val[L, "node"], val[L, "address"], val[L, "pid"], val[F, "node"], val[F, "address"], val[F, "pid"]
      }' && return 0
    sleep 0.2
  done
  echo "bench/http.sh: ${TOPO[$1]}: no leader agreed on by every node after ${TIMEOUT}s" >&2
  return 1
}

# mode_args kind mode -> "NODE URL SCRIPT PID" for the roles in $R
mode_args() {
  local L LIP LPID F FIP FPID
  read -r L LIP LPID F FIP FPID <<<"$R"
  if [ "$1" = conclave ]; then
    case $2 in
      kv-follower) echo "$F http://$FIP:8500/v1/kv/$KEY $TMP/get.lua $FPID" ;;
      kv-leader) echo "$L http://$LIP:8500/v1/kv/$KEY $TMP/get.lua $LPID" ;;
      kv-consistent) echo "$F http://$FIP:8500/v1/kv/$KEY?consistent $TMP/get.lua $FPID" ;;
      kv-stale) echo "$F http://$FIP:8500/v1/kv/$KEY?stale $TMP/get.lua $FPID" ;;
      status) echo "$F http://$FIP:8500/v1/status/leader $TMP/get.lua $FPID" ;;
    esac
  else
    case $2 in
      kv-follower|kv-consistent) echo "$F http://$FIP:2379/v3/kv/range $TMP/range.lua $FPID" ;;
      kv-leader) echo "$L http://$LIP:2379/v3/kv/range $TMP/range.lua $LPID" ;;
      kv-stale) echo "$F http://$FIP:2379/v3/kv/range $TMP/range-ser.lua $FPID" ;;
      status) echo "$F http://$FIP:2379/v3/maintenance/status $TMP/status.lua $FPID" ;;
    esac
  fi
}

# Writes the key through the follower, then asks every mode once with curl and
# checks the answer carries the value (or a leader): the requests wrk repeats
# are the right ones.
prepare() { # kind
  local t=${TOPO[$1]} L LIP LPID F FIP FPID out m node url script pid
  read -r L LIP LPID F FIP FPID <<<"$R"
  if [ "$1" = conclave ]; then
    out=$("$HARNESS" -t "$t" exec "$F" -- curl -sS -m 10 -X PUT --data-binary "$VALUE" "http://$FIP:8500/v1/kv/$KEY")
    [ "$out" = true ] || { echo "bench/http.sh: conclave: writing $KEY answered \"$out\"" >&2; return 1; }
  else
    out=$("$HARNESS" -t "$t" exec "$F" -- curl -sS -m 10 -X POST -H 'Content-Type: application/json' \
      -d "{\"key\":\"$B64KEY\",\"value\":\"$B64VALUE\"}" "http://$FIP:2379/v3/kv/put")
    case $out in *'"header"'*) ;; *) echo "bench/http.sh: etcd: writing $KEY answered \"$out\"" >&2; return 1 ;; esac
  fi
  for m in $MODES; do
    read -r node url script pid <<<"$(mode_args "$1" "$m")"
    if [ "$script" = "$TMP/get.lua" ]; then
      out=$("$HARNESS" -t "$t" exec "$node" -- curl -sS -m 10 -f "$url") || out="(failed)"
    else
      out=$("$HARNESS" -t "$t" exec "$node" -- curl -sS -m 10 -f -X POST -H 'Content-Type: application/json' \
        -d "$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$script")" "$url") || out="(failed)"
    fi
    case $m:$out in
      status:*51.6.196.*|status:*'"leader":"'[1-9]*) ;;
      kv-*:*"$B64VALUE"*) ;;
      *) echo "bench/http.sh: $1 $m: $url answered \"$out\"" >&2; return 1 ;;
    esac
  done
}

cpu_ticks() { # pid
  local s; s=$(<"/proc/$1/stat"); s=${s##*) }
  awk '{print $12 + $13}' <<<"$s" # utime + stime: fields 14 and 15 counted from the pid
}

# load kind mode seconds -> "req/s p50_ms p99_ms errors rss_MiB cpu_pct cpu_us_per_req"
load() {
  local t=${TOPO[$1]} node url script pid rss=0 k v _ c0 c1 t0 t1 w res
  read -r node url script pid <<<"$(mode_args "$1" "$2")"
  c0=$(cpu_ticks "$pid")
  t0=$(date +%s%N)
  timeout $(($3 + 30)) "$HARNESS" -t "$t" exec "$node" -- \
    wrk -t"$THREADS" -c"$CONNS" -d"$3s" --latency -s "$script" "$url" >"$TMP/wrk.out" 2>&1 &
  w=$!
  while kill -0 "$w" 2>/dev/null && [ -r "/proc/$pid/status" ]; do
    while read -r k v _; do
      [ "$k" = VmRSS: ] && [ "$v" -gt "$rss" ] && rss=$v
    done <"/proc/$pid/status"
    sleep 0.2
  done
  wait "$w" || true
  t1=$(date +%s%N)
  c1=$(cpu_ticks "$pid")
  res=$(awk '$1 == "WBRESULT"' "$TMP/wrk.out")
  if [ -z "$res" ]; then
    echo "bench/http.sh: $1 $2: wrk gave no result:" >&2
    sed 's/^/  /' "$TMP/wrk.out" >&2
    echo "-1 -1 -1 -1 -1 -1 -1"
    return 0
  fi
  awk -v rss="$rss" -v c="$((c1 - c0))" -v tick="$TICK" -v ns="$((t1 - t0))" '{
    cpu = c / tick
    printf "%.0f %.3f %.3f %d %.1f %.0f %.1f\n", $2, $3 / 1000, $4 / 1000, $6 + $7, rss / 1024,
      100 * cpu / (ns / 1e9), ($5 > 0 ? cpu * 1e6 / $5 : -1)
  }' <<<"$res"
}

start=$(date +%s)
for kind in $KINDS; do
  topology "$kind" >"$TMP/$kind.yaml"
  "$HARNESS" up "$TMP/$kind.yaml" --timeout="$TIMEOUT" >/dev/null
  R=$(roles "$kind")
  prepare "$kind"
  if [ "$WARMUP" -gt 0 ]; then
    for m in $MODES; do
      [ "$kind:$m" = "$SAME" ] || load "$kind" "$m" "$WARMUP" >/dev/null
    done
  fi
  for m in $MODES; do : >"$TMP/$kind-$m"; done
done

echo "# $(date -u +%FT%TZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start;" \
  "RUNS=$RUNS DURATION=${DURATION}s THREADS=$THREADS CONNS=$CONNS"
for r in $(seq "$RUNS"); do
  for kind in $KINDS; do
    R=$(roles "$kind") # leadership could have moved
    for m in $MODES; do
      [ "$kind:$m" = "$SAME" ] && continue
      res=$(load "$kind" "$m" "$DURATION")
      echo "$res" >>"$TMP/$kind-$m"
      [ "$kind:$m" = etcd:kv-follower ] && [ "$SAME" != none ] && echo "$res" >>"$TMP/etcd-kv-consistent"
      echo "  run $r $kind $m on $(mode_args "$kind" "$m" | cut -d' ' -f1): req/s p50 p99 ms, errors, RSS MiB, CPU %, CPU us/req: $res" >&2
    done
  done
done
echo "# load average $(cut -d' ' -f1-3 /proc/loadavg) at the end, $(($(date +%s) - start)) s in all"

col() { # file column -> median of the good runs, "failed" when none
  local m; m=$(awk -v c="$2" '$1 >= 0 {print $c}' "$1" | median)
  echo "${m:-failed}"
}
ratio() { # mode column inverse(1: conclave/etcd)
  local c e
  c=$(col "$TMP/conclave-$1" "$2"); e=$(col "$TMP/etcd-$1" "$2")
  awk -v c="$c" -v e="$e" -v inv="$3" \
    'BEGIN { if (c + 0 <= 0 || e + 0 <= 0) print "-"; else printf "%.1fx\n", inv ? c / e : e / c }'
}
fmt='%-14s %-9s %9s %8s %8s %7s %8s %6s %10s\n'
printf "$fmt" mode kind "req/s" "p50 ms" "p99 ms" errors "RSS MiB" "CPU %" "CPU us/req"
for m in $MODES; do
  for kind in $KINDS; do
    f=$TMP/$kind-$m
    errs=$(awk '$1 >= 0 {s += $4} $1 < 0 {f++} END {printf "%d%s", s, (f ? "(" f " runs failed)" : "")}' "$f")
    printf "$fmt" "$m" "$kind" "$(col "$f" 1)" "$(col "$f" 2)" "$(col "$f" 3)" "$errs" \
      "$(col "$f" 5)" "$(col "$f" 6)" "$(col "$f" 7)"
  done
  [ -s "$TMP/conclave-$m" ] && [ -s "$TMP/etcd-$m" ] || continue
  printf "$fmt" "$m" ratio "$(ratio "$m" 1 1)" "$(ratio "$m" 2 0)" "$(ratio "$m" 3 0)" - \
    "$(ratio "$m" 5 0)" - "$(ratio "$m" 7 0)"
done
