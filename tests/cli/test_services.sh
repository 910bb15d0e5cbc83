#!/usr/bin/env bash
# The agent's own services and checks against real agents on loopback
# addresses: a config-file service with a script check synced by
# anti-entropy (the seed's "Synced node info" / "Synced service" lines), the
# agent API (register, deregister, TTL pass/warn/fail and expiry, TCP and HTTP
# checks, maintenance, Consul's error texts), registrations kept across a
# restart, reloads (PUT /v1/agent/reload, SIGHUP), the refusal of script
# checks when they are disabled, and a client
# agent whose services reach the servers' catalog.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl is not installed (ci/deps.sh installs it)"; exit 77; }

IP=$(pick_loopback)
P=$((20000 + RANDOM % 20000))
URL="http://$IP:$P"
write_config() { # FILE NAME EXTRA-JSON
  cat >"$1" <<JSON
{
  "datacenter": "dc1", "data_dir": "$TMP/data-$2", "log_level": "DEBUG", "node_name": "$2",
  "bind_addr": "$4", "client_addr": "$4", "advertise_addr": "$4",
  "ports": {"http": $P, "server": $((P + 1)), "serf_lan": $((P + 2)), "serf_wan": $((P + 3)), "dns": -1},
  $3
}
JSON
}
write_config "$TMP/s.json" svc1 '"server": true, "bootstrap": true, "enable_script_checks": true,
  "service": {"name": "nginx201", "port": 80, "tags": ["v1"],
    "check": {"args": ["/bin/sh", "-c", "echo up; exit 0"], "interval": "1s"}}' "$IP"
start_server() {
  "$BIN" agent -config-file="$TMP/s.json" >>"$TMP/s.out" 2>&1 &
  S=$!; PIDS+=($S)
}
start_server
get() { curl -s --max-time 5 "$URL$1"; }
put() { curl -s --max-time 5 -o "$TMP/body" -w '%{http_code}' -X PUT --data-binary "${2-}" "$URL$1"; }
# py PATH EXPR: the JSON at PATH makes EXPR (with j bound to it) true
py() { get "$1" | python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($2) else 1)" 2>/dev/null; }

passing_in_catalog() { py /v1/health/service/nginx201 "len(j) == 1 and all(c['Status'] == 'passing' for c in j[0]['Checks']) and len(j[0]['Checks']) == 2 and j[0]['Service']['Tags'] == ['v1']"; }
wait_for 20 passing_in_catalog && ok "config service with a script check: passing in the catalog, with serfHealth" \
  || { fail "nginx201 not passing in the catalog: $(get /v1/health/service/nginx201)"; }
assert_contains "$TMP/s.out" "agent: started state syncer" "Consul's state syncer line"
assert_contains "$TMP/s.out" "agent: Synced node info" "Consul's 'Synced node info'"
assert_contains "$TMP/s.out" "agent: Synced service: service=nginx201" "Consul's 'Synced service: service=nginx201'"
py /v1/agent/checks "j['service:nginx201']['Output'] == 'up\n' and j['service:nginx201']['Type'] == 'script' and j['service:nginx201']['Name'] == \"Service 'nginx201' check\"" \
  && ok "/v1/agent/checks: the script's output, Consul's check ID and name" || fail "agent checks: $(get /v1/agent/checks)"
py /v1/catalog/node/svc1 "j['Node']['TaggedAddresses']['lan'] == '$IP' and j['Node']['Meta'] == {'consul-network-segment': ''}" \
  && ok "node info synced: tagged addresses and meta" || fail "node info: $(get /v1/catalog/node/svc1)"

# ---- the agent API ----
code=$(put /v1/agent/service/register '{"ID":"web1","Name":"web","Tags":["a"],"Port":8080,"Meta":{"k":"v"},"Check":{"TTL":"3s"}}')
[ "$code" = 200 ] && ok "register a service with a TTL check: 200" || fail "register web1: $code $(cat "$TMP/body")"
py /v1/agent/services "j['web1'] == {'ID':'web1','Service':'web','Tags':['a'],'Address':'','Meta':{'k':'v'},'Port':8080,'Weights':{'Passing':1,'Warning':1},'EnableTagOverride':False}" \
  && ok "/v1/agent/services: Consul's AgentService shape" || fail "agent services: $(get /v1/agent/services)"
py /v1/agent/service/web1 "j['Service'] == 'web'" && ok "/v1/agent/service/ID" || fail "agent service web1"
web_status() { py /v1/health/checks/web "len(j) == 1 and j[0]['CheckID'] == 'service:web1' and j[0]['Status'] == '$1'"; }
wait_for 10 web_status critical && ok "a TTL check starts critical (in the catalog)" || fail "web1 check not critical: $(get /v1/health/checks/web)"
code=$(put "/v1/agent/check/pass/service:web1?note=all+good")
wait_for 5 web_status passing && py /v1/agent/checks "j['service:web1']['Output'] == 'all good'" \
  && ok "check/pass with a note: passing, synced" || fail "pass: $code $(get /v1/health/checks/web)"
put "/v1/agent/check/warn/service:web1" >/dev/null
wait_for 5 web_status warning && ok "check/warn: warning" || fail "warn"
put "/v1/agent/check/update/service:web1" '{"Status":"passing","Output":"fine"}' >/dev/null
wait_for 5 web_status passing && ok "check/update with a body" || fail "update"
wait_for 8 web_status critical && py /v1/agent/checks "j['service:web1']['Output'] == 'TTL expired'" \
  && ok "a TTL not refreshed expires: critical, 'TTL expired'" || fail "ttl expiry: $(get /v1/agent/checks)"
assert_contains "$TMP/s.out" "agent: Check missed TTL, is now critical: check=service:web1" "Consul's TTL line"

code=$(put /v1/agent/check/pass/nope)
[ "$code" = 500 ] && grep -qx 'CheckID "nope" does not have associated TTL' "$TMP/body" && ok "pass on an unknown check: 500, Consul's text" || fail "unknown TTL: $code $(cat "$TMP/body")"
code=$(put /v1/agent/service/register '{"Name":')
[ "$code" = 400 ] && grep -q '^Request decode failed' "$TMP/body" && ok "malformed JSON: 400 Request decode failed" || fail "bad json: $code"
code=$(put /v1/agent/service/register '{"Port":80}')
[ "$code" = 400 ] && grep -qx 'Missing service name' "$TMP/body" && ok "no name: 400 Missing service name" || fail "no name: $code $(cat "$TMP/body")"
code=$(put /v1/agent/service/register '{"Name":"x","Port":"80"}')
[ "$code" = 400 ] && grep -q 'port' "$TMP/body" && ok "a port of the wrong type: 400 naming it" || fail "bad port: $code $(cat "$TMP/body")"
code=$(put /v1/agent/service/register '{"Name":"x","Check":{"Args":["true"]}}')
[ "$code" = 400 ] && grep -qx 'Invalid check: Interval must be > 0 for Script, HTTP, or TCP checks' "$TMP/body" && ok "script check without interval: Consul's text" || fail "no interval: $code $(cat "$TMP/body")"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/agent/service/register")
[ "$code" = 405 ] && ok "GET on service/register: 405" || fail "405: $code"

# TCP and HTTP checks: the agent's own HTTP port is open, port 1 is not
code=$(put /v1/agent/check/register "{\"Name\":\"api port\",\"TCP\":\"$IP:$P\",\"Interval\":\"1s\"}")
put /v1/agent/check/register "{\"ID\":\"closed\",\"Name\":\"closed port\",\"TCP\":\"$IP:1\",\"Interval\":\"1s\",\"Status\":\"passing\"}" >/dev/null
put /v1/agent/check/register "{\"ID\":\"leader\",\"Name\":\"leader\",\"HTTP\":\"$URL/v1/status/leader\",\"Interval\":\"1s\"}" >/dev/null
put /v1/agent/check/register "{\"ID\":\"missing\",\"Name\":\"404\",\"HTTP\":\"$URL/nope\",\"Interval\":\"1s\",\"Status\":\"passing\"}" >/dev/null
net_ok() { py /v1/agent/checks "j['api port']['Status'] == 'passing' and j['closed']['Status'] == 'critical' and j['leader']['Status'] == 'passing' and j['missing']['Status'] == 'critical'"; }
wait_for 10 net_ok && ok "TCP and HTTP checks: open/200 passing, refused/404 critical" || fail "net checks: $(get /v1/agent/checks)"
py /v1/agent/checks "j['api port']['Output'] == 'TCP connect $IP:$P: Success' and j['closed']['Output'] == 'dial tcp $IP:1: connect: connection refused' and j['leader']['Output'] == 'HTTP GET $URL/v1/status/leader: 200 OK Output: \"$IP:$((P + 1))\"' and j['missing']['Output'].startswith('HTTP GET $URL/nope: 404 Not Found Output:')" \
  && ok "TCP and HTTP check outputs in Consul's words" || fail "outputs: $(get /v1/agent/checks)"
node_checks_synced() { py /v1/health/node/svc1 "sorted(c['CheckID'] for c in j) == ['api port', 'closed', 'leader', 'missing', 'serfHealth', 'service:nginx201', 'service:web1']"; }
wait_for 10 node_checks_synced && ok "lone checks synced into the catalog" || fail "node checks: $(get /v1/health/node/svc1)"
assert_contains "$TMP/s.out" "agent: Synced check: check=closed" "Consul's 'Synced check' line"

# maintenance
put "/v1/agent/maintenance?enable=true&reason=upgrade" >/dev/null
maint_on() { py /v1/health/node/svc1 "any(c['CheckID'] == '_node_maintenance' and c['Status'] == 'critical' and c['Notes'] == 'upgrade' for c in j)"; }
wait_for 5 maint_on && ok "node maintenance: a critical _node_maintenance check with the reason" || fail "maintenance on"
put "/v1/agent/maintenance?enable=false" >/dev/null
maint_off() { ! py /v1/health/node/svc1 "any(c['CheckID'] == '_node_maintenance' for c in j)"; }
wait_for 5 maint_off && ok "maintenance off: the check is gone" || fail "maintenance off"
code=$(put "/v1/agent/maintenance?enable=maybe")
[ "$code" = 400 ] && ok "maintenance with a bad enable: 400" || fail "maint 400: $code"

# deregistration
put /v1/agent/check/deregister/closed >/dev/null
code=$(put /v1/agent/service/deregister/web1)
web_gone() { py /v1/catalog/service/web "j == []" && ! py /v1/health/node/svc1 "any(c['CheckID'] == 'closed' for c in j)"; }
[ "$code" = 200 ] && wait_for 5 web_gone && ok "deregister a service and a check: gone from the catalog" || fail "deregister: $code"
assert_contains "$TMP/s.out" "agent: Deregistered service: service=web1" "Consul's 'Deregistered service' line"
code=$(put /v1/agent/service/deregister/web1)
[ "$code" = 404 ] && ok "deregister an unknown service: 404" || fail "dereg unknown: $code"

# API registrations survive a restart; config ones come from the config
put /v1/agent/service/register '{"ID":"keep1","Name":"keep","Check":{"TTL":"30s","Status":"passing"}}' >/dev/null
put "/v1/agent/maintenance?enable=true&reason=kernel" >/dev/null
put "/v1/agent/service/maintenance/keep1?enable=true&reason=deploy" >/dev/null
kill -TERM "$S"; wait_exit "$S" 20
start_server
kept() { py /v1/agent/services "sorted(j) == ['keep1', 'nginx201']" && py /v1/agent/checks "j['service:keep1']['Status'] == 'passing'"; }
wait_for 20 kept && ok "an API registration is kept across a restart (data_dir/local/registered.json)" || fail "restart: $(get /v1/agent/services)"
maint_kept() { py /v1/agent/checks "j['_node_maintenance']['Notes'] == 'kernel' and j['_node_maintenance']['Status'] == 'critical' and j['_service_maintenance:keep1']['Notes'] == 'deploy' and j['_service_maintenance:keep1']['ServiceID'] == 'keep1'"; }
maint_kept && ok "node and service maintenance mode are kept across a restart, with their reasons" || fail "maintenance after restart: $(get /v1/agent/checks)"
put "/v1/agent/maintenance?enable=false" >/dev/null
put "/v1/agent/service/maintenance/keep1?enable=false" >/dev/null
kill -TERM "$S"; wait_exit "$S" 20
start_server
wait_for 20 kept && ! py /v1/agent/checks "any(k.startswith('_') for k in j)" \
  && ok "and maintenance turned off stays off after the next restart" || fail "maintenance back after restart: $(get /v1/agent/checks)"

# reload: PUT /v1/agent/reload and SIGHUP read the config files again
write_config "$TMP/s.json" svc1 '"server": true, "bootstrap": true, "enable_script_checks": true,
  "service": {"name": "cache", "port": 11211, "check": {"ttl": "60s", "status": "warning"}}' "$IP"
code=$(put /v1/agent/reload)
reloaded() { py /v1/agent/services "sorted(j) == ['cache', 'keep1']" && py /v1/catalog/service/nginx201 "j == []" && py /v1/health/checks/cache "[c['Status'] for c in j] == ['warning']"; }
[ "$code" = 200 ] && wait_for 10 reloaded && ok "PUT /v1/agent/reload: a service gone from the file is deregistered, a new one synced"   || fail "reload: $code $(cat "$TMP/body") $(get /v1/agent/services)"
write_config "$TMP/s.json" svc1 '"server": true, "bootstrap": true, "enable_script_checks": true,
  "services": [{"name": "cache", "port": 11212, "check": {"ttl": "60s"}}, {"name": "web2"}]' "$IP"
kill -HUP "$S"
hup() { py /v1/agent/services "sorted(j) == ['cache', 'keep1', 'web2'] and j['cache']['Port'] == 11212" && py /v1/health/checks/cache "[c['Status'] for c in j] == ['warning']"; }
wait_for 10 hup && alive "$S" && ok "SIGHUP reloads too; a check that stays keeps its last status" || fail "sighup: $(get /v1/agent/services)"
assert_contains "$TMP/s.out" "agent: Reloading configuration..." "Consul's reload line"
printf '{"services": [' >"$TMP/bad.json"; cp "$TMP/bad.json" "$TMP/s.json"
code=$(put /v1/agent/reload)
[ "$code" = 500 ] && grep -q "Failed to parse config" "$TMP/body" && py /v1/agent/services "'web2' in j"   && ok "a broken config file on reload: 500 naming it, nothing changed" || fail "bad reload: $code $(cat "$TMP/body")"

# a client agent: its services reach the servers' catalog through forwarding
CIP=$(pick_loopback)
write_config "$TMP/c.json" cli1 "\"retry_join\": [\"$IP:$((P + 2))\"], \"retry_interval\": \"1s\",
  \"service\": {\"name\": \"redis\", \"port\": 6379, \"check\": {\"ttl\": \"60s\", \"status\": \"passing\"}}" "$CIP"
"$BIN" agent -config-file="$TMP/c.json" >"$TMP/c.out" 2>&1 &
C=$!; PIDS+=($C)
client_synced() { py /v1/health/service/redis "len(j) == 1 and j[0]['Node']['Node'] == 'cli1' and [c['Status'] for c in j[0]['Checks'] if c['CheckID'] == 'service:redis'] == ['passing']"; }
wait_for 30 client_synced && ok "a client agent's service is in the servers' catalog" || { fail "client service: $(get /v1/health/service/redis)"; tail -20 "$TMP/c.out" >&2; }
assert_contains "$TMP/c.out" "agent: Synced service: service=redis" "the client logs 'Synced service'"
CURL="http://$CIP:$P"
[ "$(curl -s "$CURL/v1/status/leader")" = "\"$IP:$((P + 1))\"" ] && [ "$(curl -s "$CURL/v1/status/peers")" = "[\"$IP:$((P + 1))\"]" ] \
  && curl -s "$CURL/v1/operator/raft/configuration" | grep -q '"Node":"svc1"' \
  && ok "the client agent answers status/leader, status/peers and the Raft configuration from a server" \
  || fail "client status: $(curl -s "$CURL/v1/status/leader") $(curl -s "$CURL/v1/operator/raft/configuration")"

# script checks refused when disabled: API and config file
write_config "$TMP/n.json" noscript '"server": true, "bootstrap": true,
  "service": {"name": "s", "check": {"args": ["true"], "interval": "5s"}}' "$(pick_loopback)"
"$BIN" agent -config-file="$TMP/n.json" >"$TMP/n.out" 2>&1 &
N=$!; PIDS+=($N)
wait_exit "$N" 20
[ "$RC" != 0 ] && [ "$RC" != timeout ] && grep -q "Scripts are disabled on this agent" "$TMP/n.out" \
  && ok "a script check in a config file without enable_script_checks: refused, exit $RC" || { fail "config script check: $RC"; cat "$TMP/n.out" >&2; }
kill -TERM "$C" "$S"; wait_exit "$C" 20; wait_exit "$S" 20
write_config "$TMP/s.json" svc1 '"server": true, "bootstrap": true' "$IP"
start_server
wait_for 20 py /v1/agent/self "True" || fail "server did not come back"
code=$(put /v1/agent/service/register '{"Name":"x","Check":{"Args":["true"],"Interval":"5s"}}')
[ "$code" = 500 ] && grep -qx "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true" "$TMP/body" \
  && ok "a script check over the API without enable_script_checks: 500, Consul's text" || fail "api script check: $code $(cat "$TMP/body")"
finish
