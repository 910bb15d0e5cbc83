#!/usr/bin/env bash
# Raft through the harness, with real agents in real namespaces: the seed's
# two servers elect a leader by themselves, lose it when either dies (correct
# for two) and get it back on restart with their KV data; three servers fail
# over on SIGKILL, survive stop/stop/start/start (Consul #7486), a rolling
# restart and a full restart with their data, take back a server whose
# data_dir was wiped, and lose no acknowledged write over 50 SIGKILLs; five
# servers fail over and client agents forward KV requests to them.
# Mismatched bootstrap_expect values never bootstrap.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

api() { # topology node method path [body]: prints the body, returns curl's status
  local t=$1 n=$2 m=$3 p=$4 d=${5-}
  "$HARNESS" -t "$t" exec "$n" -- sh -c 'curl -s --max-time 12 -X "$1" ${3:+--data-binary "$3"} "$CONCLAVE_HTTP_ADDR$2"' _ "$m" "$p" "$d"
}
leader_of() { api "$1" "$2" GET /v1/status/leader 2>/dev/null | tr -d '"'; }
# every listed node names the same, non-empty leader (printed)
agreed_leader() {
  local t=$1; shift; local first="" l
  for n in "$@"; do
    l=$(leader_of "$t" "$n"); [ -n "$l" ] || return 1
    [ -z "$first" ] && first=$l; [ "$l" = "$first" ] || return 1
  done
  echo "$first"
}
no_leader() { [ -z "$(leader_of "$1" "$2")" ]; }
node_at() { # topology ip:port -> node name
  "$HARNESS" status "$1" --json | python3 -c 'import json,sys; ip=sys.argv[1].split(":")[0]
for n in json.load(sys.stdin):
    if n["address"] == ip: print(n["node"])' "$2"
}
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# ---- the seed: dc1, two servers ----
T=$TOPO
sed -e "s/^name: dc1/name: $T/" "$ROOT/topologies/dc1.yaml" >"$TMP/dc1.yaml"
"$HARNESS" up "$TMP/dc1.yaml" >"$TMP/up.out" 2>&1 || { fail "up of dc1"; cat "$TMP/up.out" >&2; finish; }
assert_contains "$TMP/up.out" "leader after" "up waits for the agents' leader"
L=$(agreed_leader "$T" node2_201 node3_211) && ok "dc1: both servers name the same leader ($L)" || fail "dc1: no agreed leader"
api "$T" node2_201 GET /v1/status/peers >"$TMP/peers.json"
python3 - "$TMP/peers.json" <<'PY' && ok "dc1: /v1/status/peers lists both IP:8300" || { fail "status/peers"; cat "$TMP/peers.json" >&2; }
import json, sys
sys.exit(0 if sorted(json.load(open(sys.argv[1]))) == ["51.6.196.201:8300", "51.6.196.211:8300"] else 1)
PY
# Both bootstrap when they see each other; when one has already won an
# election with the other's vote, the other hears "Existing Raft peers".
{ "$HARNESS" -t "$T" logs node2_201; "$HARNESS" -t "$T" logs node3_211; } >"$TMP/both.log"
assert_contains "$TMP/both.log" "agent.server: Found expected number of peers, attempting bootstrap: peers=" "bootstrap line as in the seed"
"$HARNESS" -t "$T" logs node2_201 >"$TMP/n2.log"
assert_contains "$TMP/n2.log" "agent.server: New leader elected: payload=" "New leader elected line"
[ "$(api "$T" node2_201 PUT /v1/kv/seed/a hello)" = true ] && ok "KV put through a server" || fail "KV put"
[ "$(api "$T" node3_211 GET '/v1/kv/seed/a?raw')" = hello ] && ok "KV read from the other server" || fail "KV read"
api "$T" node3_211 GET /v1/kv/seed/a >"$TMP/kv.json"
python3 - "$TMP/kv.json" <<'PY' && ok "KV entry in Consul's shape" || { fail "KV JSON"; cat "$TMP/kv.json" >&2; }
import json, sys
e = json.load(open(sys.argv[1]))[0]
sys.exit(0 if e["Key"] == "seed/a" and e["Value"] == "aGVsbG8=" and e["Flags"] == 0
         and e["CreateIndex"] == e["ModifyIndex"] > 0 and e["LockIndex"] == 0 else 1)
PY
for victim in node2_201 node3_211; do
  other=$([ $victim = node2_201 ] && echo node3_211 || echo node2_201)
  "$HARNESS" -t "$T" kill "$victim" >/dev/null
  wait_for 15 no_leader "$T" "$other" && ok "dc1: $victim killed -> $other reports no leader (two servers tolerate no failure)" || fail "dc1: $other still has a leader"
  out=$(api "$T" "$other" PUT /v1/kv/seed/b x)
  [ "$out" = "No cluster leader" ] && ok "dc1: a write without a leader fails with 'No cluster leader'" || fail "dc1: write gave '$out'"
  "$HARNESS" -t "$T" start "$victim" >/dev/null
  wait_for 20 agreed_leader "$T" node2_201 node3_211 >/dev/null && ok "dc1: $victim restarted -> a leader again, no manual join" || fail "dc1: no leader after restarting $victim"
  [ "$(api "$T" "$victim" GET '/v1/kv/seed/a?raw')" = hello ] && ok "dc1: earlier KV data intact on $victim" || fail "dc1: KV lost on $victim"
done
"$HARNESS" -t "$T" logs node2_201 >"$TMP/n2.log"
assert_contains "$TMP/n2.log" "agent.server: Raft data found, disabling bootstrap mode" "restart with data skips bootstrap"
"$HARNESS" down "$T" >/dev/null 2>&1 || fail "down of dc1"

# ---- three servers ----
T3="${TOPO}c"; TOPOS+=("$T3")
# small snapshot settings, so that snapshots, compaction and InstallSnapshot happen
sed -e "s/^name: dc1-3/name: $T3/" -e 's/^    retry_interval: 5s/    retry_interval: 5s\n    raft_snapshot_threshold: 64\n    raft_trailing_logs: 16/' \
  "$ROOT/topologies/dc1-3.yaml" | sed 's/\\n/\n/g' >"$TMP/dc1-3.yaml"
N3=(node1 node2 node3)
"$HARNESS" up "$TMP/dc1-3.yaml" >"$TMP/up3.out" 2>&1 || { fail "up of dc1-3"; cat "$TMP/up3.out" >&2; finish; }
L=$(agreed_leader "$T3" "${N3[@]}") && ok "3 servers: one leader ($L)" || fail "3 servers: no agreed leader"
for i in $(seq 1 10); do api "$T3" node$(( i % 3 + 1 )) PUT /v1/kv/k$i v$i >/dev/null; done
LN=$(node_at "$T3" "$L")
"$HARNESS" -t "$T3" kill "$LN" >/dev/null; t0=$(date +%s%N)
rest=(); for n in "${N3[@]}"; do [ "$n" != "$LN" ] && rest+=("$n"); done
new_leader() { l=$(agreed_leader "$T3" "${rest[@]}") && [ "$l" != "$L" ]; }
wait_for 15 new_leader && ok "3 servers: leader $LN SIGKILLed -> new leader known by both survivors after $(ms_since $t0) ms" || fail "3 servers: no new leader"
"$HARNESS" -t "$T3" start "$LN" >/dev/null
wait_for 20 agreed_leader "$T3" "${N3[@]}" >/dev/null && ok "3 servers: the killed leader restarted and follows" || fail "3 servers: restarted node does not follow"
[ "$(agreed_leader "$T3" "${N3[@]}")" != "$L" ] && ok "3 servers: the restarted node did not take leadership back" || fail "3 servers: leadership moved back"
[ "$(api "$T3" "$LN" GET '/v1/kv/k10?raw')" = v10 ] && ok "3 servers: KV intact on the restarted node" || fail "3 servers: KV lost"

# Consul #7486: stop A, stop B, start A, start B -> a leader again
"$HARNESS" -t "$T3" stop node1 >/dev/null; "$HARNESS" -t "$T3" stop node2 >/dev/null
"$HARNESS" -t "$T3" start node1 >/dev/null; "$HARNESS" -t "$T3" start node2 >/dev/null
wait_for 20 agreed_leader "$T3" "${N3[@]}" >/dev/null && ok "3 servers: stop A, stop B, start A, start B -> a leader again" || fail "3 servers: #7486 scenario lost the cluster"

# rolling restart: never leaderless for long, no manual step
worst=0; rolled=0
for n in "${N3[@]}"; do
  "$HARNESS" -t "$T3" restart "$n" >/dev/null; t0=$(date +%s%N)
  if wait_for 20 agreed_leader "$T3" "${N3[@]}" >/dev/null; then rolled=$((rolled + 1))
  else fail "rolling restart: no leader after restarting $n"; fi
  d=$(ms_since $t0); [ $d -gt $worst ] && worst=$d
done
[ $rolled = 3 ] && ok "rolling restart of all three: a leader agreed by all after each step (worst ${worst} ms)"
[ "$(api "$T3" node1 PUT /v1/kv/after-roll yes)" = true ] && ok "writes after the rolling restart" || fail "write after rolling restart"

# full restart with data: same cluster, no re-bootstrap, KV intact
for n in "${N3[@]}"; do "$HARNESS" -t "$T3" stop "$n" >/dev/null; done
for n in "${N3[@]}"; do "$HARNESS" -t "$T3" start "$n" >/dev/null; done
wait_for 20 agreed_leader "$T3" "${N3[@]}" >/dev/null && ok "full restart: a leader again" || fail "full restart: no leader"
[ "$(api "$T3" node2 GET '/v1/kv/after-roll?raw')" = yes ] && ok "full restart: KV intact" || fail "full restart: KV lost"
"$HARNESS" -t "$T3" logs node3 >"$TMP/n3.log"
[ "$(grep -c 'Found expected number of peers' "$TMP/n3.log")" -le 1 ] && ok "full restart: no second bootstrap" || fail "bootstrapped twice"

# SIGKILL a random server KILLS times during a stream of writes: no
# acknowledged write is lost. The writer runs in node1's namespace (its
# network stays when the process dies) and tries the servers in turn.
KILLS=${RAFT_TEST_KILLS:-50}
cat >"$TMP/writer.py" <<'PY'
import http.client, sys, time
addrs, out, stop = sys.argv[1].split(","), open(sys.argv[2], "w"), sys.argv[3]
i, n = 0, 0
import os
while not os.path.exists(stop):
    n += 1
    a = addrs[i % len(addrs)]
    try:
        c = http.client.HTTPConnection(a, 8500, timeout=10)
        c.request("PUT", "/v1/kv/w/%d" % n, body=b"v%d" % n)
        r = c.getresponse(); body = r.read()
        if r.status == 200 and body == b"true":
            out.write("%d\n" % n); out.flush()
        else:
            i += 1
    except Exception:
        i += 1
PY
NS1=$(python3 -c 'import json,sys; print([n["namespace"] for n in json.load(sys.stdin) if n["node"]=="node1"][0])' < <("$HARNESS" status "$T3" --json))
ip netns exec "$NS1" python3 "$TMP/writer.py" 51.6.196.201,51.6.196.211,51.6.196.221 "$TMP/acked" "$TMP/stop" &
WRITER=$!; PIDS+=($WRITER)
for k in $(seq 1 "$KILLS"); do
  victim=${N3[$((RANDOM % 3))]}
  "$HARNESS" -t "$T3" kill "$victim" >/dev/null
  sleep 0.$((RANDOM % 3 + 1))
  "$HARNESS" -t "$T3" start "$victim" >/dev/null
  wait_for 20 agreed_leader "$T3" "${N3[@]}" >/dev/null || { fail "no leader after kill $k of $victim"; break; }
done
touch "$TMP/stop"; wait "$WRITER" 2>/dev/null
acked=$(wc -l <"$TMP/acked")
[ "$acked" -gt 100 ] && ok "$KILLS random SIGKILLs during the writes; $acked writes acknowledged" || fail "only $acked writes acknowledged"
api "$T3" node2 GET '/v1/kv/w/?recurse&consistent' >"$TMP/all.json"
python3 - "$TMP/acked" "$TMP/all.json" <<'PY' && ok "every acknowledged write is there with its value" || fail "acknowledged writes lost"
import base64, json, sys
have = {e["Key"]: base64.b64decode(e["Value"] or "") for e in json.load(open(sys.argv[2]))}
lost = [n for n in open(sys.argv[1]).read().split() if have.get("w/" + n) != ("v" + n).encode()]
print("lost:", lost[:10], file=sys.stderr) if lost else None
sys.exit(1 if lost else 0)
PY
# a server with a wiped data_dir rejoins through the leader
DATA=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data_dir"])' "$CONCLAVE_HARNESS_DIR/$T3/nodes/node3/config.json")
"$HARNESS" -t "$T3" stop node3 >/dev/null
rm -rf "${DATA:?}/raft" "$DATA/node-id" "$DATA/serf"
"$HARNESS" -t "$T3" start node3 >/dev/null
has_kv() { [ "$(api "$T3" node3 GET '/v1/kv/after-roll?raw&stale')" = yes ]; }
wait_for 20 has_kv && ok "wiped server got the data back from the leader" || fail "wiped server has no data"
"$HARNESS" -t "$T3" logs node3 | grep -q "Installed remote snapshot" \
  && ok "it came as a snapshot (InstallSnapshot: the log had been compacted)" || fail "no snapshot installed on the wiped server"
three_voters() {
  api "$T3" node1 GET /v1/operator/raft/configuration | python3 -c 'import json,sys
c = json.load(sys.stdin)["Servers"]
sys.exit(0 if len(c) == 3 and all(s["Voter"] for s in c) and len({s["Address"] for s in c}) == 3 else 1)'
}
wait_for 20 three_voters && ok "wiped server is a voter again under its new ID, the stale entry gone" || { fail "raft configuration after wipe"; api "$T3" node1 GET /v1/operator/raft/configuration >&2; }

"$HARNESS" down "$T3" >/dev/null 2>&1 || fail "down of dc1-3"

# ---- five servers and two client agents ----
T5="${TOPO}f"; TOPOS+=("$T5")
sed -e "s/^name: dc1-5/name: $T5/" "$ROOT/topologies/dc1-5.yaml" >"$TMP/dc1-5.yaml"
N5=(node1 node2 node3 node4 node5)
"$HARNESS" up "$TMP/dc1-5.yaml" >"$TMP/up5.out" 2>&1 || { fail "up of dc1-5"; cat "$TMP/up5.out" >&2; }
L=$(agreed_leader "$T5" "${N5[@]}") && ok "5 servers: one leader ($L)" || fail "5 servers: no agreed leader"
# what a client agent knew when a request through it failed: its members, its log
client_diag() { # node
  echo "--- $1: harness status" >&2; "$HARNESS" status "$T5" >&2
  echo "--- $1: members" >&2; api "$T5" "$1" GET /v1/agent/members >&2; echo >&2
  echo "--- $1: log tail" >&2; "$HARNESS" -t "$T5" logs "$1" | tail -25 >&2
}
# `up` waits for the servers' leader; a client agent may still be joining
client_knows_leader() { [ -n "$(leader_of "$T5" "$1")" ]; }
wait_for 15 client_knows_leader client1 && wait_for 15 client_knows_leader client2 \
  || { fail "a client agent knows no leader 15 s after up"; client_diag client1; client_diag client2; }
r=$(api "$T5" client1 PUT /v1/kv/from/client1 c1)
[ "$r" = true ] && ok "a client agent forwards a KV write to a server" || { fail "client KV write gave '$r'"; client_diag client1; }
[ "$(api "$T5" node4 GET '/v1/kv/from/client1?raw')" = c1 ] && ok "the write is on the servers" || fail "client write not on servers"
[ "$(api "$T5" client2 GET '/v1/kv/from/client1?raw')" = c1 ] && ok "another client reads it through a server" || fail "client KV read"
IDX=$("$HARNESS" -t "$T5" exec client1 -- sh -c 'curl -s -D - -o /dev/null "$CONCLAVE_HTTP_ADDR/v1/kv/from/client1"' | tr -d '\r' | awk 'tolower($1)=="x-consul-index:" {print $2}')
api "$T5" client1 GET "/v1/kv/from/client1?index=$IDX&wait=10s&raw" >"$TMP/blocked" &
BQ=$!
sleep 0.5
api "$T5" client2 PUT /v1/kv/from/client1 c2 >/dev/null
wait $BQ
[ "$(cat "$TMP/blocked")" = c2 ] && ok "a blocking query through one client wakes on a write through the other" || fail "forwarded blocking query gave '$(cat "$TMP/blocked")'"
code=$("$HARNESS" -t "$T5" exec client2 -- sh -c 'curl -s -o /dev/null -w "%{http_code}" "$CONCLAVE_HTTP_ADDR/v1/kv/from/none"')
[ "$code" = 404 ] && ok "a missing key is 404 through a client too" || fail "client 404 gave $code"
LN=$(node_at "$T5" "$L")
"$HARNESS" -t "$T5" kill "$LN" >/dev/null; t0=$(date +%s%N)
rest5=(); for n in "${N5[@]}"; do [ "$n" != "$LN" ] && rest5+=("$n"); done
new_leader5() { l=$(agreed_leader "$T5" "${rest5[@]}") && [ "$l" != "$L" ]; }
wait_for 15 new_leader5 && ok "5 servers: leader SIGKILLed -> new leader known by all four after $(ms_since $t0) ms" || fail "5 servers: no new leader"
# until gossip declares the dead leader dead (its next probe, within about a
# second) the client may still pick it: five writes in a row meet it then, and
# each must move on to a live server
cw=0; for i in 1 2 3 4 5; do
  r=$(api "$T5" client1 PUT "/v1/kv/from/client1b/$i" yes); [ "$r" = true ] && cw=$((cw + 1)) || echo "write $i gave '$r'" >&2
done
[ "$cw" = 5 ] && ok "clients keep writing after the failover (5 of 5)" || { fail "client writes after failover: $cw of 5"; client_diag client1; }
# graceful leave: a follower leaves -> the leader removes it from Raft; the
# leader leaves -> it hands leadership over first, then is removed
servers_in_conf() { # topology node: the Raft configuration's server count
  api "$1" "$2" GET /v1/operator/raft/configuration | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["Servers"]))'
}
L2=$(agreed_leader "$T5" "${rest5[@]}"); LN2=$(node_at "$T5" "$L2")
F=""; for n in "${rest5[@]}"; do [ "$n" != "$LN2" ] && F=$n && break; done
"$HARNESS" -t "$T5" exec "$F" -- conclave leave >/dev/null 2>&1
conf_is() { [ "$(servers_in_conf "$T5" "$LN2")" = "$1" ]; }
wait_for 15 conf_is 4 && ok "a follower's graceful leave removes it from the Raft configuration" || fail "left follower still in the configuration ($(servers_in_conf "$T5" "$LN2"))"
rest6=(); for n in "${rest5[@]}"; do [ "$n" != "$F" ] && rest6+=("$n"); done
"$HARNESS" -t "$T5" exec "$LN2" -- conclave leave >/dev/null 2>&1
rest7=(); for n in "${rest6[@]}"; do [ "$n" != "$LN2" ] && rest7+=("$n"); done
moved() { l=$(agreed_leader "$T5" "${rest7[@]}") && [ "$l" != "$L2" ]; }
wait_for 15 moved && ok "the leader's graceful leave hands leadership to another server" || fail "no new leader after the leader left"
NL=$(node_at "$T5" "$(agreed_leader "$T5" "${rest7[@]}")")
conf3() { [ "$(servers_in_conf "$T5" "$NL")" = 3 ]; }
wait_for 15 conf3 && ok "and the old leader is out of the configuration" || fail "old leader still in the configuration"
"$HARNESS" -t "$T5" logs "$LN2" | grep -q "agent.server.raft: starting leadership transfer" && ok "the leaving leader logged the transfer" || fail "no transfer logged"
"$HARNESS" down "$T5" >/dev/null 2>&1 || fail "down of dc1-5"

# ---- bootstrap_expect mismatch ----
TM="${TOPO}m"; TOPOS+=("$TM")
python3 - "$ROOT/topologies/dc1.yaml" "$TM" >"$TMP/mismatch.yaml" <<'PY'
import sys
out = []
for line in open(sys.argv[1]):
    if line.startswith("name:"):
        line = "name: %s\n" % sys.argv[2]
    out.append(line)
    if line.strip().startswith("addresses: { lan: 51.6.196.211"):
        out.append("    config: { bootstrap_expect: 3 }\n")
print("".join(out), end="")
PY
"$HARNESS" up --timeout=5 "$TMP/mismatch.yaml" >"$TMP/upm.out" 2>&1
conflict_logged() { "$HARNESS" -t "$TM" logs node2_201 | grep -q "Member has a conflicting expect value. All nodes should expect the same number.: member=node3_211"; }
wait_for 10 conflict_logged && ok "expect mismatch: the conflict is logged by name" || { fail "expect mismatch not logged"; "$HARNESS" -t "$TM" logs node2_201 | tail -20 >&2; }
no_leader "$TM" node2_201 && no_leader "$TM" node3_211 && ok "expect mismatch: no bootstrap, no leader" || fail "expect mismatch bootstrapped"
api "$TM" node2_201 GET /v1/status/peers | grep -qx null && ok "expect mismatch: empty Raft configuration (peers null)" || fail "peers not null"
"$HARNESS" down "$TM" >/dev/null 2>&1
check_root_ns "after raft tests"
finish
