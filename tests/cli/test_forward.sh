#!/usr/bin/env bash
# A client agent forwards KV requests to the servers it learns from gossip; a
# server that gossip says is alive but whose server port refuses connections
# (here a real `serf agent` wearing Consul's server tags) must be skipped: the
# request goes to the next server, and the client logs Consul's
# "RPC failed to server" line. Loopback addresses only.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl is not installed (ci/deps.sh installs it)"; exit 77; }
command -v serf >/dev/null || { echo "serf is not installed (ci/deps.sh installs it)"; exit 77; }

S=$(pick_loopback); F=$(pick_loopback); C=$(pick_loopback)
while [ "$F" = "$S" ]; do F=$(pick_loopback); done
while [ "$C" = "$S" ] || [ "$C" = "$F" ]; do C=$(pick_loopback); done
P=$((20000 + RANDOM % 20000))
agent_json() { # NAME IP SERVER
  cat <<JSON
{
  "datacenter": "dc1", "data_dir": "$TMP/$1", "log_level": "INFO", "node_name": "$1",
  "server": $3, "bootstrap": $3, "retry_join": ["$S", "$F"], "retry_interval": "1s",
  "bind_addr": "$2", "client_addr": "$2", "advertise_addr": "$2",
  "ports": {"http": $P, "server": $((P + 1)), "serf_lan": $((P + 2)), "serf_wan": $((P + 3)), "dns": -1}
}
JSON
}
agent_json srv "$S" true >"$TMP/srv.json"
agent_json cli "$C" false >"$TMP/cli.json"
"$BIN" agent -config-file="$TMP/srv.json" >"$TMP/srv.out" 2>&1 &
PIDS+=($!)
# the impostor: alive in gossip, tagged as a dc1 server, nothing on its server port
serf agent -node=impostor -bind="$F:$((P + 2))" -rpc-addr="$F:$((P + 4))" -log-level=warn \
  -tag role=consul -tag dc=dc1 -tag port=$((P + 1)) -tag vsn=2 -tag build=1.7.4 \
  -tag id=00000000-0000-0000-0000-00000000f00d -retry-join="$S:$((P + 2))" -retry-interval=1s \
  >"$TMP/serf.out" 2>&1 &
PIDS+=($!)
"$BIN" agent -config-file="$TMP/cli.json" >"$TMP/cli.out" 2>&1 &
PIDS+=($!)

has_leader() { local l; l=$(curl -s --max-time 1 "http://$S:$P/v1/status/leader"); [ -n "$l" ] && [ "$l" != '""' ]; }
wait_for 20 has_leader || { fail "no leader on the server"; cat "$TMP/srv.out" >&2; finish; }
three_alive() {
  [ "$(curl -s --max-time 1 "http://$C:$P/v1/agent/members" | python3 -c 'import json,sys; print(sum(m["Status"] == 1 for m in json.load(sys.stdin)))')" = 3 ]
}
wait_for 20 three_alive && ok "the client sees the server and the impostor alive" \
  || { fail "members on the client: $(curl -s "http://$C:$P/v1/agent/members")"; finish; }

n=0
for i in 1 2 3 4 5 6; do
  [ "$(curl -s --max-time 15 -X PUT -d "v$i" "http://$C:$P/v1/kv/fw/$i")" = true ] && n=$((n + 1))
done
[ "$n" = 6 ] && ok "6 of 6 writes through the client succeed" || fail "$n of 6 writes through the client succeeded"
[ "$(curl -s "http://$S:$P/v1/kv/fw/6?raw")" = v6 ] && ok "they are on the server" || fail "the writes are not on the server"
assert_contains "$TMP/cli.out" "[ERROR] agent.client: RPC failed to server: method=KVS.Forward server=$F:$((P + 1))" \
  "the client logged the refused server and moved on"
finish
