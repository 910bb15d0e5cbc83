#!/usr/bin/env bash
# Gossip key rotation between real agents on loopback addresses, as with
# `consul keyring`: list (per pool, [installed/nodes]), install, use, remove,
# Consul's refusals (the primary key cannot go; no encryption, no keyring),
# the keyring files in data_dir/serf, and a restart that keeps the rotated
# key although the config still says the old one.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl is not installed (ci/deps.sh installs it)"; exit 77; }

K1="pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="
K2="Ubw9a6Zh0BDv8cB4WBgp3g4BhCqMwqgEyyLEyS0tmXE="
P=$((20000 + RANDOM % 20000))
A=$(pick_loopback); B=$(pick_loopback); C=$(pick_loopback)
write_config() { # FILE NAME IP EXTRA
  cat >"$1" <<JSON
{ "datacenter": "dc1", "data_dir": "$TMP/data-$2", "node_name": "$2",
  "bind_addr": "$3", "client_addr": "$3", "advertise_addr": "$3",
  "ports": {"http": $P, "server": $((P + 1)), "serf_lan": $((P + 2)), "serf_wan": $((P + 3)), "dns": -1},
  $4 }
JSON
}
write_config "$TMP/a.json" kr-a "$A" "\"server\": true, \"bootstrap\": true, \"encrypt\": \"$K1\""
write_config "$TMP/b.json" kr-b "$B" "\"encrypt\": \"$K1\", \"retry_join\": [\"$A:$((P + 2))\"], \"retry_interval\": \"1s\""
write_config "$TMP/c.json" kr-c "$C" '"server": true, "bootstrap": true'
"$BIN" agent -config-file="$TMP/a.json" >"$TMP/a.out" 2>&1 & PIDS+=($!)
"$BIN" agent -config-file="$TMP/b.json" >"$TMP/b.out" 2>&1 & B_PID=$!; PIDS+=($B_PID)
"$BIN" agent -config-file="$TMP/c.json" >"$TMP/c.out" 2>&1 & PIDS+=($!)
joined() { curl -s --max-time 1 "http://$A:$P/v1/agent/members" | grep -q '"kr-b"'; }
wait_for 20 joined || { fail "the agents did not join"; finish; }

keyring() { "$BIN" keyring -http-addr="$A:$P" "$@"; }
# block POOL: the lines of one pool's block in `keyring -list` output
block() { awk -v p="$1" '/^$/ {on=0} on {print} $0 == p {on=1}' "$2"; }
keyring -list >"$TMP/l0" 2>&1
assert_contains "$TMP/l0" "==> Gathering installed encryption keys..." "-list prints Consul's banner"
[ "$(block "WAN:" "$TMP/l0")" = "  $K1 [1/1]" ] && [ "$(block "dc1 (LAN):" "$TMP/l0")" = "  $K1 [2/2]" ] \
  && ok "-list: the key on the WAN pool [1/1] and on both LAN members [2/2]" || { fail "-list"; cat "$TMP/l0" >&2; }
curl -s "http://$A:$P/v1/operator/keyring" | python3 -c 'import json,sys
r = json.load(sys.stdin)
lan = [p for p in r if not p["WAN"]][0]
ok = [p["WAN"] for p in r] == [True, False] and lan["Datacenter"] == "dc1" and lan["NumNodes"] == 2 \
  and lan["Keys"] == {sys.argv[1]: 2} and lan["PrimaryKeys"] == {sys.argv[1]: 2} and lan["Segment"] == ""
sys.exit(0 if ok else 1)' "$K1" && ok "GET /v1/operator/keyring: Consul's KeyringResponse per pool" || fail "keyring JSON"

keyring -install "$K2" >"$TMP/i" 2>&1 && ok "-install: every member installed the new key" || { fail "-install"; cat "$TMP/i" >&2; }
keyring -list >"$TMP/l1" 2>&1
block "dc1 (LAN):" "$TMP/l1" | grep -qx "  $K2 \[2/2\]" && block "WAN:" "$TMP/l1" | grep -qx "  $K2 \[1/1\]" \
  && ok "-list shows the new key everywhere" || { fail "-list after install"; cat "$TMP/l1" >&2; }
keyring -remove "$K1" >"$TMP/r0" 2>&1 && fail "removing the primary key succeeded" \
  || { grep -q "Removing the primary key is not allowed" "$TMP/r0" && grep -q "dc1 (LAN) error: 2/2 nodes reported failure" "$TMP/r0" \
  && ok "-remove of the primary key: refused by every member, each named" || { fail "-remove primary"; cat "$TMP/r0" >&2; }; }
keyring -use "$K2" >"$TMP/u" 2>&1 && ok "-use: the new key is primary everywhere" || { fail "-use"; cat "$TMP/u" >&2; }
keyring -list-primary >"$TMP/lp" 2>&1
[ "$(block "dc1 (LAN):" "$TMP/lp")" = "  $K2 [2/2]" ] && ok "-list-primary shows it" || { fail "-list-primary"; cat "$TMP/lp" >&2; }
keyring -remove "$K1" >"$TMP/r1" 2>&1 && ok "-remove of the old key" || { fail "-remove"; cat "$TMP/r1" >&2; }
keyring -list >"$TMP/l2" 2>&1
! grep -q "$K1" "$TMP/l2" && [ "$(block "dc1 (LAN):" "$TMP/l2")" = "  $K2 [2/2]" ] \
  && ok "after the rotation only the new key is listed" || { fail "-list after rotation"; cat "$TMP/l2" >&2; }
ring_is() { python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])) == [sys.argv[2]] else 1)' "$1" "$2"; }
ring_is "$TMP/data-kr-b/serf/local.keyring" "$K2" && ring_is "$TMP/data-kr-a/serf/remote.keyring" "$K2" \
  && ok "the keyring files (local.keyring, remote.keyring) hold the new key alone" || fail "keyring files"

# restart the client with encrypt still the old key: the keyring file wins
kill -TERM "$B_PID"; wait_exit "$B_PID" 15
"$BIN" agent -config-file="$TMP/b.json" >"$TMP/b2.out" 2>&1 & PIDS+=($!)
back() { curl -s --max-time 1 "http://$A:$P/v1/agent/members" | python3 -c 'import json,sys; sys.exit(0 if [m["Status"] for m in json.load(sys.stdin) if m["Name"]=="kr-b"] == [1] else 1)'; }
wait_for 20 back && ok "the restarted agent is back in the pool on the rotated key" || fail "restarted agent not back"
assert_contains "$TMP/b2.out" "WARNING: LAN keyring exists but -encrypt given, using keyring" "and says the keyring file is used"

# a key from `conclave keygen` (32 random bytes, as consul keygen) installs
K3=$("$BIN" keygen)
python3 -c 'import base64,sys; sys.exit(0 if len(base64.b64decode(sys.argv[1], validate=True)) == 32 else 1)' "$K3" \
  && [ "$K3" != "$("$BIN" keygen)" ] && ok "keygen: a new base64 key of 32 bytes each time" || fail "keygen gave '$K3'"
keyring -install "$K3" >/dev/null 2>&1 && keyring -list >"$TMP/l3" 2>&1 && grep -q "  $K3 \[2/2\]" "$TMP/l3" \
  && ok "and it installs on every member" || { fail "install of a generated key"; cat "$TMP/l3" >&2; }

# refusals
"$BIN" keyring -http-addr="$C:$P" -list >"$TMP/c" 2>&1 && fail "-list without encryption succeeded" \
  || assert_contains "$TMP/c" "kr-c: Keyring is empty (encryption not enabled)" "without encryption: each member says its keyring is empty"
"$BIN" keyring -http-addr="$B:$P" -list >"$TMP/cl" 2>&1 && fail "-list on a client agent succeeded" \
  || assert_contains "$TMP/cl" "keyring operations must run against a server node" "a client agent refuses, as Consul's"
code=$(curl -s -o "$TMP/e" -w '%{http_code}' "http://$A:$P/v1/operator/keyring?relay-factor=9")
[ "$code" = 400 ] && assert_contains "$TMP/e" "Relay factor must be in range: [0, 5]" "relay-factor out of range: 400"
code=$(curl -s -o "$TMP/e" -w '%{http_code}' -X POST -d '{"Key":"c2hvcnQ="}' "http://$A:$P/v1/operator/keyring")
[ "$code" = 400 ] && assert_contains "$TMP/e" "Invalid key" "a key of 5 bytes: 400" || fail "short key gave $code"
code=$(curl -s -o "$TMP/e" -w '%{http_code}' -X PUT -d '{"Key":' "http://$A:$P/v1/operator/keyring")
[ "$code" = 400 ] && assert_contains "$TMP/e" "Request decode failed" "broken JSON: 400" || fail "broken JSON gave $code"
keyring -list -install "$K1" >"$TMP/two" 2>&1 && fail "two actions accepted" \
  || assert_contains "$TMP/two" "Only a single action is allowed" "two actions at once are refused"
finish
