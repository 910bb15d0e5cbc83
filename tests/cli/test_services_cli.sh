#!/usr/bin/env bash
# `conclave services register|deregister` against one real agent (loopback):
# flags (repeatable -tag and -meta), definition files with "service" and
# "services" in the config's snake_case form sent in the API's form, flags
# adding to a file, deregistration by -id and by file, and Consul's messages
# and exit codes for bad input and for the agent's refusals.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl is not installed (ci/deps.sh installs it)"; exit 77; }
command -v python3 >/dev/null || { echo "python3 is not installed (ci/deps.sh installs it)"; exit 77; }

IP=$(pick_loopback)
P=$((20000 + RANDOM % 20000))
URL="http://$IP:$P"
cat >"$TMP/agent.json" <<JSON
{
  "datacenter": "dc1", "data_dir": "$TMP/data", "log_level": "INFO", "node_name": "svc1",
  "server": true, "bootstrap": true,
  "bind_addr": "$IP", "client_addr": "$IP", "advertise_addr": "$IP",
  "ports": {"http": $P, "server": $((P + 1)), "serf_lan": $((P + 2)), "serf_wan": $((P + 3)), "dns": -1}
}
JSON
"$BIN" agent -config-file="$TMP/agent.json" >"$TMP/agent.out" 2>&1 &
PIDS+=($!)
up() { curl -s --max-time 1 -o /dev/null "$URL/v1/agent/self"; }
wait_for 20 up || { fail "agent did not answer on $URL"; cat "$TMP/agent.out" >&2; finish; }

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
# services_has PYTHON-EXPR: true when the expression holds for s, the
# /v1/agent/services answer.
services_has() {
  curl -s "$URL/v1/agent/services" >"$TMP/svcs"
  python3 -c "import json, sys; s = json.load(open(sys.argv[1])); sys.exit(0 if ($1) else 1)" "$TMP/svcs"
}

# ---- from flags ----
run services register -name=web -id=web1 -address=10.0.0.5 -port=8080 -tag=v1 -tag=v2 \
  -meta=env=prod -meta=expr=a=b
expect 0 "Registered service: web" "" "register from flags"
services_has 's["web1"]["Service"] == "web" and s["web1"]["Port"] == 8080 and s["web1"]["Address"] == "10.0.0.5" and s["web1"]["Tags"] == ["v1", "v2"] and s["web1"]["Meta"] == {"env": "prod", "expr": "a=b"}' \
  && ok "the agent holds it with every flag's value (repeated -tag and -meta)" || fail "web1: $(cat "$TMP/svcs")"

# ---- from files, in the config's form ----
cat >"$TMP/two.json" <<'JSON'
{"services": [
  {"name": "db", "id": "db1", "port": 5432, "tags": ["primary"], "address": "10.0.0.6",
   "meta": {"Some_Key": "v"}, "enable_tag_override": true,
   "check": {"id": "db-ttl", "name": "db alive", "ttl": "30s", "notes": "fed by the app"}},
  {"name": "cache", "port": 6379}
]}
JSON
cat >"$TMP/one.json" <<'JSON'
{"service": {"name": "api", "port": 9000, "checks": [{"tcp": "127.0.0.1:1", "interval": "10s", "timeout": "1s"}]}}
JSON
run services register -tag=extra -meta=owner=ops "$TMP/two.json" "$TMP/one.json"
expect 0 "$(printf 'Registered service: db\nRegistered service: cache\nRegistered service: api')" "" "register from two files (three services)"
curl -s "$URL/v1/agent/services" >"$TMP/svcs"; curl -s "$URL/v1/agent/checks" >"$TMP/chks"
python3 - "$TMP/svcs" "$TMP/chks" <<'PY' && ok "file services arrive in the API's form: snake_case fields, meta keys as written, ids defaulting to names, flags adding tags and meta, their ttl and tcp checks" || fail "from files: $(cat "$TMP/svcs" "$TMP/chks")"
import json, sys
s, c = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
db = s["db1"]
assert db["Service"] == "db" and db["Port"] == 5432 and db["Address"] == "10.0.0.6", db
assert db["Tags"] == ["primary", "extra"] and db["Meta"] == {"Some_Key": "v", "owner": "ops"}, db
assert db["EnableTagOverride"] is True, db
assert s["cache"]["Port"] == 6379 and s["cache"]["Tags"] == ["extra"], s["cache"]
assert s["api"]["Port"] == 9000, s["api"]
k = c["db-ttl"]
assert k["Name"] == "db alive" and k["ServiceID"] == "db1" and k["Notes"] == "fed by the app", k
assert any(x["ServiceID"] == "api" for x in c.values()), c
PY

# ---- deregister ----
run services deregister "$TMP/two.json"
expect 0 "$(printf 'Deregistered service: db1\nDeregistered service: cache')" "" "deregister by file (id, else name)"
run services deregister -id=web1
expect 0 "Deregistered service: web1" "" "deregister -id"
[ "$(curl -s "$URL/v1/agent/services" | grep -o '"ID":"[^"]*"' | tr '\n' ' ')" = '"ID":"api" ' ] \
  && ok "only api is left" || fail "after deregister: $(curl -s "$URL/v1/agent/services")"
run services deregister -id=nope
[ "$RCODE" = 1 ] && [ ! -s "$TMP/o" ] && grep -q '^Error deregistering service "nope": Unexpected response code: 404 (' "$TMP/e" \
  && ok "deregister of an unknown id: the agent's 404 in Consul's words" || fail "unknown id: exit $RCODE, $(cat "$TMP/o" "$TMP/e")"
run services deregister "$TMP/one.json"
expect 0 "Deregistered service: api" "" "deregister the last one"

# ---- bad input ----
run services register
expect 1 "" "Service registration requires at least one argument or flags." "register without anything"
run services register -name=x -meta=novalue
[ "$RCODE" = 1 ] && [ "$(head -1 "$TMP/e")" = 'invalid value "novalue" for flag -meta: Missing "=" value in argument: novalue' ] \
  && ok "-meta without =" || fail "-meta without =: exit $RCODE, $(head -1 "$TMP/e")"
run services register -name=x -port=70000
[ "$RCODE" = 1 ] && [ "$(head -1 "$TMP/e")" = 'invalid value "70000" for flag -port: out of range' ] \
  && ok "-port out of range" || fail "-port 70000: exit $RCODE, $(head -1 "$TMP/e")"
echo '{"datacenter": "dc1"}' >"$TMP/none.json"
run services register "$TMP/none.json"
expect 1 "" "Error: $TMP/none.json: no service definition (\"service\" or \"services\")" "a file without services"
echo '{"service": {"name": 3}}' >"$TMP/bad.json"
run services register "$TMP/bad.json"
[ "$RCODE" = 1 ] && grep -q "^Error: .*bad.json.*service.name.*string" "$TMP/e" && ok "a bad file: the config loader's error names file and key" \
  || fail "bad file: exit $RCODE, $(cat "$TMP/e")"
run services register "$TMP/nothere.json"
[ "$RCODE" = 1 ] && grep -q "^Error: .*nothere.json" "$TMP/e" && ok "a missing file" || fail "missing file: exit $RCODE, $(cat "$TMP/e")"
echo '{"service": {"name": "sh", "check": {"args": ["true"], "interval": "10s"}}}' >"$TMP/script.json"
run services register "$TMP/script.json"
[ "$RCODE" = 1 ] && [ ! -s "$TMP/o" ] && grep -q '^Error registering service "sh": Unexpected response code: [45][0-9][0-9] (.*[Ss]cript' "$TMP/e" \
  && ok "the agent's refusal (script checks disabled) in Consul's words" || fail "script refusal: exit $RCODE, $(cat "$TMP/o" "$TMP/e")"
run services deregister
expect 1 "" "Service deregistration requires at least one argument or -id." "deregister without anything"
run services deregister -id=a "$TMP/one.json"
expect 1 "" "Service deregistration requires arguments or -id, not both." "deregister with -id and a file"
run services register -http-addr=127.0.0.1:1 -name=x
[ "$RCODE" = 1 ] && grep -qx 'Error registering service "x": Put http://127.0.0.1:1/v1/agent/service/register: dial tcp 127.0.0.1:1: connect: connection refused' "$TMP/e" \
  && ok "connection error in Go's words" || fail "unreachable: exit $RCODE, $(cat "$TMP/e")"
for c in register deregister; do
  run services $c -h
  [ "$RCODE" = 0 ] && head -1 "$TMP/o" | grep -qx "Usage: conclave services $c.*" && ok "services $c -h" || fail "services $c -h: exit $RCODE"
done
run services
[ "$RCODE" = 1 ] && grep -q '^Usage: conclave services <subcommand>' "$TMP/e" && ok "bare services: usage, exit 1" || fail "bare services: exit $RCODE"
finish
