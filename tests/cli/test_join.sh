#!/usr/bin/env bash
# retry_join with host names, as Consul (memberlist) takes them: a name is
# resolved without blocking the agent and every IPv4 address it has is tried;
# a name that does not resolve is reported and the other addresses still join.
# And Consul's LAN merge vetoes: an agent of another datacenter, or one that
# carries this agent's node ID, is refused and the join fails.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl is not installed (ci/deps.sh installs it)"; exit 77; }
getent ahostsv4 localhost | grep -q '^127\.0\.0\.1 ' || { echo "localhost does not resolve to 127.0.0.1 here"; exit 77; }

P=$((20000 + RANDOM % 20000))
write_config() { # FILE NAME IP EXTRA-JSON
  cat >"$1" <<JSON
{
  "datacenter": "dc1", "data_dir": "$TMP/data-$2", "node_name": "$2",
  "bind_addr": "$3", "client_addr": "$3", "advertise_addr": "$3",
  "ports": {"http": $P, "server": $((P + 1)), "serf_lan": $((P + 2)), "serf_wan": $((P + 3)), "dns": -1},
  $4
}
JSON
}
# the server on 127.0.0.1: the address "localhost" stands for
write_config "$TMP/s.json" named-srv 127.0.0.1 '"server": true, "bootstrap": true'
"$BIN" agent -config-file="$TMP/s.json" >"$TMP/s.out" 2>&1 &
PIDS+=($!)
CIP=$(pick_loopback)
write_config "$TMP/c.json" named-cli "$CIP" "\"retry_join\": [\"no-such-host.invalid\", \"localhost:$((P + 2))\"], \"retry_interval\": \"1s\""
"$BIN" agent -config-file="$TMP/c.json" >"$TMP/c.out" 2>&1 &
PIDS+=($!)
members() { curl -s --max-time 1 "http://$CIP:$P/v1/agent/members" | python3 -c 'import json,sys; sys.exit(0 if sorted(m["Name"] for m in json.load(sys.stdin) if m["Status"] == 1) == ["named-cli", "named-srv"] else 1)'; }
wait_for 15 members && ok "retry_join by host name (localhost:PORT): both agents see each other" \
  || { fail "no join through a host name"; tail -20 "$TMP/c.out" >&2; }
assert_contains "$TMP/c.out" "(LAN) joining: lan_addresses=[no-such-host.invalid, localhost:$((P + 2))]" "the join line names the addresses as given"
assert_contains "$TMP/c.out" "(LAN) joined: number_of_nodes=1" "one address answered"
assert_contains "$TMP/c.out" "memberlist: Failed to resolve no-such-host.invalid: lookup no-such-host.invalid: no such host" "the unresolvable name is reported in memberlist's words"

# merge vetoes: another datacenter, then a clash of node IDs
OIP=$(pick_loopback)
write_config "$TMP/o.json" other-dc "$OIP" "\"datacenter\": \"dc2\", \"start_join\": [\"$CIP:$((P + 2))\"]"
"$BIN" agent -config-file="$TMP/o.json" >"$TMP/o.out" 2>&1 &
O=$!; PIDS+=($O)
wait_exit "$O" 20
[ "$RC" = 1 ] && grep -q "Member 'named-cli' part of wrong datacenter 'dc1'" "$TMP/o.out" \
  && ok "an agent of dc2 cannot join dc1's LAN pool: Consul's merge veto, start_join fails" || { fail "dc veto: exit $RC"; tail -5 "$TMP/o.out" >&2; }
ID=$(cat "$TMP/data-named-cli/node-id")
DIP=$(pick_loopback)
write_config "$TMP/d.json" twin "$DIP" "\"node_id\": \"$ID\", \"start_join\": [\"$CIP:$((P + 2))\"]"
"$BIN" agent -config-file="$TMP/d.json" >"$TMP/d.out" 2>&1 &
D=$!; PIDS+=($D)
wait_exit "$D" 20
[ "$RC" = 1 ] && grep -q "has conflicting node ID '$ID' with this agent's ID" "$TMP/d.out" \
  && ok "an agent reusing another's node ID is refused" || { fail "id veto: exit $RC"; tail -5 "$TMP/d.out" >&2; }
curl -s "http://$CIP:$P/v1/agent/members" | grep -q '"other-dc"\|"twin"' && fail "a vetoed agent is listed" || ok "neither vetoed agent is in the pool"
finish
