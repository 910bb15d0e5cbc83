#!/usr/bin/env bash
# Raft side by side: Conclave servers vs Debian's etcd 3.4 (etcd-server, default
# 100 ms heartbeat / 1000 ms election timeout), same machine, same kind of
# namespaces, same run. For each N (default 3 and 5 servers) and RUNS runs, each
# kind in a fresh topology (kinds alternate run by run):
#   cold    `harness start` of the last server -> every server names the same leader
#   kill    SIGKILL of the leader (`harness kill`) -> every survivor names the same
#           new leader
#   link    the leader's link down (`harness link down`) -> every node of the
#           majority side names the same new leader
#   stop    SIGTERM of the leader (`harness stop`) -> every other server names the
#           same new leader
#   kv      CLIENTS concurrent clients write for DURATION s through the leader, each
#           on its own keep-alive HTTP connection (bench/kvload.py, run inside the
#           leader's namespace): ops/s, p50 and p99 latency. Conclave: PUT
#           /v1/kv/bench/KEY; etcd: POST /v3/kv/put (its v3 gRPC gateway). 128-byte
#           values. Done on the healthy cluster, after cold start, before the faults.
# Between faults the cluster is healed (killed node started again, link up), all
# N must agree on a leader again, then SETTLE seconds pass.
#
# How leaders are observed (the same for both kinds): one poller thread per node,
# inside that node's namespace (setns), asks the node every POLL_MS (10 ms) on a
# keep-alive connection with a 250 ms timeout what the harness's `status` asks:
# conclave GET /v1/status/leader, etcd POST /v3/maintenance/status (its own Raft
# view: leader member ID). A figure ends at the answer that completes the
# agreement; it starts just before the `harness` command (start/kill/link/stop)
# is run, so it includes that command's own few ms. The figures therefore carry
# a polling delay of 0-10 ms (about 5 ms on average) plus one local HTTP
# round trip (< 1 ms).
#
# Medians are printed (failed steps left out and counted), with the ratio: etcd /
# conclave for times and latencies, conclave / etcd for ops/s, so above 1 always
# means Conclave better. Every wait is bounded (TIMEOUT s); a step that times out
# is counted as failed. With LOGS=DIR the daemons' logs of every run (and of every
# failed step, at the time it failed) are kept in DIR.
#
#   sudo bench/raft.sh [build-dir]     RUNS=5 SIZES="3 5" KINDS="conclave etcd"
#                                      CLIENTS=8 DURATION=5 POLL_MS=10 SETTLE=2
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${RUNS:-5}
SIZES=${SIZES:-"3 5"}
KINDS=${KINDS:-"conclave etcd"}
CLIENTS=${CLIENTS:-8}
DURATION=${DURATION:-5}
POLL_MS=${POLL_MS:-10}
SETTLE=${SETTLE:-2}
TIMEOUT=${TIMEOUT:-30}
LOGS=${LOGS:-}
[ "$(id -u)" = 0 ] || { echo "bench/raft.sh: needs root" >&2; exit 1; }
[ -x "$BUILD/harness/harness" ] && [ -x "$BUILD/daemon/conclave" ] ||
  { echo "bench/raft.sh: no harness/conclave in $BUILD (make build)" >&2; exit 1; }
case " $KINDS " in *" etcd "*) command -v etcd >/dev/null ||
  { echo "bench/raft.sh: etcd is not installed (make deps)" >&2; exit 1; } ;; esac
BUILD=$(cd "$BUILD" && pwd)
HARNESS=$BUILD/harness/harness
export PATH="$BUILD/daemon:$BUILD/harness:$PATH"
KVLOAD=$PWD/bench/kvload.py
PY=$(python3 -c 'import sys; print(sys.executable)') # the interpreter itself, not a wrapper
TMP=$(mktemp -d /tmp/cc-rbench-XXXXXX)
export CONCLAVE_HARNESS_DIR=$TMP/run
T=rb$$
cleanup() { "$HARNESS" down "$T" >/dev/null 2>&1 || true; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'echo "bench/raft.sh: interrupted" >&2; exit 130' INT
trap 'echo "bench/raft.sh: terminated" >&2; exit 143' TERM

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# The leader watcher: one poller thread per node in the node's namespace.
#   watch.py leader             -> every node names the same leader; prints its node name
#   watch.py cold -- CMD ::: CMD -> runs the commands; from just before the last one,
#                                  ms until every node names the same leader: "MS NAME"
#   watch.py change --old NAME --watch NODE... -- CMD
#                               -> all nodes name NAME first (else exit 3); from just
#                                  before CMD, ms until the watched nodes name the same
#                                  other leader: "MS NAME"
cat >"$TMP/watch.py" <<'PY'
import argparse, ctypes, http.client, json, os, subprocess, sys, threading, time
ap = argparse.ArgumentParser()
ap.add_argument("mode", choices=("leader", "cold", "change"))
ap.add_argument("--kind", required=True)
ap.add_argument("--topo", required=True)
ap.add_argument("--node", action="append", default=[])     # name=ip
ap.add_argument("--watch", action="append", default=[])
ap.add_argument("--old")
ap.add_argument("--timeout", type=float, default=30)
ap.add_argument("--poll-ms", type=float, default=10)
argv = sys.argv[1:]
cut = argv.index("--") if "--" in argv else len(argv)
a = ap.parse_args(argv[:cut])
a.cmd = argv[cut + 1:]
nodes = dict(x.split("=", 1) for x in a.node)
by_ip = {ip: n for n, ip in nodes.items()}
watch = a.watch or list(nodes)
cmds, cur = [], []
for w in a.cmd:
    if w == ":::":
        cmds.append(cur); cur = []
    else:
        cur.append(w)
if cur:
    cmds.append(cur)
libc = ctypes.CDLL("libc.so.6", use_errno=True)
CLONE_NEWNET = 0x40000000
lock = threading.Lock()
reports = {}          # node -> (leader key or "" or None when unanswered, monotonic time)
etcd_ids = {}         # etcd member ID -> node name
state = {"t0": None, "old": None, "done": None, "watch": None}
stop = threading.Event()
interval = a.poll_ms / 1000.0

def agreed(names, since):
    keys = set()
    for n in names:
        r = reports.get(n)
        if r is None or not r[0] or (since is not None and r[1] < since):
            return None
        keys.add(r[0])
    return keys.pop() if len(keys) == 1 else None

def name_of(key):
    return by_ip.get(key.rsplit(":", 1)[0], key) if a.kind == "conclave" else etcd_ids.get(key, key)

def poller(name, ip):
    fd = os.open("/run/netns/%s-%s" % (a.topo, name), os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        print("watch: setns %s: %s" % (name, os.strerror(ctypes.get_errno())), file=sys.stderr)
        os._exit(2)
    os.close(fd)
    conn, nxt = None, time.monotonic()
    while not stop.is_set():
        key = None
        try:
            if conn is None:
                conn = http.client.HTTPConnection(ip, 8500 if a.kind == "conclave" else 2379, timeout=0.25)
            if a.kind == "conclave":
                conn.request("GET", "/v1/status/leader")
            else:
                conn.request("POST", "/v3/maintenance/status", body="{}",
                             headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            if r.status == 200:
                j = json.loads(data)
                if a.kind == "conclave":
                    key = j if isinstance(j, str) else ""
                else:
                    me = j.get("header", {}).get("member_id")
                    key = j.get("leader", "0")
                    key = "" if key in ("0", 0, None) else str(key)
                    if me:
                        with lock:
                            etcd_ids[str(me)] = name
        except (OSError, ValueError, http.client.HTTPException):
            if conn:
                conn.close()
            conn = None
        t = time.monotonic()
        with lock:
            reports[name] = (key, t)
            if state["t0"] is not None and state["done"] is None:
                k = agreed(state["watch"], state["t0"])
                if k and k != state["old"]:
                    state["done"] = (t, k)
        nxt += interval
        d = nxt - time.monotonic()
        if d > 0:
            time.sleep(d)
        else:
            nxt = time.monotonic()

def wait_until(pred, deadline):
    while time.monotonic() < deadline:
        with lock:
            v = pred()
        if v:
            return v
        time.sleep(0.005)
    return None

for n, ip in nodes.items():
    threading.Thread(target=poller, args=(n, ip), daemon=True).start()
deadline = time.monotonic() + a.timeout
if a.mode in ("leader", "change"):
    # the same leader named by every node, on answers after we started
    start = time.monotonic()
    k = wait_until(lambda: agreed(list(nodes), start), deadline)
    if not k:
        print("-1 -"); sys.exit(1)
    if a.mode == "leader":
        print(name_of(k)); sys.exit(0)
    if name_of(k) != a.old:
        print("watch: leader is %s, not %s" % (name_of(k), a.old), file=sys.stderr)
        print("-1 -"); sys.exit(3)
    state["old"] = k
else:
    wait_until(lambda: len(reports) == len(nodes), deadline)
for c in cmds[:-1]:
    subprocess.run(c, stdout=subprocess.DEVNULL, timeout=a.timeout, check=True)
with lock:
    state["watch"] = watch
    state["t0"] = time.monotonic()
    t0 = state["t0"]
subprocess.run(cmds[-1], stdout=subprocess.DEVNULL, timeout=a.timeout, check=True)
done = wait_until(lambda: state["done"], t0 + a.timeout)
stop.set()
if not done:
    print("-1 -"); sys.exit(1)
print("%d %s" % (round((done[0] - t0) * 1000), name_of(done[1])))
PY

topology() { # kind n
  echo "name: $T"
  echo "networks: [ { name: lan, subnet: 51.6.196.0/24 } ]"
  echo "defaults:"
  echo "  kind: $1"
  if [ "$1" = conclave ]; then
    local joins; joins=$(seq 0 $(($2 - 1)) | awk '{printf "%s\"51.6.196.%d\"", (NR > 1 ? ", " : ""), 10 + $1}')
    echo "  config: { server: true, bootstrap_expect: $2, datacenter: dc1, log_level: INFO,"
    echo "            retry_join: [$joins], retry_interval: 1s }"
  fi
  echo "nodes:"
  for i in $(seq 0 $(($2 - 1))); do echo "  - { name: n$i, addresses: { lan: 51.6.196.$((10 + i)) } }"; done
}

keep_logs() { # kind n run step
  [ -n "$LOGS" ] || return 0
  mkdir -p "$LOGS"
  for i in $(seq 0 $(($2 - 1))); do
    "$HARNESS" -t "$T" logs "n$i" >"$LOGS/$1-N$2-run$3-$4-n$i.log" 2>&1 || true
  done
  "$HARNESS" status "$T" >"$LOGS/$1-N$2-run$3-$4-status.txt" 2>&1 || true
}

measure() { # kind n run -> "cold kill link stop ops p50 p99 errors" (-1: failed)
  local kind=$1 n=$2 run=$3 port=8500 i
  [ "$kind" = etcd ] && port=2379
  local W=("$PY" "$TMP/watch.py" --kind "$kind" --topo "$T" --timeout "$TIMEOUT" --poll-ms "$POLL_MS")
  for i in $(seq 0 $((n - 1))); do W+=(--node "n$i=51.6.196.$((10 + i))"); done
  topology "$kind" "$n" >"$TMP/t.yaml"
  "$HARNESS" up --network-only "$TMP/t.yaml" >/dev/null
  local starts=() cold=-1 kill=-1 link=-1 stop=-1 kv="-1 -1 -1 -1" out L
  for i in $(seq 0 $((n - 1))); do starts+=("$HARNESS" -t "$T" start "n$i" :::); done
  unset 'starts[${#starts[@]}-1]'
  out=$("${W[@]}" cold -- "${starts[@]}") && cold=${out%% *} || keep_logs "$kind" "$n" "$run" cold
  # fault STEP VERB...: the current leader L gets "harness VERB L"; sets $ms
  fault() {
    local step=$1 others o; shift; ms=-1
    for _ in 1 2 3; do
      L=$("${W[@]}" leader) || { keep_logs "$kind" "$n" "$run" "$step-noleader"; return 1; }
      others=(); for i in $(seq 0 $((n - 1))); do [ "n$i" != "$L" ] && others+=(--watch "n$i"); done
      o=$("${W[@]}" change --old "$L" "${others[@]}" -- "$HARNESS" -t "$T" "$@" "$L") && { ms=${o%% *}; return 0; }
      [ $? = 3 ] || break # the leader moved before the fault: try again
    done
    keep_logs "$kind" "$n" "$run" "$step"; return 0
  }
  if [ "$cold" != -1 ] || "${W[@]}" leader >/dev/null; then
    sleep "$SETTLE"
    L=$("${W[@]}" leader) &&
      kv=$(timeout $((DURATION + 60)) "$HARNESS" -t "$T" exec "$L" -- "$PY" "$KVLOAD" --kind "$kind" \
        --addr "51.6.196.$((10 + ${L#n})):$port" --clients "$CLIENTS" --duration "$DURATION" | awk 'NF == 4') ||
      kv="-1 -1 -1 -1"
    [ -n "$kv" ] || kv="-1 -1 -1 -1"
    sleep "$SETTLE"
    if fault kill kill; then
      kill=$ms
      "$HARNESS" -t "$T" start "$L" >/dev/null || true
      if "${W[@]}" leader >/dev/null; then
        sleep "$SETTLE"
        if fault link link down; then
          link=$ms
          "$HARNESS" -t "$T" link up "$L" >/dev/null || true
          if "${W[@]}" leader >/dev/null; then
            sleep "$SETTLE"
            fault stop stop && stop=$ms
          else keep_logs "$kind" "$n" "$run" link-heal; fi
        fi
      else keep_logs "$kind" "$n" "$run" kill-heal; fi
    fi
  fi
  keep_logs "$kind" "$n" "$run" end
  "$HARNESS" down "$T" >/dev/null
  echo "$cold $kill $link $stop $kv"
}

col() { # file column -> "median" or "median(k failed)" or "failed"
  local m f
  m=$(awk -v c="$2" '$c >= 0 {print $c}' "$1" | median)
  f=$(awk -v c="$2" '$c < 0' "$1" | wc -l)
  if [ -z "$m" ]; then echo failed; elif [ "$f" -gt 0 ]; then echo "$m($f failed)"; else echo "$m"; fi
}

echo "# $(date -u +%FT%TZ), $(nproc) cores, RUNS=$RUNS CLIENTS=$CLIENTS DURATION=${DURATION}s POLL_MS=$POLL_MS"
printf '%-9s %-3s %10s %10s %10s %10s %10s %9s %9s\n' kind N "cold ms" "kill ms" "link ms" "stop ms" "KV ops/s" "p50 ms" "p99 ms"
for n in $SIZES; do
  for kind in $KINDS; do : >"$TMP/$kind-$n"; done
  for r in $(seq "$RUNS"); do
    for kind in $KINDS; do
      measure "$kind" "$n" "$r" >"$TMP/res" # in this shell, so that Ctrl-C stops it
      res=$(cat "$TMP/res")
      echo "$res" >>"$TMP/$kind-$n"
      echo "  run $r $kind N=$n: cold kill link stop ms, ops/s p50 p99 ms, errors: $res" >&2
    done
  done
  for kind in $KINDS; do
    f=$TMP/$kind-$n
    printf '%-9s %-3s %10s %10s %10s %10s %10s %9s %9s\n' "$kind" "$n" \
      "$(col "$f" 1)" "$(col "$f" 2)" "$(col "$f" 3)" "$(col "$f" 4)" "$(col "$f" 5)" "$(col "$f" 6)" "$(col "$f" 7)"
  done
  [ -f "$TMP/conclave-$n" ] && [ -f "$TMP/etcd-$n" ] || continue
  ratio() { # column, inverse(1: conclave/etcd)
    local c e
    c=$(awk -v k="$1" '$k >= 0 {print $k}' "$TMP/conclave-$n" | median)
    e=$(awk -v k="$1" '$k >= 0 {print $k}' "$TMP/etcd-$n" | median)
    awk -v c="${c:-0}" -v e="${e:-0}" -v inv="$2" \
      'BEGIN { if (c <= 0 || e <= 0) print "-"; else printf "%.1fx\n", inv ? c / e : e / c }'
  }
  printf '%-9s %-3s %10s %10s %10s %10s %10s %9s %9s\n' ratio "$n" "$(ratio 1 0)" "$(ratio 2 0)" \
    "$(ratio 3 0)" "$(ratio 4 0)" "$(ratio 5 1)" "$(ratio 6 0)" "$(ratio 7 0)"
done
