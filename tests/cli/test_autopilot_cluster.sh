#!/usr/bin/env bash
# Autopilot on three real servers (bootstrap_expect 3, loopback addresses):
# the leader's health view from the Raft core's follower progress
# (FailureTolerance 1 when all are healthy), the same answer through a
# follower (forwarded to the leader over server RPC), the configuration
# written through a follower and replicated, and a frozen follower (SIGSTOP)
# turning the cluster unhealthy: 429 with the JSON body, its LastContact past
# the threshold, FailureTolerance 0; healthy again once it runs. A client
# agent beside them forwards the autopilot endpoints to a server and relays
# the answers as the server gave them (the 429 included).
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl is not installed (ci/deps.sh installs it)"; exit 77; }
command -v python3 >/dev/null || { echo "python3 is not installed (ci/deps.sh installs it)"; exit 77; }

IPS=()
while [ ${#IPS[@]} -lt 3 ]; do
  ip=$(pick_loopback)
  case " ${IPS[*]} " in *" $ip "*) ;; *) IPS+=("$ip") ;; esac
done
P=$((20000 + RANDOM % 20000))
JOIN=$(printf '"%s",' "${IPS[@]}"); JOIN="[${JOIN%,}]"
declare -A PID
for i in 0 1 2; do
  cat >"$TMP/s$i.json" <<JSON
{
  "datacenter": "dc1", "data_dir": "$TMP/data$i", "log_level": "INFO", "node_name": "ap$i",
  "server": true, "bootstrap_expect": 3, "retry_join": $JOIN, "retry_interval": "1s",
  "bind_addr": "${IPS[$i]}", "client_addr": "${IPS[$i]}", "advertise_addr": "${IPS[$i]}",
  "ports": {"http": $P, "server": $((P + 1)), "serf_lan": $((P + 2)), "serf_wan": $((P + 3)), "dns": -1}
}
JSON
  "$BIN" agent -config-file="$TMP/s$i.json" >"$TMP/s$i.out" 2>&1 &
  PID[$i]=$!; PIDS+=($!)
done
# PIDS cleanup kills with SIGKILL, which also ends a stopped process
while :; do
  CIP=$(pick_loopback)
  case " ${IPS[*]} " in *" $CIP "*) ;; *) break ;; esac
done
cat >"$TMP/c.json" <<JSON
{
  "datacenter": "dc1", "data_dir": "$TMP/datac", "log_level": "INFO", "node_name": "apc",
  "server": false, "retry_join": $JOIN, "retry_interval": "1s",
  "bind_addr": "$CIP", "client_addr": "$CIP", "advertise_addr": "$CIP",
  "ports": {"http": $P, "server": $((P + 1)), "serf_lan": $((P + 2)), "serf_wan": $((P + 3)), "dns": -1}
}
JSON
"$BIN" agent -config-file="$TMP/c.json" >"$TMP/c.out" 2>&1 &
PIDS+=($!)

# health_summary IP: "<status> <Healthy> <FailureTolerance> <servers> <healthy servers> <leaders>"
# (plain text tools on the compact answer: this runs in polling loops)
health_summary() {
  curl -s --max-time 10 -w ' %{http_code}' "http://$1:$P/v1/operator/autopilot/health" >"$TMP/h.$1"
  local raw body code top servers
  raw=$(cat "$TMP/h.$1"); body=${raw% *}; code=${raw##* }
  top=${body%%,\"Servers\"*}; servers=${body#*\"Servers\"}
  case "$top" in
    '{"Healthy":'*',"FailureTolerance":'*) ;;
    *) echo "$code -"; return ;;
  esac
  top=${top#\{\"Healthy\":}
  echo "$code ${top%%,*} ${top##*:} $(grep -o '"ID":' <<<"$servers" | wc -l)" \
    "$(grep -o '"Healthy":true' <<<"$servers" | wc -l) $(grep -o '"Leader":true' <<<"$servers" | wc -l)"
}
all_healthy() { [ "$(health_summary "$1")" = "200 true 1 3 3 1" ]; }
wait_for 30 all_healthy "${IPS[0]}" && ok "three servers: Healthy, FailureTolerance 1, one leader" \
  || { fail "cluster health: $(health_summary "${IPS[0]}") $(cat "$TMP/h.${IPS[0]}")"; finish; }

LEADER_ADDR=$(curl -s "http://${IPS[0]}:$P/v1/status/leader" | tr -d '"')
L=""; F=()
for i in 0 1 2; do
  if [ "${IPS[$i]}:$((P + 1))" = "$LEADER_ADDR" ]; then L=$i; else F+=("$i"); fi
done
[ -n "$L" ] && [ ${#F[@]} = 2 ] && ok "leader is ap$L" || { fail "leader $LEADER_ADDR not one of ours"; finish; }

# through a follower: forwarded to the leader, same shape, the leader marked
# (polled: on a loaded machine a heartbeat can come late and a follower look
# unhealthy for a moment; the answer checked below is the healthy one)
wait_for 10 all_healthy "${IPS[${F[0]}]}" && ok "a follower answers with the leader's view" \
  || fail "via follower: $(health_summary "${IPS[${F[0]}]}")"
python3 - "$TMP/h.${IPS[${F[0]}]}" "$LEADER_ADDR" <<'PY' && ok "follower entries: last contact under the threshold, the leader's term, caught up" || fail "follower entries: $(cat "$TMP/h.${IPS[${F[0]}]}")"
import json, sys
body = open(sys.argv[1]).read().rsplit(" ", 1)[0]
s = json.loads(body)["Servers"]
lead = [x for x in s if x["Leader"]][0]
assert lead["Address"] == sys.argv[2] and lead["LastContact"] == "0s", lead
for x in s:
    assert x["Voter"] and x["SerfStatus"] == "alive" and x["Name"].startswith("ap"), x
    assert x["LastTerm"] == lead["LastTerm"], (x, lead)
    assert lead["LastIndex"] - x["LastIndex"] <= 250, (x, lead)
    if not x["Leader"]:
        c = x["LastContact"]
        ms = float(c[:-2]) if c.endswith("ms") else 0.0 if c == "0s" else float(c[:-1]) * 1000
        assert ms <= 200, c
PY
"$BIN" operator autopilot state -http-addr="${IPS[${F[1]}]}:$P" >"$TMP/o" 2>"$TMP/e"
[ $? = 0 ] && [ "$(grep -c ' follower ' "$TMP/o")" = 2 ] && [ "$(grep -c ' leader ' "$TMP/o")" = 1 ] &&
  head -1 "$TMP/o" | grep -qEx 'Healthy: (true|false)' && ok "state on a follower: three rows, one leader" \
  || { fail "state on a follower"; cat "$TMP/o" "$TMP/e" >&2; }

# the configuration, written through one follower, read on the other
"$BIN" operator autopilot set-config -max-trailing-logs=500 -http-addr="${IPS[${F[0]}]}:$P" >"$TMP/o" 2>&1
[ "$(cat "$TMP/o")" = "Configuration updated!" ] && ok "set-config through a follower" || fail "set-config via follower: $(cat "$TMP/o")"
"$BIN" operator autopilot get-config -http-addr="${IPS[${F[1]}]}:$P" >"$TMP/o" 2>&1
grep -qx 'MaxTrailingLogs = 500' "$TMP/o" && ok "the other follower has it" || fail "replicated config: $(cat "$TMP/o")"

# the client agent: a server's answers, status code included
client_ready() { local l; l=$(curl -s --max-time 2 "http://$CIP:$P/v1/status/leader"); [ -n "$l" ] && [ "$l" != '""' ]; }
wait_for 20 client_ready || fail "the client knows no leader: $(cat "$TMP/c.out")"
ask() { curl -s --max-time 15 -w ' %{http_code}' "$@"; }   # "<body> <status>"
for q in "200 " "200 ?pretty" "200 ?stale" "200 ?consistent" "400 ?stale&consistent"; do
  code=${q%% *}; q=${q#* }
  s=$(ask "http://${IPS[$L]}:$P/v1/operator/autopilot/configuration$q")
  c=$(ask "http://$CIP:$P/v1/operator/autopilot/configuration$q")
  [ "$c" = "$s" ] && [ "${s##* }" = "$code" ] && ok "client GET configuration$q: the server's $code answer" \
    || fail "client GET configuration$q: '$c', the server: '$s'"
done
CONF=$(curl -s "http://${IPS[$L]}:$P/v1/operator/autopilot/configuration")
MI=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["ModifyIndex"])' "$CONF")
NEW=$(python3 -c 'import json, sys; c = json.loads(sys.argv[1]); c["MaxTrailingLogs"] = 321; print(json.dumps(c))' "$CONF")
r=$(ask -X PUT -d "$NEW" "http://$CIP:$P/v1/operator/autopilot/configuration?cas=$MI")
[ "$r" = "true 200" ] && ok "client PUT with ?cas=$MI: true" || fail "client PUT ?cas=$MI: '$r'"
python3 - "$(curl -s "http://${IPS[$L]}:$P/v1/operator/autopilot/configuration?consistent")" "$MI" <<'PY' \
  && ok "the leader shows the client's write" || fail "after the client's PUT: $(curl -s "http://${IPS[$L]}:$P/v1/operator/autopilot/configuration")"
import json, sys
c = json.loads(sys.argv[1])
assert c["MaxTrailingLogs"] == 321 and c["ModifyIndex"] > int(sys.argv[2]) and c["LastContactThreshold"] == "200ms", c
PY
s=$(ask -X PUT -d "$NEW" "http://${IPS[$L]}:$P/v1/operator/autopilot/configuration?cas=$MI&pretty")
c=$(ask -X PUT -d "$NEW" "http://$CIP:$P/v1/operator/autopilot/configuration?cas=$MI&pretty")
[ "$c" = "$s" ] && [ "${s%%[[:space:]]*}" = false ] && [ "${s##* }" = 200 ] \
  && ok "client PUT with a stale ?cas (and ?pretty): the server's false" || fail "stale cas: client '$c', server '$s'"
s=$(ask -X PUT -d '{"MaxTrailingLogs": -1}' "http://${IPS[$L]}:$P/v1/operator/autopilot/configuration")
c=$(ask -X PUT -d '{"MaxTrailingLogs": -1}' "http://$CIP:$P/v1/operator/autopilot/configuration")
[ "$c" = "$s" ] && [ "${s##* }" = 400 ] && ok "client PUT of a bad body: the server's 400" || fail "bad body: client '$c', server '$s'"
wait_for 10 all_healthy "$CIP" && ok "client GET health: 200, the leader's view" \
  || fail "health via the client: $(health_summary "$CIP") $(cat "$TMP/h.$CIP")"

# a frozen follower: the leader stops hearing from it
FROZEN=${F[1]}
kill -STOP "${PID[$FROZEN]}"
unhealthy() { [ "$(health_summary "${IPS[$L]}")" = "429 false 0 3 2 1" ]; }
wait_for 15 unhealthy && ok "frozen follower: 429, Healthy false, FailureTolerance 0" \
  || fail "frozen follower: $(health_summary "${IPS[$L]}")"
python3 - "$TMP/h.${IPS[$L]}" "${IPS[$FROZEN]}:$((P + 1))" <<'PY' && ok "its entry: unhealthy, last contact past the 200ms threshold" || fail "frozen entry: $(cat "$TMP/h.${IPS[$L]}")"
import json, sys
body = open(sys.argv[1]).read().rsplit(" ", 1)[0]
x = [s for s in json.loads(body)["Servers"] if s["Address"] == sys.argv[2]][0]
c = x["LastContact"]
ms = float(c[:-2]) if c.endswith("ms") else float(c[:-1]) * 1000 if c.endswith("s") and "m" not in c else 1e9
assert not x["Healthy"] and ms > 200, x
PY
# the client may ask the frozen server until gossip no longer has it alive
client_unhealthy() { [ "$(health_summary "$CIP")" = "429 false 0 3 2 1" ]; }
wait_for 40 client_unhealthy && ok "health via the client: the server's 429, Healthy false" \
  || fail "frozen follower via the client: $(health_summary "$CIP") $(cat "$TMP/h.$CIP")"
"$BIN" operator autopilot state -http-addr="${IPS[$L]}:$P" >"$TMP/o" 2>"$TMP/e"
[ $? = 0 ] && head -1 "$TMP/o" | grep -qx 'Healthy: false' && ok "state shows the unhealthy cluster (exit 0)" \
  || fail "state when unhealthy: $(cat "$TMP/o" "$TMP/e")"
kill -CONT "${PID[$FROZEN]}"
wait_for 15 all_healthy "${IPS[$L]}" && ok "running again: healthy again" \
  || fail "after SIGCONT: $(health_summary "${IPS[$L]}")"
finish
