#!/usr/bin/env bash
# `conclave catalog nodes|services` and the catalog/health HTTP API against one
# real single-server agent (bootstrap mode) on a loopback address: the leader
# registers itself, registrations and their JSON, Consul's CLI output.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl is not installed (ci/deps.sh installs it)"; exit 77; }

IP=$(pick_loopback)
P=$((20000 + RANDOM % 20000))
URL="http://$IP:$P"
cat >"$TMP/agent.json" <<JSON
{
  "datacenter": "dc1", "data_dir": "$TMP/data", "log_level": "INFO", "node_name": "cat1",
  "server": true, "bootstrap": true,
  "bind_addr": "$IP", "client_addr": "$IP", "advertise_addr": "$IP",
  "ports": {"http": $P, "server": $((P + 1)), "serf_lan": $((P + 2)), "serf_wan": $((P + 3)), "dns": -1}
}
JSON
"$BIN" agent -config-file="$TMP/agent.json" >"$TMP/agent.out" 2>&1 &
A=$!; PIDS+=($A)
registered() { curl -s --max-time 1 "$URL/v1/catalog/nodes" | grep -q '"Node":"cat1"'; }
wait_for 20 registered || { fail "the leader did not register itself on $URL"; cat "$TMP/agent.out" >&2; finish; }
ok "the leader registered itself in the catalog"
assert_contains "$TMP/agent.out" "agent.server: member joined, marking health alive: member=cat1" "Consul's 'member joined' line"

unset CONSUL_HTTP_ADDR
export CONCLAVE_HTTP_ADDR="$IP:$P"
run() { "$BIN" "$@" >"$TMP/o" 2>"$TMP/e"; RCODE=$?; }
expect() { # CODE STDOUT STDERR WHAT
  local bad=""
  [ "$RCODE" = "$1" ] || bad="exit $RCODE, want $1"
  [ "$(cat "$TMP/o")" = "$2" ] || bad="$bad; stdout '$(cat "$TMP/o")', want '$2'"
  [ "$(cat "$TMP/e")" = "$3" ] || bad="$bad; stderr '$(cat "$TMP/e")', want '$3'"
  if [ -z "$bad" ]; then ok "$4"; else fail "$4: ${bad#; }"; fi
}
put() { curl -s -X PUT --data-binary "$2" "$URL$1"; }

[ "$(put /v1/catalog/register '{"Node":"web-host","Address":"10.1.2.3","ID":"0a1b2c3d-aaaa-bbbb-cccc-000000000001","NodeMeta":{"rack":"r1","env":"prod"},"Service":{"Service":"web","Tags":["v2","blue"],"Port":8080},"Checks":[{"Name":"web up","ServiceID":"web","Status":"passing"},{"CheckID":"mem","Name":"Memory","Status":"warning","Output":"80%"}]}')" = true ] \
  && ok "PUT /v1/catalog/register" || fail "register"
[ "$(put /v1/catalog/register '{"Node":"db-host","Address":"10.1.2.4","Service":{"ID":"db1","Service":"db"}}')" = true ] || fail "register db"

ID=$(curl -s "$URL/v1/catalog/node/cat1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Node"]["ID"])')
run catalog nodes
W=${#IP}   # the widest address (127.x.y.z is longer than 10.1.2.x)
expect 0 "$(printf "Node      ID        %-${W}s  DC\ncat1      %s  %-${W}s  dc1\ndb-host             %-${W}s  dc1\nweb-host  0a1b2c3d  %-${W}s  dc1" Address "${ID%%-*}" "$IP" 10.1.2.4 10.1.2.3)" "" "catalog nodes: Consul's columns, IDs cut at the first dash"
run catalog nodes -detailed
grep -q "^web-host  0a1b2c3d-aaaa-bbbb-cccc-000000000001 .* env=prod, rack=r1$" "$TMP/o" && head -1 "$TMP/o" | grep -q '^Node .*ID .*Address .*DC .*TaggedAddresses .*Meta$' \
  && ok "catalog nodes -detailed: full IDs, TaggedAddresses and Meta as k=v, k=v" || { fail "catalog nodes -detailed"; cat "$TMP/o" >&2; }
run catalog services
expect 0 "$(printf 'consul\ndb\nweb')" "" "catalog services"
run catalog services -tags
expect 0 "$(printf 'consul      \ndb          \nweb         blue,v2')" "" "catalog services -tags: a tabwriter with padding 6, tags sorted"
run catalog
[ "$RCODE" = 1 ] && grep -q '^Usage: conclave catalog <subcommand>' "$TMP/e" && ok "catalog without a subcommand: usage, exit 1" || fail "catalog usage"
run catalog nodes -http-addr=127.0.0.1:1
[ "$RCODE" = 1 ] && grep -q '^Error listing nodes: Get "\?http://127.0.0.1:1/v1/catalog/nodes' "$TMP/e" && ok "unreachable agent: Error listing nodes" || { fail "error text"; cat "$TMP/e" >&2; }

# JSON details
curl -s "$URL/v1/health/checks/web" | python3 -c 'import json,sys
c = json.load(sys.stdin)
assert [x["CheckID"] for x in c] == ["web up"], c
assert c[0]["ServiceName"] == "web" and c[0]["ServiceTags"] == ["v2", "blue"] and c[0]["Definition"] == {}
' && ok "a check without CheckID takes its Name; ServiceName/ServiceTags come from the service" || fail "check defaults"
curl -s "$URL/v1/health/state/warning" | python3 -c 'import json,sys
c = json.load(sys.stdin); assert [(x["Node"], x["CheckID"], x["Output"]) for x in c] == [("web-host", "mem", "80%")], c' \
  && ok "/v1/health/state/warning" || fail "health state"
[ "$(curl -s "$URL/v1/health/service/web?passing")" = "[]" ] && ok "?passing: a warning node check excludes the instance; the answer is [] not null" || fail "passing filter"
[ "$(curl -s "$URL/v1/catalog/service/nope")" = "[]" ] && ok "unknown service: []" || fail "unknown service"
[ "$(curl -s "$URL/v1/catalog/node/nope")" = "null" ] && ok "unknown node: null (as Consul)" || fail "unknown node"
code=$(curl -s -o "$TMP/b" -w '%{http_code}' "$URL/v1/health/state/")
[ "$code" = 400 ] && [ "$(cat "$TMP/b")" = "Missing check state" ] && ok "missing state: 400 Missing check state" || fail "missing state gave $code"
code=$(curl -s -o "$TMP/b" -w '%{http_code}' "$URL/v1/catalog/nodes?stale&consistent")
[ "$code" = 400 ] && ok "?stale with ?consistent: 400" || fail "stale+consistent gave $code"
code=$(curl -s -o "$TMP/b" -w '%{http_code}' -X PUT --data-binary '{"Node":"a","Address":"b","Checks":[{"Name":"x","Status":"bogus"}]}' "$URL/v1/catalog/register")
[ "$code" = 400 ] && grep -q 'Invalid check status' "$TMP/b" && ok "bad check status: 400" || fail "bad status gave $code"
code=$(curl -s -o "$TMP/b" -w '%{http_code}' -X GET "$URL/v1/catalog/register")
[ "$code" = 405 ] && ok "GET /v1/catalog/register: 405" || fail "method gave $code"
nodes_of() { curl -s "$URL$1" | python3 -c 'import json,sys; print(" ".join(sorted(x["Node"] for x in json.load(sys.stdin))))'; }
[ "$(nodes_of '/v1/catalog/nodes?node-meta=rack:r1')" = "web-host" ] && [ "$(nodes_of '/v1/catalog/nodes?node-meta=rack:r2')" = "" ] \
  && [ "$(curl -s "$URL/v1/catalog/services?node-meta=env:prod")" = '{"web":["blue","v2"]}' ] \
  && ok "?node-meta=KEY:VALUE filters nodes and services" || fail "node-meta filter"
code=$(curl -s -o "$TMP/b" -w '%{http_code}' "$URL/v1/catalog/nodes?node-meta=rack")
[ "$code" = 400 ] && grep -q 'Invalid node-meta' "$TMP/b" && ok "?node-meta without a colon: 400" || fail "bad node-meta gave $code"
code=$(curl -s -o "$TMP/b" -w '%{http_code}' "$URL/v1/catalog/nodes?dc=dc2")
[ "$code" = 500 ] && [ "$(cat "$TMP/b")" = "No path to datacenter" ] && [ "$(nodes_of '/v1/catalog/nodes?dc=dc1' | wc -w)" = 3 ] \
  && ok "?dc: our own datacenter answers, another one is 'No path to datacenter'" || fail "dc gave $code"
[ "$(put /v1/catalog/deregister '{"Node":"web-host"}')" = true ] && [ "$(curl -s "$URL/v1/health/node/web-host")" = "[]" ] \
  && ok "deregistering a node removes its checks" || fail "node deregister"

# the catalog survives a restart (snapshot or log replay)
kill -TERM "$A"; wait_exit "$A" 15
"$BIN" agent -config-file="$TMP/agent.json" >"$TMP/agent2.out" 2>&1 &
A=$!; PIDS+=($A)
has_db() { curl -s --max-time 1 "$URL/v1/catalog/service/db" | grep -q '"ServiceID":"db1"'; }
wait_for 20 has_db && ok "the catalog is back after a restart" || fail "catalog lost on restart"
finish
