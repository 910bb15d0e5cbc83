#!/usr/bin/env bash
# Autopilot on one real single-server agent (loopback): the health answer
# (Healthy, FailureTolerance 0, the server's fields), the configuration's
# defaults, `operator autopilot get-config|set-config|state` with Consul's
# output, CAS and bad bodies on the HTTP API, and the configuration surviving
# a restart from a snapshot whose log no longer holds the write.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl is not installed (ci/deps.sh installs it)"; exit 77; }
command -v python3 >/dev/null || { echo "python3 is not installed (ci/deps.sh installs it)"; exit 77; }

IP=$(pick_loopback)
P=$((20000 + RANDOM % 20000))
URL="http://$IP:$P"
# tiny snapshot threshold and trailing log: the restart below must find the
# configuration in the snapshot, not in the log
cat >"$TMP/agent.json" <<JSON
{
  "datacenter": "dc1", "data_dir": "$TMP/data", "log_level": "INFO", "node_name": "ap1",
  "server": true, "bootstrap": true, "raft_snapshot_threshold": 8, "raft_trailing_logs": 1,
  "bind_addr": "$IP", "client_addr": "$IP", "advertise_addr": "$IP",
  "ports": {"http": $P, "server": $((P + 1)), "serf_lan": $((P + 2)), "serf_wan": $((P + 3)), "dns": -1}
}
JSON
start() {
  "$BIN" agent -config-file="$TMP/agent.json" >>"$TMP/agent.out" 2>&1 &
  A=$!; PIDS+=($A)
}
has_leader() { local l; l=$(curl -s --max-time 1 "$URL/v1/status/leader"); [ -n "$l" ] && [ "$l" != '""' ]; }
start
wait_for 20 has_leader || { fail "no leader on $URL"; cat "$TMP/agent.out" >&2; finish; }

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
# code_body METHOD PATH [BODY]: "<status> <body>" of one request.
code_body() {
  curl -s --max-time 10 -X "$1" ${3+-d "$3"} -w ' %{http_code}' "$URL$2" >"$TMP/cb"
  local out; out=$(cat "$TMP/cb"); echo "${out##* } ${out% *}"
}

# ---- health ----
ID=$(cat "$TMP/data/node-id")
r=$(code_body GET /v1/operator/autopilot/health)
[ "${r%% *}" = 200 ] && ok "health: 200 on a healthy server" || fail "health: $r"
echo "${r#* }" | python3 -c '
import json, re, sys
h = json.load(sys.stdin); ip, port, node_id = sys.argv[1], int(sys.argv[2]), sys.argv[3]
assert h["Healthy"] is True and h["FailureTolerance"] == 0, h
assert len(h["Servers"]) == 1, h
s = h["Servers"][0]
want = {"ID": node_id, "Name": "ap1", "Address": "%s:%d" % (ip, port + 1), "SerfStatus": "alive",
        "Leader": True, "Voter": True, "Healthy": True, "LastContact": "0s"}
for k, v in want.items():
    assert s[k] == v, (k, s[k], v)
assert s["LastTerm"] >= 1 and s["LastIndex"] >= 1, s
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s["StableSince"]), s["StableSince"]
assert re.fullmatch(r"\d+\.\d+\.\d+.*", s["Version"]), s["Version"]
assert list(s) == ["ID", "Name", "Address", "SerfStatus", "Version", "Leader", "LastContact",
                   "LastTerm", "LastIndex", "Healthy", "Voter", "StableSince"], list(s)
' "$IP" "$P" "$ID" && ok "health: Healthy, FailureTolerance 0 and the server's fields in Consul's shape" \
  || fail "health body: ${r#* }"
r=$(code_body PUT /v1/operator/autopilot/health)
[ "${r%% *}" = 405 ] && ok "health: PUT is 405" || fail "health PUT: $r"

# ---- configuration: defaults ----
DEFAULTS='CleanupDeadServers = true
LastContactThreshold = 200ms
MaxTrailingLogs = 250
MinQuorum = 0
ServerStabilizationTime = 10s
RedundancyZoneTag = ""
DisableUpgradeMigration = false
UpgradeVersionTag = ""'
run operator autopilot get-config
expect 0 "$DEFAULTS" "" "get-config shows Consul's defaults"
[ "$(curl -s "$URL/v1/operator/autopilot/configuration")" = '{"CleanupDeadServers":true,"LastContactThreshold":"200ms","MaxTrailingLogs":250,"MinQuorum":0,"ServerStabilizationTime":"10s","RedundancyZoneTag":"","DisableUpgradeMigration":false,"UpgradeVersionTag":"","CreateIndex":0,"ModifyIndex":0}' ] \
  && ok "GET configuration: Consul's fields and defaults" || fail "GET configuration: $(curl -s "$URL/v1/operator/autopilot/configuration")"

# ---- set-config ----
run operator autopilot set-config -cleanup-dead-servers=false -last-contact-threshold=350ms \
  -max-trailing-logs=900 -min-quorum=3 -server-stabilization-time=1m30s -upgrade-version-tag=build
expect 0 "Configuration updated!" "" "set-config"
SET='CleanupDeadServers = false
LastContactThreshold = 350ms
MaxTrailingLogs = 900
MinQuorum = 3
ServerStabilizationTime = 1m30s
RedundancyZoneTag = ""
DisableUpgradeMigration = false
UpgradeVersionTag = "build"'
run operator autopilot get-config
expect 0 "$SET" "" "get-config shows what set-config wrote"
run operator autopilot get-config -stale
expect 0 "$SET" "" "get-config -stale"
MI=$(curl -s "$URL/v1/operator/autopilot/configuration" | python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["ModifyIndex"] if c["CreateIndex"] == c["ModifyIndex"] > 0 else "bad")')
[ "$MI" != bad ] && ok "the write has a Raft index ($MI)" || fail "indexes after the write"
run operator autopilot set-config -min-quorum=1
expect 0 "Configuration updated!" "" "a second set-config (its CAS uses the new index)"
run operator autopilot set-config -last-contact-threshold=soon
[ "$RCODE" = 1 ] && [ "$(head -1 "$TMP/e")" = 'invalid value "soon" for flag -last-contact-threshold: expected a number before the unit' ] \
  && ok "set-config refuses a bad duration" || fail "bad duration: exit $RCODE, $(head -1 "$TMP/e")"
run operator autopilot set-config -max-trailing-logs=-1
[ "$RCODE" = 1 ] && [ "$(head -1 "$TMP/e")" = 'invalid value "-1" for flag -max-trailing-logs: parse error' ] \
  && ok "set-config refuses a negative count" || fail "negative count: exit $RCODE, $(head -1 "$TMP/e")"

# ---- the HTTP API: CAS, bad bodies ----
r=$(code_body PUT "/v1/operator/autopilot/configuration?cas=$MI" '{"MaxTrailingLogs": 5}')
[ "$r" = "200 false" ] && ok "PUT with a stale cas index answers false" || fail "stale cas: $r"
r=$(code_body PUT "/v1/operator/autopilot/configuration?cas=x" '{}')
[ "$r" = '400 Error parsing cas value: invalid syntax: "x"' ] && ok "bad cas value: 400" || fail "bad cas: $r"
for body in '' '[1]' '{"MaxTrailingLogs": "many"}' '{"LastContactThreshold": "-1s"}' \
            '{"CleanupDeadServers": "yes"}' '{"ServerStabilizationTime": "10 s"}' '{"MinQuorum": 1.5}'; do
  r=$(code_body PUT /v1/operator/autopilot/configuration "$body")
  case "$r" in
    "400 Error parsing autopilot config: "?*) ok "bad body '$body': 400 (${r#400 Error parsing autopilot config: })" ;;
    *) fail "bad body '$body': $r" ;;
  esac
done
run operator autopilot get-config
expect 0 "${SET/MinQuorum = 3/MinQuorum = 1}" "" "refused writes changed nothing"
r=$(code_body PUT /v1/operator/autopilot/configuration '{"MaxTrailingLogs": 10, "LastContactThreshold": 1500000}')
[ "$r" = "200 true" ] && ok "PUT without cas answers true" || fail "plain PUT: $r"
# Consul: fields left out of the body are zero, not kept; numbers are nanoseconds
run operator autopilot get-config
expect 0 'CleanupDeadServers = false
LastContactThreshold = 1.5ms
MaxTrailingLogs = 10
MinQuorum = 0
ServerStabilizationTime = 0s
RedundancyZoneTag = ""
DisableUpgradeMigration = false
UpgradeVersionTag = ""' "" "a PUT replaces the whole configuration"
run operator autopilot set-config -cleanup-dead-servers -server-stabilization-time=10s \
  -last-contact-threshold=250ms -max-trailing-logs=300 -redundancy-zone-tag=zone
FINAL='CleanupDeadServers = true
LastContactThreshold = 250ms
MaxTrailingLogs = 300
MinQuorum = 0
ServerStabilizationTime = 10s
RedundancyZoneTag = "zone"
DisableUpgradeMigration = false
UpgradeVersionTag = ""'
run operator autopilot get-config
expect 0 "$FINAL" "" "a bare -cleanup-dead-servers means true"

# ---- state ----
run operator autopilot state
if [ "$RCODE" = 0 ] && [ "$(sed -n 1,2p "$TMP/o")" = "$(printf 'Healthy: true\nFailure tolerance: 0')" ] &&
   sed -n 4p "$TMP/o" | grep -q '^Node  ID  *Address  *State   Voter  Healthy  SerfStatus  LastContact  LastTerm  LastIndex  StableSince$' &&
   sed -n 5p "$TMP/o" | grep -q "^ap1   $ID  $IP:$((P + 1))  leader  true   true     alive       0s  "; then
  ok "state: a table of the health answer"
else
  fail "state: exit $RCODE"; sed 's/^/    /' "$TMP/o" "$TMP/e" >&2
fi

# ---- other errors ----
run operator autopilot get-config -http-addr=127.0.0.1:1
[ "$RCODE" = 1 ] && grep -qx "Error querying Autopilot configuration: Get http://127.0.0.1:1/v1/operator/autopilot/configuration: dial tcp 127.0.0.1:1: connect: connection refused" "$TMP/e" \
  && ok "get-config: connection error in Go's words" || fail "get-config unreachable: exit $RCODE, $(cat "$TMP/e")"
run operator autopilot
[ "$RCODE" = 1 ] && grep -q '^Usage: conclave operator autopilot <subcommand>' "$TMP/e" && ok "bare operator autopilot: usage, exit 1" || fail "bare autopilot: exit $RCODE"
for c in get-config set-config state; do
  run operator autopilot $c -h
  [ "$RCODE" = 0 ] && head -1 "$TMP/o" | grep -qx "Usage: conclave operator autopilot $c.*" && ok "$c -h" || fail "$c -h: exit $RCODE"
done

# ---- restart: the configuration comes back from the snapshot ----
for i in $(seq 1 12); do curl -s -X PUT -d "$i" "$URL/v1/kv/fill/$i" >/dev/null; done
grep -q 'agent.server.raft: snapshot complete up to' "$TMP/agent.out" && ok "snapshots were taken (and the log compacted)" \
  || fail "no snapshot was taken"
kill -TERM $A
wait_exit $A 15
[ "$RC" = 0 ] && ok "SIGTERM: exit 0" || fail "SIGTERM: exit $RC"
start
wait_for 20 has_leader || { fail "no leader after the restart"; tail -20 "$TMP/agent.out" >&2; finish; }
run operator autopilot get-config
expect 0 "$FINAL" "" "the configuration survived the restart"
[ "$(curl -s "$URL/v1/kv/fill/12?raw")" = 12 ] && ok "and so did the KV store" || fail "KV lost in the restart"
r=$(code_body GET /v1/operator/autopilot/health)
[ "${r%% *}" = 200 ] && ok "healthy after the restart" || fail "health after restart: $r"
finish
