#!/usr/bin/env bash
# GET /v1/agent/metrics (go-metrics JSON, Prometheus text), GET /v1/agent/monitor
# and `conclave monitor` against real agents on loopback addresses: a bootstrap
# server plus a client agent that forwards KV writes over server RPC.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl is not installed (ci/deps.sh installs it)"; exit 77; }
command -v python3 >/dev/null || { echo "python3 is not installed (ci/deps.sh installs it)"; exit 77; }

IP=$(pick_loopback)
P=$((20000 + RANDOM % 20000))
URL="http://$IP:$P"
# agent_json FILE NAME IP PORT EXTRA: a config on loopback ports PORT..PORT+3
agent_json() {
  cat >"$1" <<JSON
{
  "datacenter": "dc1", "data_dir": "$TMP/data-$2", "log_level": "INFO", "node_name": "$2",
  "bind_addr": "$3", "client_addr": "$3", "advertise_addr": "$3",
  "ports": {"http": $4, "server": $(($4 + 1)), "serf_lan": $(($4 + 2)), "serf_wan": $(($4 + 3)), "dns": -1}
  $5
}
JSON
}
agent_json "$TMP/s1.json" s1 "$IP" "$P" ', "server": true, "bootstrap": true'
"$BIN" agent -config-file="$TMP/s1.json" >"$TMP/s1.out" 2>&1 &
S1=$!; PIDS+=($S1)
has_leader() { local l; l=$(curl -s --max-time 1 "$URL/v1/status/leader"); [ -n "$l" ] && [ "$l" != '""' ]; }
wait_for 20 has_leader || { fail "no leader on $URL"; cat "$TMP/s1.out" >&2; finish; }
ok "bootstrap server elected itself"
# the election's counters live in this interval (and the next one shows it)
curl -sf --max-time 2 "$URL/v1/agent/metrics" >"$TMP/metrics.early.json"

# A client agent on its own address, joined to the server: its KV requests
# reach the server as RPCs.
IP2=$(pick_loopback)
while [ "$IP2" = "$IP" ]; do IP2=$(pick_loopback); done
P2=$((P + 10))
agent_json "$TMP/c1.json" c1 "$IP2" "$P2" ", \"server\": false, \"retry_join\": [\"$IP:$((P + 2))\"], \"retry_interval\": \"1s\""
"$BIN" agent -config-file="$TMP/c1.json" >"$TMP/c1.out" 2>&1 &
C1=$!; PIDS+=($C1)
client_put() { curl -sf --max-time 2 -X PUT -d "$2" "http://$IP2:$P2/v1/kv/$1" | grep -q true; }
wait_for 20 client_put via/client 1 || { fail "client agent cannot write"; cat "$TMP/c1.out" >&2; }

for i in 1 2 3 4 5; do curl -sf --max-time 5 -X PUT -d "v$i" "$URL/v1/kv/m/k$i" >/dev/null; done
for i in 1 2 3; do client_put "via/c$i" "$i"; done
curl -sf --max-time 2 "$URL/v1/kv/m/k1" >/dev/null

# ---- /v1/agent/metrics JSON ----
# The shown interval is the last finished one (10 s windows), so the checks
# poll: every snapshot is kept, and the names must turn up in one of them.
check_json() { # FILE...: prints what is missing from the union of the snapshots
  python3 - "$@" <<'PY'
import json, re, sys
gauges, counters, samples, errs = {}, {}, {}, []
for path in sys.argv[1:]:
    d = json.load(open(path))
    if list(d.keys()) != ["Timestamp", "Gauges", "Points", "Counters", "Samples"]:
        errs.append("top-level keys %s" % list(d.keys()))
    if not re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d[0] \+0000 UTC", d["Timestamp"]):
        errs.append("Timestamp %r" % d["Timestamp"])
    for g in d["Gauges"]:
        if list(g.keys()) != ["Name", "Value", "Labels"]:
            errs.append("gauge keys %s" % list(g.keys()))
        gauges[(g["Name"], tuple(sorted(g["Labels"].items())))] = g["Value"]
    for kind, into in (("Counters", counters), ("Samples", samples)):
        for c in d[kind]:
            if list(c.keys()) != ["Name", "Count", "Rate", "Sum", "Min", "Max", "Mean", "Stddev", "Labels"]:
                errs.append("%s keys %s" % (kind, list(c.keys())))
            if c["Min"] > c["Mean"] or c["Mean"] > c["Max"] or c["Count"] < 1:
                errs.append("%s stats %s" % (kind, c))
            if abs(c["Rate"] - c["Sum"] / 10) > 1e-6 * max(1, c["Sum"]):
                errs.append("%s rate %s" % (kind, c))
            into.setdefault(c["Name"], []).append(c)
def need(cond, what):
    if not cond: errs.append(what)
g = lambda n, l=(): gauges.get((n, l))
need((g("consul.raft.term") or 0) >= 1, "gauge consul.raft.term >= 1")
need((g("consul.raft.commit_index") or 0) >= 8, "gauge consul.raft.commit_index >= 8")
need((g("consul.raft.applied_index") or 0) >= 8, "gauge consul.raft.applied_index >= 8")
need((g("consul.raft.last_index") or 0) >= 8, "gauge consul.raft.last_index >= 8")
need(g("consul.server.isLeader") == 1, "gauge consul.server.isLeader == 1")
need((g("consul.runtime.alloc_bytes") or 0) > 100000, "gauge consul.runtime.alloc_bytes")
need((g("consul.runtime.sys_bytes") or 0) > 100000, "gauge consul.runtime.sys_bytes")
need(g("consul.serf.members.alive", (("network", "lan"),)) == 2, "2 alive LAN members")
need(g("consul.serf.members.failed", (("network", "lan"),)) == 0, "0 failed LAN members")
need("consul.raft.state.leader" in counters, "counter consul.raft.state.leader")
need("consul.raft.state.follower" in counters, "counter consul.raft.state.follower")
need("consul.serf.member.join" in counters, "counter consul.serf.member.join")
need("consul.rpc.request" in counters, "counter consul.rpc.request")
need(any(c["Labels"].get("method") == "KVS.Forward" for c in samples.get("consul.rpc.server.call", [])),
     "sample consul.rpc.server.call{method=KVS.Forward}")
need(any(c["Count"] >= 1 and c["Mean"] > 0 for c in samples.get("consul.kvs.apply", [])), "sample consul.kvs.apply")
need("consul.http.PUT.v1.kv._" in samples, "sample consul.http.PUT.v1.kv._")
need("consul.http.GET.v1.status.leader" in samples, "sample consul.http.GET.v1.status.leader")
print("\n".join(errs))
PY
}
snaps=("$TMP/metrics.early.json")
deadline=$((SECONDS + 25))
while :; do
  f="$TMP/metrics.$SECONDS.$RANDOM.json"
  curl -sf --max-time 2 "$URL/v1/agent/metrics" >"$f" && snaps+=("$f")
  missing=$(check_json "${snaps[@]}")
  [ -z "$missing" ] && break
  [ $SECONDS -ge $deadline ] && break
  sleep 1
done
if [ -z "$missing" ]; then ok "metrics JSON: go-metrics shape, raft/serf/runtime gauges, raft/serf/rpc counters, kvs/http/rpc samples (${#snaps[@]} polls)"
else fail "metrics JSON after ${#snaps[@]} polls: $missing"; fi
curl -s --max-time 2 "$URL/v1/agent/metrics?pretty" | grep -q '^            "Labels": {}' &&
  ok "?pretty writes empty Labels as {} (Go's MarshalIndent)" || fail "?pretty Labels"
code=$(curl -s -o "$TMP/415" -w '%{http_code}' --max-time 2 "$URL/v1/agent/metrics?format=prometheus")
[ "$code" = 415 ] && [ "$(cat "$TMP/415")" = "Prometheus is not enabled since its retention time is not positive" ] &&
  ok "prometheus without retention: 415 and Consul's text" || fail "prometheus without retention: $code '$(cat "$TMP/415")'"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H 'Accept: application/openmetrics-text; version=1.0.0' "$URL/v1/agent/metrics")
[ "$code" = 415 ] && ok "an openmetrics Accept header asks for Prometheus too" || fail "Accept openmetrics gave $code"

# ---- conclave monitor ----
export CONCLAVE_HTTP_ADDR="$IP:$P"
unset CONSUL_HTTP_ADDR
"$BIN" monitor -log-level=debug >"$TMP/mon.out" 2>"$TMP/mon.err" &
M=$!; PIDS+=($M)
wait_for 10 grep -q "url=/v1/agent/monitor" "$TMP/mon.out" || fail "monitor did not start: $(cat "$TMP/mon.err")"
curl -sf --max-time 5 -X PUT -d x "$URL/v1/kv/after/monitor-start" >/dev/null
if wait_for 10 grep -q "url=/v1/kv/after/monitor-start" "$TMP/mon.out"; then
  ok "conclave monitor shows a debug line of a KV write made after it started (agent logs at INFO)"
else fail "monitor output lacks the KV write:"; sed 's/^/    /' "$TMP/mon.out" >&2; fi
grep -q "DEBUG" "$TMP/s1.out" && fail "the agent's own log got DEBUG lines" || ok "the agent's own log stays at INFO"
kill -INT "$M"; wait_exit "$M" 5
[ "$RC" = 0 ] && ok "Ctrl-C ends conclave monitor with exit 0" || fail "monitor exit $RC"

"$BIN" monitor -log-level=debug -log-json >"$TMP/monj.out" 2>&1 &
M=$!; PIDS+=($M)
wait_for 10 grep -q '"url":"/v1/agent/monitor' "$TMP/monj.out"
curl -sf --max-time 2 "$URL/v1/kv/json/probe" >/dev/null
wait_for 10 grep -q 'json/probe' "$TMP/monj.out"
kill -INT "$M"; wait_exit "$M" 5
if python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
hit = [l for l in lines if "json/probe" in l.get("url", "")]
assert hit and list(hit[0])[:4] == ["@level", "@message", "@module", "@timestamp"], hit
assert hit[0]["@level"] == "debug" and hit[0]["@module"] == "agent.http"
' "$TMP/monj.out"; then ok "-log-json streams hclog JSON lines"; else fail "-log-json output:"; cat "$TMP/monj.out" >&2; fi

"$BIN" monitor -log-level=loud >"$TMP/o" 2>"$TMP/e"; RC=$?
[ "$RC" = 1 ] && [ "$(cat "$TMP/e")" = "Error starting monitor: Unexpected response code: 400 (Unknown log level: loud)" ] &&
  ok "a bad -log-level is the agent's 400" || fail "bad level: exit $RC, '$(cat "$TMP/e")'"

# ---- a stopped monitor client must not stall the agent ----
"$BIN" monitor -log-level=debug >"$TMP/slow.out" 2>&1 &
M=$!; PIDS+=($M)
wait_for 10 grep -q "url=/v1/agent/monitor" "$TMP/slow.out"
kill -STOP "$M"
# ~16 MB of debug lines (8 KB URLs on a 404 path) through one keep-alive connection
python3 - "$IP" "$P" <<'PY' &
import http.client, sys
c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=10)
path = "/v1/flood/" + "x" * 8000
for i in range(2000):
    c.request("GET", path); c.getresponse().read()
PY
FLOOD=$!; PIDS+=($FLOOD)
worst=0
for i in 1 2 3 4 5 6 7 8 9 10; do
  t0=$(date +%s%N)
  curl -sf --max-time 5 -X PUT -d "$i" "$URL/v1/kv/slow/k$i" | grep -q true || fail "KV write $i failed while the monitor was stopped"
  ms=$(( ($(date +%s%N) - t0) / 1000000 )); [ $ms -gt $worst ] && worst=$ms
done
wait_exit "$FLOOD" 60
[ "$RC" = 0 ] && ok "16 MB of log lines went out while the monitor client was stopped" || fail "flood client: $RC"
[ $worst -lt 2000 ] && ok "KV writes kept working (slowest ${worst} ms)" || fail "a KV write took ${worst} ms"
rss=$(awk '/VmRSS/ { print $2 }' /proc/$S1/status)
[ "$rss" -lt 100000 ] && ok "agent memory bounded (VmRSS ${rss} kB)" || fail "agent VmRSS ${rss} kB"
kill -CONT "$M"
curl -sf --max-time 5 -X PUT -d x "$URL/v1/kv/after/resume" >/dev/null
wait_for 15 grep -q "url=/v1/kv/after/resume" "$TMP/slow.out" && ok "the resumed monitor gets new lines" || fail "no line after resume"
assert_contains "$TMP/slow.out" "Monitor dropped" "the slow client is told how many lines it lost"

# ---- Prometheus, with a retention time (host name in gauge names) ----
IP3=$(pick_loopback)
while [ "$IP3" = "$IP" ] || [ "$IP3" = "$IP2" ]; do IP3=$(pick_loopback); done
P3=$((P + 20))
agent_json "$TMP/s2.json" s2 "$IP3" "$P3" ', "server": true, "bootstrap": true, "telemetry": {"prometheus_retention_time": "60s"}'
"$BIN" agent -config-file="$TMP/s2.json" >"$TMP/s2.out" 2>&1 &
S2=$!; PIDS+=($S2)
URL3="http://$IP3:$P3"
has_leader3() { local l; l=$(curl -s --max-time 1 "$URL3/v1/status/leader"); [ -n "$l" ] && [ "$l" != '""' ]; }
wait_for 20 has_leader3 || fail "no leader on $URL3"
curl -sf --max-time 5 -X PUT -d 1 "$URL3/v1/kv/p" >/dev/null
sleep 1.5 # one gauge sample
curl -s -D "$TMP/prom.h" --max-time 2 "$URL3/v1/agent/metrics?format=prometheus" >"$TMP/prom.txt"
grep -qi '^Content-Type: text/plain; version=0.0.4; charset=utf-8' "$TMP/prom.h" && ok "prometheus content type 0.0.4" ||
  fail "content type: $(grep -i content-type "$TMP/prom.h")"
HOST=$(hostname | sed 's/[^a-zA-Z0-9_:]/_/g')
if python3 - "$TMP/prom.txt" "$HOST" <<'PY'
import re, sys
text, host = open(sys.argv[1]).read(), sys.argv[2]
lines = text.splitlines()
sample = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? (NaN|[+-]Inf|[-+0-9.e]+)')
for l in lines:
    if l.startswith("# HELP ") or l.startswith("# TYPE "):
        continue
    assert sample.fullmatch(l), "bad line %r" % l
assert "# TYPE consul_raft_state_leader counter" in lines and "consul_raft_state_leader 1" in lines
assert "# TYPE consul_%s_raft_term gauge" % host in lines, "gauge with host name"
assert any(re.fullmatch(r"consul_%s_raft_applied_index [0-9.e+]+" % host, l) for l in lines)
assert "# TYPE consul_kvs_apply summary" in lines
assert any(re.fullmatch(r'consul_kvs_apply\{quantile="0.5"\} [0-9.e+-]+', l) for l in lines)
assert "consul_kvs_apply_count 1" in lines
assert "# TYPE consul_http_PUT_v1_kv__ summary" in lines
names = [l.split()[2] for l in lines if l.startswith("# TYPE ")]
assert names == sorted(names), "families sorted"
PY
then ok "prometheus text: valid sample lines, counters, host-named gauges, summaries"; else fail "prometheus text:"; head -40 "$TMP/prom.txt" >&2; fi
host_gauge() { curl -s --max-time 2 "$URL3/v1/agent/metrics" | grep -q "\"consul.$(hostname).raft.term\""; }
wait_for 12 host_gauge &&
  ok "JSON gauges carry the host name when Prometheus is on (disable_hostname false)" || fail "no host name in JSON gauges"

# ---- the monitor ends when the agent goes ----
"$BIN" monitor -http-addr="$IP3:$P3" >"$TMP/end.out" 2>"$TMP/end.err" &
M=$!; PIDS+=($M)
sleep 0.5
"$BIN" leave -http-addr="$IP3:$P3" >/dev/null 2>&1
wait_exit "$M" 20
[ "$RC" = 1 ] && assert_contains "$TMP/end.err" "Remote side ended the monitor!" "monitor reports the agent's exit" ||
  fail "monitor after leave: exit $RC, $(cat "$TMP/end.err")"

kill -TERM "$C1" "$S1" 2>/dev/null
finish
