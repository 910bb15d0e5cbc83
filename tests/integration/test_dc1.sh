#!/usr/bin/env bash
# The seed's topology: dc1 with `kind: command` nodes, then with real conclave
# agents (what `make up` runs), each up and down.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

# dc1 exactly as shipped, but with a command daemon in each node.
sed -e "s/^name: dc1/name: $TOPO/" -e 's/kind: conclave/kind: command\n  command: [sleep, "600"]/' \
  "$ROOT/topologies/dc1.yaml" | sed 's/\\n/\n/' >"$TMP/dc1-cmd.yaml"
"$HARNESS" up "$TMP/dc1-cmd.yaml" >"$TMP/up.out" 2>&1 || { fail "up of dc1 with command nodes"; cat "$TMP/up.out" >&2; finish; }
ok "dc1 with command nodes is up"
check_root_ns "dc1 command up"
ip -n "$TOPO-node2_201" -4 addr show eth0 | grep -q '51.6.196.201/24' && ok "node2_201 at 51.6.196.201" || fail "node2_201 address"
ip -n "$TOPO-node3_211" -4 addr show eth0 | grep -q '51.6.196.211/24' && ok "node3_211 at 51.6.196.211" || fail "node3_211 address"

# dc1 with real conclave agents, under its own name so a user's dc1 is untouched,
# while the first one is still up: same addresses, separate fabrics.
T2="${TOPO}b"; TOPOS+=("$T2")
sed -e "s/^name: dc1/name: $T2/" "$ROOT/topologies/dc1.yaml" >"$TMP/dc1.yaml"
"$HARNESS" up "$TMP/dc1.yaml" >"$TMP/up2.out" 2>&1 || { fail "up of dc1 with conclave"; cat "$TMP/up2.out" >&2; finish; }
ok "dc1 with conclave agents is up"
assert_contains "$TMP/up2.out" "every daemon answering after" "up waits for the agents' HTTP API"
check_root_ns "dc1 conclave up"
CFG="$CONCLAVE_HARNESS_DIR/$T2/nodes/node2_201/config.json"
assert_contains "$CFG" '"bind_addr":	"51.6.196.201"' "node config has the node's address"
assert_contains "$CFG" '"bootstrap_expect":	2' "node config keeps bootstrap_expect"
python3 - "$CFG" <<'PY' && ok "node config keys in the seed's order" || fail "node config key order"
import json, sys
keys = list(json.load(open(sys.argv[1])).keys())
seed = ["bootstrap_expect", "datacenter", "data_dir", "log_level", "server", "node_name", "ui",
        "bind_addr", "client_addr", "advertise_addr", "enable_script_checks", "retry_join",
        "retry_interval", "ports"]
sys.exit(0 if keys == seed else 1)
PY
"$HARNESS" -t "$T2" exec node3_211 -- sh -c 'curl -sf --max-time 2 "$CONCLAVE_HTTP_ADDR/v1/agent/self"' >"$TMP/self.json" \
  && assert_contains "$TMP/self.json" '"NodeName":"node3_211"' "agent answers inside its namespace" || fail "exec curl in node3_211"
"$HARNESS" status "$T2" >"$TMP/status.out" 2>&1
[ "$(grep -c ' running ' "$TMP/status.out")" = 2 ] && ok "status shows two running agents" || { fail "status"; cat "$TMP/status.out" >&2; }
members_are() { # topology count: every node reports that many alive members
  "$HARNESS" status "$1" --json | python3 -c 'import json,sys; n=json.load(sys.stdin); sys.exit(0 if all(x["members"] == int(sys.argv[1]) for x in n) else 1)' "$2"
}
wait_for 15 members_are "$T2" 2 && ok "gossip: both agents list 2 alive members" || { fail "gossip did not converge"; "$HARNESS" status "$T2" >&2; }
"$HARNESS" status "$TOPO" --json | grep -c '"state":\s*"running"' | grep -qx 2 && ok "both topologies up side by side" || fail "first topology disturbed"
"$HARNESS" down "$TOPO" >/dev/null 2>&1 || fail "down of dc1 command"
[ "$(leftover_ns "$TOPO")" = 0 ] && ok "dc1 command down clean" || fail "namespaces left"
[ "$(leftover_ns "$T2")" = 3 ] && ok "the other topology is untouched by that down" || fail "down removed the wrong namespaces"
"$HARNESS" -t "$T2" restart node2_201 >/dev/null 2>&1 && ok "restart" || fail "restart failed"
"$HARNESS" -t "$T2" logs node2_201 >"$TMP/log.out"
assert_contains "$TMP/log.out" "Caught: signal=terminated" "restart stopped the agent with SIGTERM"
started_twice() { [ "$("$HARNESS" -t "$T2" logs node2_201 | grep -c 'Starting Conclave agent')" = 2 ]; }
wait_for 10 started_twice && ok "the agent started twice" || fail "agent did not start again"
wait_for 15 members_are "$T2" 2 && ok "after the restart both list 2 members again, no manual join" || fail "restarted agent did not rejoin"
"$HARNESS" -t "$T2" logs node2_201 >"$TMP/log2.out"
assert_contains "$TMP/log2.out" "serf: Attempting re-join to previously known node: node3_211: 51.6.196.211:8301" "rejoin from the serf snapshot"
assert_contains "$TMP/log2.out" "agent: Join cluster completed. Synced with initial agents: cluster=LAN num_agents=2" "retry_join completes as in the seed's log"
# SIGKILL: the host still answers (ICMP port unreachable), so the peer is
# declared failed at once instead of after SWIM's suspicion timeout (4-24 s).
peer_failed() { "$HARNESS" -t "$T2" exec node2_201 -- conclave members -status=failed 2>/dev/null | grep -q "^node3_211 "; }
"$HARNESS" -t "$T2" kill node3_211 >/dev/null
t0=$(date +%s%N)
wait_for 10 peer_failed && ok "SIGKILLed peer seen failed after $(( ($(date +%s%N) - t0) / 1000000 )) ms" || fail "killed peer not failed"
[ $(( ($(date +%s%N) - t0) / 1000000 )) -le 3500 ] && ok "within the fast-failure bound (<= 2 s, plus polling)" || fail "killed peer took longer than 3.5 s to be failed"
"$HARNESS" -t "$T2" start node3_211 >/dev/null
wait_for 15 members_are "$T2" 2 && ok "the killed agent is alive again after start" || fail "killed agent did not come back"
"$HARNESS" -t "$T2" exec node2_201 -- conclave members >"$TMP/members.out" 2>&1
assert_contains "$TMP/members.out" "Node       Address            Status  Type    Build  Protocol  DC   Segment" "conclave members header"
assert_contains "$TMP/members.out" "node3_211  51.6.196.211:8301  alive   server" "conclave members lists the peer alive"
"$HARNESS" -t "$T2" exec node3_211 -- conclave leave >"$TMP/leave.out" 2>&1
assert_contains "$TMP/leave.out" "Graceful leave complete" "conclave leave"
peer_left() { "$HARNESS" -t "$T2" exec node2_201 -- conclave members -status=left 2>/dev/null | grep -q "^node3_211 "; }
wait_for 10 peer_left && ok "after conclave leave the peer is listed as left" || fail "peer not left"
"$HARNESS" -t "$T2" exec node2_201 -- conclave force-leave nobody >/dev/null 2>&1 && fail "force-leave of an unknown node succeeded" || ok "force-leave of an unknown node fails"
"$HARNESS" down "$T2" >"$TMP/down.out" 2>&1 || fail "down of dc1 conclave"
[ "$(leftover_ns "$T2")" = 0 ] && ok "dc1 conclave down clean" || fail "namespaces left"
check_root_ns "after dc1"
finish
