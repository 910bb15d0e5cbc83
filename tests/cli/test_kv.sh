#!/usr/bin/env bash
# `conclave kv`, `operator raft` and `info` against one real single-server agent
# (bootstrap mode) on a loopback address: Consul's output, messages, exit codes.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl is not installed (ci/deps.sh installs it)"; exit 77; }

IP=$(pick_loopback)
P=$((20000 + RANDOM % 20000))
URL="http://$IP:$P"
cat >"$TMP/agent.json" <<JSON
{
  "datacenter": "dc1", "data_dir": "$TMP/data", "log_level": "INFO", "node_name": "kv1",
  "server": true, "bootstrap": true,
  "bind_addr": "$IP", "client_addr": "$IP", "advertise_addr": "$IP",
  "ports": {"http": $P, "server": $((P + 1)), "serf_lan": $((P + 2)), "serf_wan": $((P + 3)), "dns": -1}
}
JSON
"$BIN" agent -config-file="$TMP/agent.json" >"$TMP/agent.out" 2>&1 &
A=$!; PIDS+=($A)
has_leader() { local l; l=$(curl -s --max-time 1 "$URL/v1/status/leader"); [ -n "$l" ] && [ "$l" != '""' ]; }
wait_for 20 has_leader || { fail "no leader on $URL"; cat "$TMP/agent.out" >&2; finish; }
ok "single server elected itself"

unset CONSUL_HTTP_ADDR
export CONCLAVE_HTTP_ADDR="$IP:$P"

# run ARGS...: runs conclave; stdout in $TMP/o, stderr in $TMP/e, exit code in RCODE.
run() { "$BIN" "$@" >"$TMP/o" 2>"$TMP/e"; RCODE=$?; }
# expect CODE STDOUT STDERR WHAT: the last run's exit code and exact outputs.
expect() {
  local bad=""
  [ "$RCODE" = "$1" ] || bad="exit $RCODE, want $1"
  [ "$(cat "$TMP/o")" = "$2" ] || bad="$bad; stdout '$(cat "$TMP/o")', want '$2'"
  [ "$(cat "$TMP/e")" = "$3" ] || bad="$bad; stderr '$(cat "$TMP/e")', want '$3'"
  if [ -z "$bad" ]; then ok "$4"; else fail "$4: ${bad#; }"; fi
}

# ---- put / get ----
run kv put redis/config/connections 5
expect 0 "Success! Data written to: redis/config/connections" "" "kv put"
run kv get redis/config/connections
expect 0 "5" "" "kv get prints the raw value"
run kv get /redis/config/connections
expect 0 "5" "" "kv get strips a leading /"
run kv get nope/missing
expect 1 "" "Error! No key exists at: nope/missing" "kv get of a missing key"
run kv put empty/key
expect 0 "Success! Data written to: empty/key" "" "kv put without a value"
run kv get empty/key
[ "$RCODE" = 0 ] && [ "$(od -An -c "$TMP/o" | tr -d ' ')" = '\n' ] && ok "empty value prints an empty line" || fail "empty value: exit $RCODE, '$(cat "$TMP/o")'"
run kv put "odd key/with?query&chars" "v a l"
run kv get "odd key/with?query&chars"
expect 0 "v a l" "" "keys are escaped in the URL"

run kv put -flags=42 redis/config/users 7
run kv get -detailed redis/config/users
MI=$(awk '$1 == "ModifyIndex" { print $2 }' "$TMP/o")
CI=$(awk '$1 == "CreateIndex" { print $2 }' "$TMP/o")
want=$(printf '%-17s%s\n' CreateIndex "$CI" Flags 42 Key redis/config/users LockIndex 0 \
  ModifyIndex "$MI" Session - Value 7)
expect 0 "$want" "" "kv get -detailed aligns Consul's fields"
[ -n "$MI" ] && [ "$MI" = "$CI" ] && ok "detailed indexes are numbers ($MI)" || fail "detailed indexes '$CI' '$MI'"
curl -s --max-time 2 "$URL/v1/kv/redis/config/users" | grep -q '"Flags":42' && ok "-flags reached the store" || fail "-flags not stored"

# binary-safe: NUL, 0xff and a trailing newline through stdin and back
printf 'a\000b\377c\n' >"$TMP/bin"
"$BIN" kv put bin/blob - <"$TMP/bin" >"$TMP/o" 2>"$TMP/e"; RCODE=$?
expect 0 "Success! Data written to: bin/blob" "" "kv put - reads stdin"
curl -s --max-time 2 "$URL/v1/kv/bin/blob?raw" >"$TMP/raw"
cmp -s "$TMP/bin" "$TMP/raw" && ok "stdin value stored byte for byte" || fail "stored value differs: $(od -c "$TMP/raw")"
run kv get bin/blob
{ cat "$TMP/bin"; echo; } >"$TMP/want"
cmp -s "$TMP/want" "$TMP/o" && ok "kv get prints binary values byte for byte" || fail "kv get binary: $(od -c "$TMP/o")"
run kv get -base64 bin/blob
expect 0 "YQBi/2MK" "" "kv get -base64"
run kv put -base64 bin/b64 aGVsbG8=
run kv get bin/b64
expect 0 "hello" "" "kv put -base64 decodes"
run kv put -base64 bin/b64 aA==; run kv get bin/b64
expect 0 "h" "" "kv put -base64 with two padding bytes"
run kv put -base64 bin/b64 'a=A='
expect 1 "" "Error! Cannot base 64 decode data: illegal base64 data at input byte 1" "kv put -base64 refuses bad input"

# ---- CAS ----
run kv put web/foo f
run kv get -detailed web/foo
MI=$(awk '$1 == "ModifyIndex" { print $2 }' "$TMP/o")
run kv put -cas -modify-index=$((MI + 1000)) web/foo g
expect 1 "" "Error! Did not write to web/foo: CAS failed" "kv put CAS with a stale index fails"
run kv get web/foo
expect 0 "f" "" "failed CAS left the value"
run kv put -cas -modify-index="$MI" web/foo g
expect 0 "Success! Data written to: web/foo" "" "kv put CAS with the current index"
run kv get web/foo
expect 0 "g" "" "CAS wrote the value"
run kv put -cas web/foo h
expect 1 "" "Must specify -modify-index with -cas!" "kv put -cas needs -modify-index"
run kv get -detailed web/foo
MI=$(awk '$1 == "ModifyIndex" { print $2 }' "$TMP/o")
run kv delete -cas -modify-index=$((MI + 1000)) web/foo
expect 1 "" "Error! Did not delete key web/foo: CAS failed" "kv delete CAS with a stale index fails"
run kv delete -cas -modify-index="$MI" web/foo
expect 0 "Success! Deleted key: web/foo" "" "kv delete CAS with the current index"
run kv get web/foo
expect 1 "" "Error! No key exists at: web/foo" "CAS delete removed the key"
run kv delete -cas -recurse -modify-index=3 web/
expect 1 "" "Cannot specify both -cas and -recurse!" "kv delete -cas -recurse refused"

# ---- -keys, -recurse, delete ----
run kv put web/bar b; run kv put web/foo f; run kv put web/subdir/x x
run kv get -keys web/
expect 0 "$(printf 'web/bar\nweb/foo\nweb/subdir/')" "" "kv get -keys folds at the / separator"
run kv get -keys -separator= web/
expect 0 "$(printf 'web/bar\nweb/foo\nweb/subdir/x')" "" "kv get -keys -separator= lists every key"
run kv get -keys -separator=/ web/
expect 0 "$(printf 'web/bar\nweb/foo\nweb/subdir/')" "" "kv get -keys -separator=/"
run kv get -recurse web
expect 0 "$(printf 'web/bar:b\nweb/foo:f\nweb/subdir/x:x')" "" "kv get -recurse prints key:value"
run kv get -recurse nothing/here
expect 0 "" "" "kv get -recurse of an empty prefix prints nothing"
run kv get -stale web/bar
expect 0 "b" "" "kv get -stale"
run kv get -consistent web/bar
expect 0 "b" "" "kv get -consistent"
run kv delete web/bar
expect 0 "Success! Deleted key: web/bar" "" "kv delete"
run kv delete -recurse web/
expect 0 "Success! Deleted keys with prefix: web/" "" "kv delete -recurse"
run kv get -keys web/
expect 0 "" "" "prefix is empty after kv delete -recurse"
run kv delete
expect 1 "" "Error! Missing KEY argument" "kv delete without a key"
run kv get a b
expect 1 "" "Too many arguments (expected 1, got 2)" "kv get with two keys"

# ---- HTTP errors in Consul's words ----
run kv get -stale -consistent web/bar
expect 1 "" "Error querying Consul agent: Unexpected response code: 400 (Cannot specify ?stale with ?consistent, conflicting semantics.)" "HTTP error body in Consul's wording"
run kv get -http-addr=127.0.0.1:1 web/bar
[ "$RCODE" = 1 ] && grep -qx "Error querying Consul agent: Get http://127.0.0.1:1/v1/kv/web/bar: dial tcp 127.0.0.1:1: connect: connection refused" "$TMP/e" && ok "connection error in Go's words" || fail "connection error: exit $RCODE, $(cat "$TMP/e")"
CONCLAVE_HTTP_ADDR=127.0.0.1:1 "$BIN" kv get -http-addr="$IP:$P" redis/config/connections >"$TMP/o" 2>"$TMP/e"; RCODE=$?
expect 0 "5" "" "-http-addr overrides CONCLAVE_HTTP_ADDR"

# ---- operator raft ----
ID=$(cat "$TMP/data/node-id")
run operator raft list-peers
# columns as wide as their widest cell, glued by two spaces, the last unpadded
w=$(( ${#IP} + 1 + ${#P} ))
want=$(printf '%-4s  %-36s  %-*s  %-6s  %-5s  %s\n' Node ID "$w" Address State Voter RaftProtocol \
  kv1 "$ID" "$w" "$IP:$((P + 1))" leader true 3)
expect 0 "$want" "" "operator raft list-peers shows the server as leader"
run operator raft list-peers -stale
expect 0 "$want" "" "operator raft list-peers -stale"
run operator raft remove-peer
expect 1 "" "Error removing peer: an address or id is required for the peer to remove" "remove-peer needs -id or -address"
run operator raft remove-peer -id=x -address=127.0.0.1:1
expect 1 "" "Error removing peer: cannot give both an address and id" "remove-peer refuses both"
timeout 20 "$BIN" operator raft remove-peer -address=127.0.0.9:8300 >"$TMP/o" 2>"$TMP/e"; RCODE=$?
[ "$RCODE" = 1 ] && [ ! -s "$TMP/o" ] &&
  grep -q '^Error removing peer: Unexpected response code: 500 (.*not found in the Raft configuration)$' "$TMP/e" &&
  ok "remove-peer of an unknown address fails" || fail "remove-peer unknown: exit $RCODE, '$(cat "$TMP/o")' '$(cat "$TMP/e")'"
run operator raft list-peers
expect 0 "$want" "" "the server is still the only peer"

# ---- info ----
run info
[ "$RCODE" = 0 ] && ok "info exits 0" || fail "info: exit $RCODE $(cat "$TMP/e")"
assert_contains "$TMP/o" "$(printf '\tstate = Leader')" "info: raft state = Leader"
assert_contains "$TMP/o" "$(printf '\tleader_addr = %s' "$IP:$((P + 1))")" "info: consul leader_addr"
assert_contains "$TMP/o" "$(printf '\tnum_peers = 0')" "info: num_peers"
assert_contains "$TMP/o" "$(printf '\tmembers = 1')" "info: serf_lan members"
sections=$(grep -v "$(printf '^\t')" "$TMP/o" | tr '\n' ' ')
[ "$sections" = "agent: build: consul: raft: runtime: serf_lan: serf_wan: " ] && ok "info: sections sorted" || fail "info sections: $sections"
awk -v t="$(printf '\t')" 'index($0, t) == 1 && $0 !~ /^\t[a-z_]+ = /{ bad = 1 } END { exit bad }' "$TMP/o" && ok "info: key = value lines" || fail "info line format"

# ---- help and bad flags ----
for c in "kv get" "kv put" "kv delete" "operator raft list-peers" "operator raft remove-peer" "info"; do
  # shellcheck disable=SC2086
  "$BIN" $c -h >"$TMP/o" 2>"$TMP/e"; RCODE=$?
  [ "$RCODE" = 0 ] && head -1 "$TMP/o" | grep -qx "Usage: conclave $c.*" && ok "$c -h" || fail "$c -h: exit $RCODE, $(head -1 "$TMP/o")"
  # shellcheck disable=SC2086
  "$BIN" $c -nope >"$TMP/o" 2>"$TMP/e"; RCODE=$?
  [ "$RCODE" = 1 ] && [ "$(head -1 "$TMP/e")" = "flag provided but not defined: -nope" ] &&
    grep -q "^Usage: conclave $c" "$TMP/e" && ok "$c -nope: usage, exit 1" || fail "$c -nope: exit $RCODE, $(head -3 "$TMP/e")"
done
run kv put -flags=abc k v
[ "$RCODE" = 1 ] && [ "$(head -1 "$TMP/e")" = 'invalid value "abc" for flag -flags: parse error' ] && ok "bad -flags value" || fail "bad -flags: $(head -1 "$TMP/e")"
run kv
[ "$RCODE" = 1 ] && grep -q '^Usage: conclave kv <subcommand>' "$TMP/e" && ok "bare kv: usage, exit 1" || fail "bare kv: exit $RCODE"
run operator raft
[ "$RCODE" = 1 ] && grep -q '^Usage: conclave operator raft <subcommand>' "$TMP/e" && ok "bare operator raft: usage, exit 1" || fail "bare operator raft: exit $RCODE"
run --help
assert_contains "$TMP/o" "    kv           Interact with the key-value store" "top-level usage lists kv"

# ---- blocking queries: ?index=N&wait=D returns when the index moves ----
curl -s -X PUT -d one "$URL/v1/kv/block/k" >/dev/null
IDX=$(curl -s -D - -o /dev/null "$URL/v1/kv/block/k" | tr -d '\r' | awk 'tolower($1)=="x-consul-index:" {print $2}')
t0=$(date +%s%N)
curl -s --max-time 15 "$URL/v1/kv/block/k?index=$IDX&wait=10s&raw" >"$TMP/blocked" &
BQ=$!
sleep 0.5
curl -s -X PUT -d two "$URL/v1/kv/block/k" >/dev/null
wait $BQ
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$(cat "$TMP/blocked")" = two ] && [ $ms -lt 3000 ] && ok "a blocking query wakes on the write (${ms} ms after it began, the write at 500 ms)" || fail "blocking query gave '$(cat "$TMP/blocked")' after $ms ms"
t0=$(date +%s%N)
out=$(curl -s --max-time 10 "$URL/v1/kv/block/k?index=$((IDX + 1000))&wait=1s&raw")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$out" = two ] && [ $ms -ge 1000 ] && [ $ms -lt 3000 ] && ok "without a change it answers after the wait (${ms} ms for wait=1s)" || fail "wait=1s answered '$out' after $ms ms"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/kv/block/k?index=x")" = 400 ] && ok "bad index: 400" || fail "bad index not 400"
[ "$(curl -s "$URL/v1/kv/block/k?index=1&wait=soon")" = "Invalid wait time" ] && ok "bad wait: Invalid wait time" || fail "bad wait text"

# ---- garbage on the server port: the connection closes, the agent stays ----
SP=$((P + 1))
curl -s -X PUT -d still "$URL/v1/kv/garbage/check" >/dev/null
python3 - "$IP" "$SP" <<'PY'
import socket, sys
ip, port = sys.argv[1], int(sys.argv[2])
for payload in (b"\x07junk",                              # unknown connection type
                b"\x01" + b"\xff\xff\xff\xff" + b"x",       # frame length over the limit
                b"\x01\x00\x00\x00\x05\x93\x01\x02\x03\xc1",  # msgpack that is not a message
                b"\x00\x00\x00\x00\x03\xa1xy"):             # a broken RPC request
    s = socket.create_connection((ip, port), timeout=2)
    s.sendall(payload)
    try:
        s.settimeout(2)
        s.recv(100)   # the agent closes the connection: EOF
    except OSError:
        pass
    s.close()
PY
alive $A && ok "garbage on the server port did not kill the agent" || fail "agent died on garbage"
[ "$(curl -s "$URL/v1/kv/garbage/check?raw")" = still ] && ok "and it still answers" || fail "agent stopped answering after garbage"
for m in "failed to accept connection" "failed to read frame, closing connection" \
         "failed to decode incoming command, closing connection" "failed to decode RPC request, closing connection"; do
  grep -q "agent.server.raft: $m: peer=127\.[0-9.]*:[0-9]* error=" "$TMP/agent.out" && ok "warning names the peer: $m" || fail "no warning '$m'"
done

# ---- clean exit ----
kill -TERM $A
wait_exit $A 15
[ "$RC" = 0 ] && ok "SIGTERM: exit 0" || { fail "SIGTERM: exit $RC"; tail -20 "$TMP/agent.out" >&2; }
finish
