#!/usr/bin/env bash
# The catalog and health APIs on five servers and two client agents in real
# namespaces: the leader registers every LAN member (serfHealth, and the
# consul service on servers), marks a SIGKILLed client critical; a service
# registered through one client is read back through other agents, filtered
# with ?passing, wakes a blocking query when its health changes, and is
# deregistered; bad bodies are refused with 400; `conclave catalog` prints
# the nodes and services.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

api() { # node method path [body]: prints the body
  local n=$1 m=$2 p=$3 d=${4-}
  "$HARNESS" -t "$T" exec "$n" -- sh -c 'curl -s --max-time 12 -X "$1" ${3:+--data-binary "$3"} "$CONCLAVE_HTTP_ADDR$2"' _ "$m" "$p" "$d"
}
code() { # node method path body: prints the HTTP status
  "$HARNESS" -t "$T" exec "$1" -- sh -c 'curl -s -o /dev/null -w "%{http_code}" --max-time 12 -X "$1" --data-binary "$3" "$CONCLAVE_HTTP_ADDR$2"' _ "$2" "$3" "$4"
}
# py NODE PATH EXPR: evaluates a Python expression over the JSON answer `j`
py() {
  api "$1" GET "$2" | python3 -c 'import json,sys
j = json.load(sys.stdin)
sys.exit(0 if eval(sys.argv[1]) else 1)' "$3" 2>/dev/null
}

T=$TOPO
sed -e "s/^name: dc1-5/name: $T/" "$ROOT/topologies/dc1-5.yaml" >"$TMP/dc1-5.yaml"
"$HARNESS" up "$TMP/dc1-5.yaml" >"$TMP/up.out" 2>&1 || { fail "up of dc1-5"; cat "$TMP/up.out" >&2; finish; }
check_root_ns "after up"

WANT='{"node1":"51.6.196.201","node2":"51.6.196.211","node3":"51.6.196.221","node4":"51.6.196.231","node5":"51.6.196.241","client1":"51.6.196.101","client2":"51.6.196.102"}'
all_nodes() { py node3 /v1/catalog/nodes "{n['Node']: n['Address'] for n in j} == $WANT and all(n['TaggedAddresses']['lan'] == n['Address'] and n['Datacenter'] == 'dc1' and n['ID'] for n in j)"; }
wait_for 20 all_nodes && ok "/v1/catalog/nodes lists all 7 members with their addresses" || { fail "catalog nodes"; api node3 GET /v1/catalog/nodes >&2; }
py client2 /v1/catalog/nodes "len(j) == 7" && ok "the same through a client agent" || fail "catalog nodes through a client"
serf_ok() { py node2 /v1/health/node/client1 "[(c['CheckID'], c['Name'], c['Status'], c['Output'], c['ServiceTags']) for c in j] == [('serfHealth', 'Serf Health Status', 'passing', 'Agent alive and reachable', [])]"; }
wait_for 10 serf_ok && ok "/v1/health/node/client1: serfHealth passing" || { fail "serfHealth"; api node2 GET /v1/health/node/client1 >&2; }
py node5 /v1/catalog/service/consul "sorted(s['Address'] for s in j) == ['51.6.196.201','51.6.196.211','51.6.196.221','51.6.196.231','51.6.196.241'] and all(s['ServicePort'] == 8300 and s['ServiceMeta']['raft_version'] == '3' for s in j)" \
  && ok "/v1/catalog/service/consul lists the 5 servers on port 8300" || { fail "consul service"; api node5 GET /v1/catalog/service/consul >&2; }
py client1 /v1/catalog/services "j == {'consul': []}" && ok "/v1/catalog/services: {\"consul\": []}" || fail "catalog services"
for n in node1 node2 node3 node4 node5; do "$HARNESS" -t "$T" logs "$n"; done >"$TMP/servers.log"
assert_contains "$TMP/servers.log" "agent.server: member joined, marking health alive: member=client2" "the leader logs Consul's 'member joined' line"
[ "$(grep -c 'member joined, marking health alive: member=client2$' "$TMP/servers.log")" = 1 ] \
  && ok "and only once: an unchanged member is not registered again" || fail "client2 registered $(grep -c 'member joined, marking health alive: member=client2$' "$TMP/servers.log") times"

# ---- register through a client, read through others ----
REG1='{"Node":"ext-web1","Address":"10.9.0.1","Service":{"Service":"web","Tags":["v1"],"Port":80},"Check":{"CheckID":"web-ok","Name":"web alive","Status":"passing","ServiceID":"web"}}'
REG2='{"Node":"ext-web2","Address":"10.9.0.2","Service":{"Service":"web","Tags":["v2"],"Port":80},"Check":{"CheckID":"web-ok","Name":"web alive","Status":"critical","ServiceID":"web"}}'
[ "$(api client1 PUT /v1/catalog/register "$REG1")" = true ] && [ "$(api client1 PUT /v1/catalog/register "$REG2")" = true ] \
  && ok "PUT /v1/catalog/register through a client agent" || fail "register through client1"
py client2 /v1/catalog/service/web "sorted(s['Node'] for s in j) == ['ext-web1','ext-web2']" && ok "read back through the other client" || fail "catalog/service/web via client2"
py node4 '/v1/catalog/service/web?tag=v2' "[s['Node'] for s in j] == ['ext-web2']" && ok "?tag= filters" || fail "tag filter"
py node1 '/v1/health/service/web?passing' "[e['Node']['Node'] for e in j] == ['ext-web1'] and j[0]['Checks'][0]['ServiceName'] == 'web'" \
  && ok "/v1/health/service/web?passing drops the critical instance" || fail "?passing"
IDX=$("$HARNESS" -t "$T" exec client2 -- sh -c 'curl -s -D - -o /dev/null "$CONCLAVE_HTTP_ADDR/v1/health/service/web?passing"' | tr -d '\r' | awk 'tolower($1)=="x-consul-index:" {print $2}')
t0=$(date +%s%N)
api client2 GET "/v1/health/service/web?passing&index=$IDX&wait=20s" >"$TMP/blocked" &
BQ=$!
sleep 1
api node3 PUT /v1/catalog/register "${REG2/critical/passing}" >/dev/null
wait $BQ
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
python3 -c 'import json,sys; sys.exit(0 if len(json.load(open(sys.argv[1]))) == 2 else 1)' "$TMP/blocked" && [ $ms -lt 10000 ] \
  && ok "a blocking query on /v1/health/service/web wakes on the check change (${ms} ms)" || { fail "blocking query (${ms} ms)"; cat "$TMP/blocked" >&2; }
[ "$(api client1 PUT /v1/catalog/deregister '{"Node":"ext-web1","ServiceID":"web"}')" = true ] \
  && py node2 /v1/catalog/service/web "[s['Node'] for s in j] == ['ext-web2']" && py node2 /v1/health/checks/web "[c['Node'] for c in j] == ['ext-web2']" \
  && ok "deregister of a service takes its check along" || fail "deregister"
# bad input
c1=$(code client1 PUT /v1/catalog/register '{')
c2=$(code client1 PUT /v1/catalog/register '{"Node":5,"Address":"x"}')
c3=$(code node1 PUT /v1/catalog/register '{"Node":"x"}')
c4=$(code node1 PUT /v1/catalog/deregister '{}')
c5=$(code client2 GET '/v1/health/service/web?passing=maybe' '')
[ "$c1$c2$c3$c4$c5" = 400400400400400 ] && ok "bad bodies and parameters give 400" || fail "bad input gave $c1 $c2 $c3 $c4 $c5"
[ "$(api node1 PUT /v1/catalog/register '{"Node":"x"}')" = "Must provide node and address" ] && ok "with Consul's reason" || fail "400 text"

# ---- CLI ----
"$HARNESS" -t "$T" exec node1 -- conclave catalog nodes >"$TMP/nodes.txt" 2>&1
# 7 members and the two registered nodes (deregistering a service leaves its node)
[ "$(head -1 "$TMP/nodes.txt" | tr -s ' ')" = "Node ID Address DC" ] && [ "$(wc -l <"$TMP/nodes.txt")" = 10 ] \
  && grep -q '^client1 .* 51.6.196.101 *dc1$' "$TMP/nodes.txt" && ok "conclave catalog nodes" || { fail "catalog nodes CLI"; cat "$TMP/nodes.txt" >&2; }
"$HARNESS" -t "$T" exec client1 -- conclave catalog services -tags >"$TMP/svc.txt" 2>&1
[ "$(tr -s ' ' <"$TMP/svc.txt")" = "$(printf 'consul \nweb v2')" ] && ok "conclave catalog services -tags" || { fail "catalog services CLI"; cat -A "$TMP/svc.txt" >&2; }

# ---- a client dies: its serfHealth goes critical ----
"$HARNESS" -t "$T" kill client1 >/dev/null
crit() { py node4 /v1/health/node/client1 "j[0]['Status'] == 'critical' and j[0]['Output'] == 'Agent not live or unreachable'"; }
wait_for 30 crit && ok "SIGKILLed client1: serfHealth critical in the catalog" || { fail "client1 not critical"; api node4 GET /v1/health/node/client1 >&2; }
py node4 '/v1/health/state/critical' "'client1' in [c['Node'] for c in j]" && ok "/v1/health/state/critical lists it" || fail "health/state"
for n in node1 node2 node3 node4 node5; do "$HARNESS" -t "$T" logs "$n"; done >"$TMP/servers.log"
assert_contains "$TMP/servers.log" "agent.server: member failed, marking health critical: member=client1" "the leader logs Consul's 'member failed' line"

# ---- a client leaves: it is deregistered ----
"$HARNESS" -t "$T" exec client2 -- conclave leave >/dev/null 2>&1
gone() { py node1 /v1/catalog/nodes "'client2' not in [n['Node'] for n in j] and 'node1' in [n['Node'] for n in j]"; }
wait_for 15 gone && ok "client2 left gracefully: deregistered from the catalog" || { fail "client2 still in the catalog"; api node1 GET /v1/catalog/nodes >&2; }
for n in node1 node2 node3 node4 node5; do "$HARNESS" -t "$T" logs "$n"; done >"$TMP/servers.log"
assert_contains "$TMP/servers.log" "agent.server: deregistering member: member=client2 reason=left" "the leader logs Consul's 'deregistering member' line"

"$HARNESS" down "$T" >/dev/null 2>&1 || fail "down"
check_root_ns "after catalog tests"
finish
