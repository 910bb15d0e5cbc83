#!/usr/bin/env bash
# `conclave agent` on a loopback address: banner, HTTP API, node ID persistence,
# a port already in use, refusal to start on a bad config, clean SIGTERM.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl is not installed (ci/deps.sh installs it)"; exit 77; }

IP=$(pick_loopback)
PORT=$((20000 + RANDOM % 20000))
URL="http://$IP:$PORT"
cat >"$TMP/agent.json" <<JSON
{
  "datacenter": "dc1", "data_dir": "$TMP/data", "log_level": "INFO", "server": true,
  "node_name": "cli_node", "bind_addr": "$IP", "client_addr": "$IP", "advertise_addr": "$IP",
  "bootstrap_expect": 3, "retry_join": ["$IP"], "retry_interval": "5s",
  "log_file": "$TMP/agent.log", "ports": {"http": $PORT}
}
JSON

"$BIN" agent -config-file="$TMP/agent.json" >"$TMP/out1" 2>"$TMP/err1" &
A=$!; PIDS+=($A)
wait_for 20 curl -sf --max-time 1 "$URL/v1/agent/self" || { fail "agent did not answer on $URL"; cat "$TMP/out1" "$TMP/err1" >&2; finish; }
ok "agent answers on $URL"

curl -sf --max-time 2 "$URL/v1/agent/self" >"$TMP/self.json"
assert_contains "$TMP/self.json" '"NodeName":"cli_node"' "agent/self names the configured node"
assert_contains "$TMP/self.json" '"Datacenter":"dc1"' "agent/self has the datacenter"
assert_contains "$TMP/self.json" '"expect":"3"' "member tags carry bootstrap_expect"
assert_contains "$TMP/self.json" '"role":"consul"' "member tags mark a server"
NODE_ID=$(cat "$TMP/data/node-id")
assert_contains "$TMP/self.json" "\"NodeID\":\"$NODE_ID\"" "agent/self NodeID is data_dir/node-id"
[ "$(curl -s --max-time 2 "$URL/v1/status/leader")" = '""' ] && ok "no leader yet: \"\"" || fail "status/leader should be \"\""
code=$(curl -s -o "$TMP/405" -w '%{http_code}' --max-time 2 -X PUT "$URL/v1/agent/self")
[ "$code" = 405 ] && ok "PUT agent/self is 405" || fail "PUT agent/self gave $code"
assert_contains "$TMP/405" "method PUT not allowed" "405 body"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/v1/nope")
[ "$code" = 404 ] && ok "unknown path is 404" || fail "unknown path gave $code"
pretty=$(curl -s --max-time 2 "$URL/v1/agent/self?pretty" | head -3 | tail -1)
[ "$pretty" = '        "Datacenter": "dc1",' ] && ok "?pretty indents like Consul" || fail "?pretty gave '$pretty'"

assert_contains "$TMP/out1" "==> Starting Conclave agent..." "banner"
assert_contains "$TMP/out1" "         Node name: 'cli_node'" "banner node name"
assert_contains "$TMP/out1" "       Client Addr: [$IP] (HTTP: $PORT, HTTPS: -1, gRPC: -1, DNS: 8600)" "banner client addr"
assert_contains "$TMP/out1" "[INFO]  agent: Started HTTP server: address=$IP:$PORT network=tcp" "HTTP start log line"
assert_contains "$TMP/out1" "[WARN]  agent: Node name will not be discoverable via DNS due to invalid characters." "node-name warning"
assert_contains "$TMP/err1" "bootstrap_expect > 0: expecting 3 servers" "config warning before banner"
assert_contains "$TMP/agent.log" "agent: Started HTTP server" "log_file gets the log"

# A second agent on the same HTTP address fails clearly and exits 1.
sed -e "s#$TMP/data#$TMP/data2#" -e "s#\"ports\": {\"http\": $PORT}#\"ports\": {\"http\": $PORT, \"server\": 18300, \"serf_lan\": 18301, \"serf_wan\": 18302, \"dns\": 18600}#" \
  "$TMP/agent.json" >"$TMP/agent2.json"
grep -q '"serf_lan": 18301' "$TMP/agent2.json" || fail "test setup: second config keeps the gossip ports"
"$BIN" agent -config-file="$TMP/agent2.json" >"$TMP/out2" 2>"$TMP/err2" &
B=$!; PIDS+=($B)
wait_exit $B 15; rc=$RC
[ "$rc" = 1 ] && ok "port in use: exit 1" || fail "port in use: exit $rc"
assert_contains "$TMP/err2" "==> Error starting agent: listen tcp $IP:$PORT: bind: address already in use" "port-in-use message"

# SIGTERM: clean shutdown, exit 0, Consul's shutdown lines.
kill -TERM $A
wait_exit $A 15; rc=$RC
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || fail "SIGTERM: exit $rc"
assert_contains "$TMP/out1" "[INFO]  agent: Caught: signal=terminated" "signal logged"
assert_contains "$TMP/out1" "[INFO]  agent: Graceful shutdown disabled. Exiting" "server does not leave on SIGTERM"
assert_contains "$TMP/out1" "[INFO]  agent: Stopping server: protocol=HTTP address=$IP:$PORT network=tcp" "HTTP stop logged"
curl -s --max-time 1 "$URL/v1/agent/self" >/dev/null && fail "port still answers after exit" || ok "port closed after exit"

# Restart with the same data_dir: same node ID. SIGINT also exits 0.
"$BIN" agent -config-file="$TMP/agent.json" -log-level=warn >"$TMP/out3" 2>&1 &
C=$!; PIDS+=($C)
wait_for 20 curl -sf --max-time 1 "$URL/v1/agent/self" || fail "restart did not answer"
assert_contains "$TMP/out3" "Node ID: '$NODE_ID'" "node ID survives a restart"
grep -q "Started HTTP server" "$TMP/out3" && fail "-log-level=warn still logs INFO" || ok "-log-level flag filters INFO"
kill -INT $C
wait_exit $C 15; rc=$RC
[ "$rc" = 0 ] && ok "SIGINT: exit 0" || fail "SIGINT: exit $rc"

# A bad config never starts anything.
"$BIN" agent -config-file="$TMP/agent.json" -bootstrap >"$TMP/out4" 2>&1 &
D=$!; PIDS+=($D)
wait_exit $D 15; rc=$RC
[ "$rc" = 1 ] && ok "bad config: exit 1" || fail "bad config: exit $rc"
assert_contains "$TMP/out4" "==> 'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive" "bad config message"
grep -q "Starting Conclave agent" "$TMP/out4" && fail "bad config printed the banner" || ok "no partial start"
finish
