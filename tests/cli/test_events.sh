#!/usr/bin/env bash
# Consul's user events over Serf between real agents on loopback addresses:
# PUT /v1/event/fire/NAME reaches every agent's /v1/event/list once (payload,
# Lamport time, ID), node and service filters pick who keeps it, the list's
# blocking queries wake on a new event, bad filters are a 400 naming them.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl is not installed (ci/deps.sh installs it)"; exit 77; }

P=$((20000 + RANDOM % 20000))
A=$(pick_loopback); B=$(pick_loopback)
write_config() { # FILE NAME IP EXTRA
  cat >"$1" <<JSON
{ "datacenter": "dc1", "data_dir": "$TMP/data-$2", "node_name": "$2", "log_level": "DEBUG",
  "bind_addr": "$3", "client_addr": "$3", "advertise_addr": "$3",
  "ports": {"http": $P, "server": $((P + 1)), "serf_lan": $((P + 2)), "serf_wan": $((P + 3)), "dns": -1},
  $4 }
JSON
}
write_config "$TMP/a.json" ev-a "$A" '"server": true, "bootstrap": true'
write_config "$TMP/b.json" ev-b "$B" "\"retry_join\": [\"$A:$((P + 2))\"], \"retry_interval\": \"1s\",
  \"service\": {\"name\": \"web\", \"tags\": [\"blue\"]}"
"$BIN" agent -config-file="$TMP/a.json" >"$TMP/a.out" 2>&1 & PIDS+=($!)
"$BIN" agent -config-file="$TMP/b.json" >"$TMP/b.out" 2>&1 & PIDS+=($!)
joined() { curl -s --max-time 1 "http://$B:$P/v1/agent/members" | grep -q '"ev-a"'; }
wait_for 20 joined || { fail "the agents did not join"; finish; }

fire() { curl -s --max-time 5 -o "$TMP/body" -w '%{http_code}' -X PUT --data-binary "${2-}" "http://$B:$P/v1/event/fire/$1"; }
list() { curl -s --max-time 5 "http://$1:$P/v1/event/list${2-}"; }
code=$(fire deploy v1.2.3)
python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); sys.exit(0 if e["Name"]=="deploy" and len(e["ID"])==36 and e["Version"]==1 and e["Payload"]=="djEuMi4z" else 1)' "$TMP/body" \
  && [ "$code" = 200 ] && ok "fire: 200 with Consul's UserEvent (ID, Name, base64 Payload, Version 1)" || fail "fire: $code $(cat "$TMP/body")"
ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ID"])' "$TMP/body")
seen() { list "$1" | python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if [e['ID'] for e in j]==['$ID'] and j[0]['Payload']=='djEuMi4z' and j[0]['LTime']>=1 else 1)"; }
wait_for 10 seen "$A" && seen "$B" && ok "both agents list the event once, with its payload and Lamport time" \
  || fail "event lists: A $(list "$A") B $(list "$B")"
fire web-only "" >/dev/null
curl -s -X PUT "http://$B:$P/v1/event/fire/restart?service=^web\$&tag=blue" -o "$TMP/b2" >/dev/null
curl -s -X PUT "http://$B:$P/v1/event/fire/only-a?node=^ev-a\$" -o "$TMP/b3" >/dev/null
# (gossip does not keep the order of events fired one after the other)
names() { list "$1" | python3 -c 'import json,sys; print(" ".join(sorted(e["Name"] for e in json.load(sys.stdin))))'; }
filtered() { [ "$(names "$A")" = "deploy only-a web-only" ] && [ "$(names "$B")" = "deploy restart web-only" ]; }
wait_for 10 filtered && ok "service/tag and node filters: only the matching agents keep an event" \
  || fail "filters: A '$(names "$A")' B '$(names "$B")'"
[ "$(list "$A" '?name=deploy' | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1 ] && ok "?name= filters the list" || fail "name filter"
# blocking list: ?index= waits until this agent keeps another event
IDX=$(curl -s -D - -o /dev/null "http://$A:$P/v1/event/list" | tr -d '\r' | awk 'tolower($1)=="x-consul-index:" {print $2}')
curl -s --max-time 15 "http://$A:$P/v1/event/list?index=$IDX&wait=10s&name=late" >"$TMP/blocked" &
BQ=$!
sleep 0.5
kill -0 $BQ 2>/dev/null && ok "a blocking list waits while nothing new comes" || fail "the blocking list answered at once"
fire late "" >/dev/null
t0=$(date +%s%N)
wait $BQ
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
python3 -c 'import json,sys; sys.exit(0 if [e["Name"] for e in json.load(open(sys.argv[1]))] == ["late"] else 1)' "$TMP/blocked" \
  && [ $ms -lt 5000 ] && ok "it wakes with the new event (${ms} ms after the fire)" || fail "blocking list: '$(cat "$TMP/blocked")' after $ms ms"
t0=$(date +%s%N)
curl -s --max-time 10 "http://$A:$P/v1/event/list?index=$((IDX + 100))&wait=1s" >/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $ms -ge 1000 ] && [ $ms -lt 4000 ] && ok "without a new event it answers after the wait (${ms} ms for 1s)" || fail "wait=1s took $ms ms"
code=$(curl -s -o "$TMP/e" -w '%{http_code}' -X PUT "http://$B:$P/v1/event/fire/x?tag=blue")
[ "$code" = 400 ] && grep -qx "Cannot provide tag filter without service filter" "$TMP/e" && ok "a tag filter alone: 400, Consul's text" || fail "tag alone: $code"
code=$(curl -s -o "$TMP/e" -w '%{http_code}' -X PUT "http://$B:$P/v1/event/fire/x?node=%28")
[ "$code" = 400 ] && grep -q "Invalid node filter" "$TMP/e" && ok "a bad node regexp: 400 naming it" || fail "bad regexp: $code"
# the CLI: conclave event -name -node ... payload
"$BIN" event -http-addr="$B:$P" -name=cli-ev -node='^ev-a$' "from cli" >"$TMP/cli" 2>&1 \
  && grep -qE '^Event ID: [0-9a-f-]{36}$' "$TMP/cli" && ok "conclave event prints Consul's 'Event ID: ...'" || { fail "conclave event"; cat "$TMP/cli" >&2; }
cli_seen() { list "$A" '?name=cli-ev' | python3 -c 'import base64,json,sys; j=json.load(sys.stdin); sys.exit(0 if len(j)==1 and base64.b64decode(j[0]["Payload"])==b"from cli" and j[0]["NodeFilter"]=="^ev-a$" else 1)'; }
wait_for 10 cli_seen && [ "$(list "$B" '?name=cli-ev')" = "[]" ] && ok "its event reaches the filtered node only, with the payload" || fail "cli event lists: A $(list "$A" '?name=cli-ev') B $(list "$B" '?name=cli-ev')"
"$BIN" event -http-addr="$B:$P" -name=x -tag=blue >"$TMP/cli" 2>&1 && fail "event -tag alone accepted" \
  || assert_contains "$TMP/cli" "Cannot provide tag filter without service filter." "conclave event -tag without -service: Consul's error"
t0=$(date +%s%N)
code=$(curl -s --max-time 5 -o "$TMP/e" -w '%{http_code}' -X PUT "http://$B:$P/v1/event/fire/x?node=%28%28a%7B1,100%7D%29%7B1,100%7D%29%7B1,100%7D")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$code" = 400 ] && grep -q "Invalid node filter: too costly" "$TMP/e" && [ $ms -lt 1000 ] \
  && ok "a regexp glibc takes seconds to compile is refused at once (${ms} ms)" || fail "costly regexp: $code after $ms ms: $(cat "$TMP/e")"
head -c 600 /dev/zero | tr '\0' x >"$TMP/big"
code=$(curl -s -o "$TMP/e" -w '%{http_code}' -X PUT --data-binary @"$TMP/big" "http://$B:$P/v1/event/fire/big")
[ "$code" = 400 ] && ok "an event over serf's 512-byte limit: 400" || fail "big event: $code"
assert_contains "$TMP/a.out" "[DEBUG] agent: new event: event_name=deploy event_id=$ID" "Consul's 'new event' line"
finish
