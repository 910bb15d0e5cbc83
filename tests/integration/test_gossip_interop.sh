#!/usr/bin/env bash
# Conclave and the real serf (Debian's serf 0.9.4) in one gossip pool, in
# namespaces: each side joins the other, lists the other alive with its tags,
# sees a SIGKILL as failed and a graceful leave as left; serf's queries are
# acked (with node and tag filters); with the same `encrypt` key they talk
# and rotate keys with `serf keys`; with different keys they do not.
. "$(dirname "$0")/lib.sh"
command -v serf >/dev/null || { echo "SKIP: serf is not installed (ci/deps.sh installs it)"; exit 77; }

KEY1="pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="
KEY2="Ubw9a6Zh0BDv8cB4WBgp3g4BhCqMwqgEyyLEyS0tmXE="

topology() { # name conclave-encrypt serf-encrypt
  cat <<YAML
name: $1
networks: [ { name: lan, subnet: 51.6.196.0/24 } ]
nodes:
  - name: c1
    kind: conclave
    addresses: { lan: 51.6.196.11 }
    config:
      server: false
      datacenter: dc1
      retry_join: ["51.6.196.21:7946"]
      retry_interval: 1s
      ${2:+encrypt: "$2"}
  - name: c2
    kind: conclave
    addresses: { lan: 51.6.196.12 }
    config: { server: false, datacenter: dc1, retry_join: ["51.6.196.11"], retry_interval: 1s ${2:+, encrypt: "$2"} }
  - name: s1
    kind: serf
    addresses: { lan: 51.6.196.21 }
    config: { retry_join: ["51.6.196.11:8301"], retry_interval: 1s ${3:+, encrypt: "$3"} }
YAML
}

serf_members() { # topo
  "$HARNESS" -t "$1" exec s1 -- serf members -rpc-addr=51.6.196.21:7373 -format=json 2>/dev/null
}
conclave_members() { # topo node
  "$HARNESS" -t "$1" exec "$2" -- sh -c 'curl -sf --max-time 2 "$CONCLAVE_HTTP_ADDR/v1/agent/members"'
}
# status_of JSON-FROM NAME: the member's status as that side reports it
serf_status() { serf_members "$1" | python3 -c 'import json,sys; m=[x for x in json.load(sys.stdin)["members"] if x["name"]==sys.argv[1]]; print(m[0]["status"] if m else "none")' "$2"; }
conclave_status() { conclave_members "$1" "$2" | python3 -c 'import json,sys; m=[x for x in json.load(sys.stdin) if x["Name"]==sys.argv[1]]; print({1:"alive",2:"leaving",3:"left",4:"failed"}.get(m[0]["Status"],"?") if m else "none")' "$3"; }
serf_is() { [ "$(serf_status "$1" "$2")" = "$3" ]; }                # topo member status
conclave_is() { [ "$(conclave_status "$1" "$2" "$3")" = "$4" ]; }   # topo observer member status

# ---- plaintext pool ----
topology "$TOPO" "" "" >"$TMP/t.yaml"
"$HARNESS" up "$TMP/t.yaml" >"$TMP/up.out" 2>&1 || { fail "up"; cat "$TMP/up.out" >&2; finish; }
check_root_ns "interop up"
wait_for 30 serf_is "$TOPO" c1 alive \
  && ok "serf sees conclave c1 alive" || fail "serf does not see c1: $(serf_members "$TOPO")"
serf_members "$TOPO" >"$TMP/serf.json"
python3 - "$TMP/serf.json" <<'PY' && ok "serf shows conclave's tags (role=node, dc=dc1, id)" || { fail "tags seen by serf"; cat "$TMP/serf.json" >&2; }
import json, sys
m = [x for x in json.load(open(sys.argv[1]))["members"] if x["name"] == "c1"][0]
t = m["tags"]
sys.exit(0 if t.get("role") == "node" and t.get("dc") == "dc1" and len(t.get("id", "")) == 36 else 1)
PY
wait_for 30 conclave_is "$TOPO" c1 s1 alive \
  && ok "conclave c1 sees serf s1 alive" || fail "c1 does not see s1: $(conclave_members "$TOPO" c1)"
wait_for 30 conclave_is "$TOPO" c2 s1 alive \
  && ok "conclave c2 (joined through c1) sees serf s1 alive" || fail "c2 does not see s1"

# Serf queries asked by the real serf: every conclave agent acks once, and
# answers nothing more (as a Consul agent, which ignores user queries); node
# and tag filters decide who processes them.
serf_query() { # topo args...: the JSON result (acks, responses)
  local t=$1; shift
  "$HARNESS" -t "$t" exec s1 -- serf query -rpc-addr=51.6.196.21:7373 -format=json -timeout=2s "$@" 2>&1
}
acks_are() { # JSON wanted-acks: exact set of acking nodes, no responses from conclave
  python3 -c 'import json,sys
r = json.loads(sys.stdin.read())
acks = sorted(r.get("Acks") or [])
resp = sorted((r.get("Responses") or {}).keys())
ok = acks == sorted(sys.argv[1].split(",")) and not [n for n in resp if n.startswith("c")]
print("acks", acks, "responses", resp, file=sys.stderr) if not ok else None
sys.exit(0 if ok else 1)' "$1"
}
serf_query "$TOPO" hello world | acks_are c1,c2,s1 && ok "serf query: acked by both conclave agents and serf, once each" || fail "serf query acks"
serf_query "$TOPO" -node=c2 hello | acks_are c2 && ok "serf query -node=c2: only c2 acks" || fail "node filter"
serf_query "$TOPO" -tag role=no.e hello | acks_are c1,c2 && ok "serf query -tag role=no.e: the conclave agents (role=node) ack, serf (no role) does not" || fail "tag filter"

# User events both ways: Consul's event fired on conclave reaches serf's
# agent as the Serf user event consul:event:NAME, and one serf fires with
# Consul's msgpack UserEvent as payload ({ID, n, v}) is listed by conclave.
code=$("$HARNESS" -t "$TOPO" exec c1 -- sh -c 'curl -s -o /dev/null -w "%{http_code}" -X PUT --data-binary v1 "$CONCLAVE_HTTP_ADDR/v1/event/fire/deploy"')
serf_got_event() { "$HARNESS" -t "$TOPO" logs s1 | grep -q "user-event: consul:event:deploy"; }
[ "$code" = 200 ] && wait_for 10 serf_got_event && ok "an event fired on conclave reaches serf (user-event: consul:event:deploy)" \
  || fail "serf did not log the user event (fire gave $code)"
"$HARNESS" -t "$TOPO" exec s1 -- serf event -rpc-addr=51.6.196.21:7373 consul:event:from-serf \
  "$(printf '\x83\xa2ID\xa4ab12\xa1n\xa9from-serf\xa1v\x01')" >/dev/null 2>&1
listed() { "$HARNESS" -t "$TOPO" exec c2 -- sh -c 'curl -s "$CONCLAVE_HTTP_ADDR/v1/event/list?name=from-serf"' | grep -q '"ID":"ab12"'; }
wait_for 10 listed && ok "an event fired by serf is listed by conclave (/v1/event/list)" || fail "conclave did not list serf's event"

# Graceful leave of a conclave client (SIGTERM leaves on clients): serf shows left.
"$HARNESS" -t "$TOPO" stop c2 >/dev/null
wait_for 20 serf_is "$TOPO" c2 left \
  && ok "conclave's graceful leave is seen as left by serf" \
  || { fail "serf shows c2 as $(serf_status "$TOPO" c2)"; "$HARNESS" -t "$TOPO" logs s1 | grep -E "c1|c2" >&2;
       "$HARNESS" -t "$TOPO" logs c2 | tail -20 >&2; }

# SIGKILL of serf: the conclave agent marks it failed; back again: alive.
"$HARNESS" -t "$TOPO" kill s1 >/dev/null
wait_for 30 conclave_is "$TOPO" c1 s1 failed \
  && ok "SIGKILLed serf is seen failed by conclave" || fail "c1 did not mark s1 failed: $(conclave_status "$TOPO" c1 s1)"
"$HARNESS" -t "$TOPO" start s1 >/dev/null
wait_for 40 conclave_is "$TOPO" c1 s1 alive \
  && ok "restarted serf is alive again for conclave" || fail "s1 not alive again"

# SIGKILL of a conclave agent: serf marks it failed.
"$HARNESS" -t "$TOPO" kill c1 >/dev/null
wait_for 30 serf_is "$TOPO" c1 failed \
  && ok "SIGKILLed conclave is seen failed by serf" || fail "serf did not mark c1 failed: $(serf_status "$TOPO" c1)"
"$HARNESS" down "$TOPO" >/dev/null 2>&1

# ---- encrypted pools ----
T2="${TOPO}e"; TOPOS+=("$T2")
topology "$T2" "$KEY1" "$KEY1" >"$TMP/te.yaml"
"$HARNESS" up "$TMP/te.yaml" >"$TMP/up2.out" 2>&1 || { fail "encrypted up"; cat "$TMP/up2.out" >&2; }
wait_for 30 conclave_is "$T2" c1 s1 alive \
  && ok "same key: conclave and serf talk" || fail "same key: c1 does not see s1"
wait_for 30 serf_is "$T2" c2 alive || fail "serf does not see c2 in the encrypted pool"
# Key rotation from serf (what `consul keyring` does): install, use, remove,
# answered by every member, kept in the conclave agents' keyring files.
serf_keys() { "$HARNESS" -t "$T2" exec s1 -- serf keys -rpc-addr=51.6.196.21:7373 "$@" 2>&1; }
serf_keys -list >"$TMP/keys0.txt"
grep -q "$KEY1.*\[3/3\]" "$TMP/keys0.txt" && ok "serf keys -list: the key is on all 3 members" || { fail "keys -list"; cat "$TMP/keys0.txt" >&2; }
serf_keys -install "$KEY2" >"$TMP/keys1.txt" && ok "serf keys -install: every member installed the new key" || { fail "keys -install"; cat "$TMP/keys1.txt" >&2; }
serf_keys -use "$KEY2" >"$TMP/keys2.txt" && ok "serf keys -use: every member made it primary" || { fail "keys -use"; cat "$TMP/keys2.txt" >&2; }
serf_keys -remove "$KEY1" >"$TMP/keys3.txt" && ok "serf keys -remove: the old key is gone everywhere" || { fail "keys -remove"; cat "$TMP/keys3.txt" >&2; }
serf_keys -list >"$TMP/keys4.txt"
grep -q "$KEY2.*\[3/3\]" "$TMP/keys4.txt" && ! grep -q "$KEY1" "$TMP/keys4.txt" \
  && ok "after rotation only the new key is listed, on 3/3" || { fail "keys after rotation"; cat "$TMP/keys4.txt" >&2; }
DATA=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data_dir"])' "$CONCLAVE_HARNESS_DIR/$T2/nodes/c1/config.json")
python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])) == [sys.argv[2]] else 1)' "$DATA/serf/local.keyring" "$KEY2" \
  && ok "c1's serf/local.keyring holds the new key alone" || { fail "keyring file"; cat "$DATA/serf/local.keyring" >&2; }
# c1 restarts with the old key in its config: the keyring file wins (as in
# Consul), so it is back in the pool
"$HARNESS" -t "$T2" restart c1 >/dev/null
"$HARNESS" -t "$T2" logs c1 | grep -q "keyring exists but -encrypt given, using keyring" \
  && ok "restart: the keyring file is used over encrypt, and says so" || fail "no keyring warning on restart"
wait_for 30 conclave_is "$T2" c1 s1 alive && wait_for 30 serf_is "$T2" c1 alive \
  && ok "restarted c1 talks to serf with the rotated key" || fail "c1 not back after restart: $(serf_status "$T2" c1)"
"$HARNESS" down "$T2" >/dev/null 2>&1

T3="${TOPO}x"; TOPOS+=("$T3")
topology "$T3" "$KEY1" "$KEY2" >"$TMP/tx.yaml"
"$HARNESS" up "$TMP/tx.yaml" >"$TMP/up3.out" 2>&1 || { fail "mixed-key up"; cat "$TMP/up3.out" >&2; }
sleep 5
[ "$(conclave_status "$T3" c1 s1)" = none ] && ok "different keys: conclave does not see serf" || fail "different keys: c1 sees s1 as $(conclave_status "$T3" c1 s1)"
[ "$(serf_status "$T3" c1)" = none ] && ok "different keys: serf does not see conclave" || fail "different keys: serf sees c1"
"$HARNESS" down "$T3" >/dev/null 2>&1
check_root_ns "after interop"
finish
