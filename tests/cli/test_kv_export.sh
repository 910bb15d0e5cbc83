#!/usr/bin/env bash
# `conclave kv export|import` between two real single-server agents
# (loopback): Consul's JSON (tab-indented, Go's escaping), a round trip into
# a fresh agent that keeps binary values and flags byte for byte, -prefix,
# stdin and @file input, and bad input refused with Consul's messages and
# nothing written (every entry is checked before the first write).
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl is not installed (ci/deps.sh installs it)"; exit 77; }

SRC=$(pick_loopback); DST=$(pick_loopback)
while [ "$DST" = "$SRC" ]; do DST=$(pick_loopback); done
P=$((20000 + RANDOM % 20000))
for n in src dst; do
  ip=$SRC; [ $n = dst ] && ip=$DST
  cat >"$TMP/$n.json" <<JSON
{
  "datacenter": "dc1", "data_dir": "$TMP/$n", "log_level": "INFO", "node_name": "$n",
  "server": true, "bootstrap": true,
  "bind_addr": "$ip", "client_addr": "$ip", "advertise_addr": "$ip",
  "ports": {"http": $P, "server": $((P + 1)), "serf_lan": $((P + 2)), "serf_wan": $((P + 3)), "dns": -1}
}
JSON
  "$BIN" agent -config-file="$TMP/$n.json" >"$TMP/$n.out" 2>&1 &
  PIDS+=($!)
done
has_leader() { local l; l=$(curl -s --max-time 1 "http://$1:$P/v1/status/leader"); [ -n "$l" ] && [ "$l" != '""' ]; }
for ip in "$SRC" "$DST"; do
  wait_for 20 has_leader "$ip" || { fail "no leader on $ip"; cat "$TMP"/*.out >&2; finish; }
done

unset CONSUL_HTTP_ADDR CONCLAVE_HTTP_ADDR
run() { "$BIN" "$@" >"$TMP/o" 2>"$TMP/e"; RCODE=$?; }
expect() { # CODE STDOUT STDERR WHAT
  local bad=""
  [ "$RCODE" = "$1" ] || bad="exit $RCODE, want $1"
  [ "$(cat "$TMP/o")" = "$2" ] || bad="$bad; stdout '$(cat "$TMP/o")', want '$2'"
  [ "$(cat "$TMP/e")" = "$3" ] || bad="$bad; stderr '$(cat "$TMP/e")', want '$3'"
  if [ -z "$bad" ]; then ok "$4"; else fail "$4: ${bad#; }"; fi
}
S="-http-addr=$SRC:$P"; D="-http-addr=$DST:$P"

# ---- the source tree ----
printf 'a\000b\377c\n' >"$TMP/bin"
curl -s -X PUT --data-binary @"$TMP/bin" "http://$SRC:$P/v1/kv/app/blob?flags=42" >/dev/null
curl -s -X PUT -d 'text' "http://$SRC:$P/v1/kv/app/config/name" >/dev/null
curl -s -X PUT "http://$SRC:$P/v1/kv/app/empty" >/dev/null
curl -s -X PUT -d 'x' "http://$SRC:$P/v1/kv/app/%3Ctag%3E%26%22q%22?flags=4294967295" >/dev/null
curl -s -X PUT -d 'other' "http://$SRC:$P/v1/kv/elsewhere" >/dev/null
curl -s -X PUT -d 'u' "http://$SRC:$P/v1/kv/app/%C3%A9%E2%80%A8" >/dev/null   # é, U+2028

run kv export $S app
WANT=$(printf '[\n\t{\n\t\t"key": "app/\\u003ctag\\u003e\\u0026\\"q\\"",\n\t\t"flags": 4294967295,\n\t\t"value": "eA=="\n\t},\n\t{\n\t\t"key": "app/blob",\n\t\t"flags": 42,\n\t\t"value": "YQBi/2MK"\n\t},\n\t{\n\t\t"key": "app/config/name",\n\t\t"flags": 0,\n\t\t"value": "dGV4dA=="\n\t},\n\t{\n\t\t"key": "app/empty",\n\t\t"flags": 0,\n\t\t"value": ""\n\t},\n\t{\n\t\t"key": "app/\xc3\xa9\\u2028",\n\t\t"flags": 0,\n\t\t"value": "dQ=="\n\t}\n]')
expect 0 "$WANT" "" "kv export: Consul's entries, tab-indented, Go's escaping"
cp "$TMP/o" "$TMP/app.json"
run kv export $S /app
expect 0 "$WANT" "" "kv export strips a leading /"
run kv export $S nothing/here
expect 0 "[]" "" "kv export of an empty prefix"
run kv export $S
[ "$RCODE" = 0 ] && [ "$(grep -c '"key"' "$TMP/o")" = 6 ] && ok "kv export without a prefix: the whole store" || fail "export all: exit $RCODE"
run kv export -stale $S app
expect 0 "$WANT" "" "kv export -stale"

# ---- round trip into the fresh agent ----
run kv import $D @"$TMP/app.json"
expect 0 "$(printf 'Imported: app/<tag>&"q"\nImported: app/blob\nImported: app/config/name\nImported: app/empty\nImported: app/\xc3\xa9\xe2\x80\xa8')" "" "kv import @file"
run kv export $D app
expect 0 "$WANT" "" "the fresh agent exports the same tree"
curl -s "http://$DST:$P/v1/kv/app/blob?raw" >"$TMP/raw"
cmp -s "$TMP/bin" "$TMP/raw" && ok "binary value byte for byte" || fail "binary value: $(od -c "$TMP/raw")"
curl -s "http://$DST:$P/v1/kv/app/blob" | grep -q '"Flags":42' && ok "flags kept" || fail "flags lost"
"$BIN" kv import $D -prefix=copy/ - <"$TMP/app.json" >"$TMP/o" 2>"$TMP/e"; RCODE=$?
expect 0 "$(printf 'Imported: copy/app/<tag>&"q"\nImported: copy/app/blob\nImported: copy/app/config/name\nImported: copy/app/empty\nImported: copy/app/\xc3\xa9\xe2\x80\xa8')" "" "kv import -prefix from stdin"
[ "$(curl -s "http://$DST:$P/v1/kv/copy/app/config/name?raw")" = text ] && ok "-prefix keys hold the values" || fail "-prefix values"
run kv import $D '[{"key": "inline", "flags": 7, "value": "aGk="}]'
expect 0 "Imported: inline" "" "kv import with the JSON as the argument"
[ "$(curl -s "http://$DST:$P/v1/kv/inline?raw")" = hi ] && ok "inline value" || fail "inline value"

# ---- bad input: an error naming what is wrong, and nothing written ----
before=$(curl -s "http://$DST:$P/v1/kv/?keys" | tr -d '\n')
run kv import $D '[{"key": "new/1", "value": "aGk="}, {"key": "new/2", "value": "a=A="}]'
expect 1 "" "Error base 64 decoding value for key new/2: illegal base64 data at input byte 1" "bad base64 in the second entry"
run kv import $D '[{"key": "new/1", "value": "aGk="}, {"key": "new/2", "flags": -1}]'
expect 1 "" "Cannot unmarshal data: entry 2 has \"flags\" that is not an unsigned integer" "negative flags"
run kv import $D '[{"key": "new/1"}, {"value": "aGk="}]'
expect 1 "" "Cannot unmarshal data: entry 2 has no \"key\" string" "an entry without a key"
run kv import $D '[{"key": "new/1", "value": 5}]'
expect 1 "" "Cannot unmarshal data: entry 1 has a \"value\" that is not a base64 string" "a value that is not a string"
run kv import $D '{"key": "new/1", "value": "aGk="}'
expect 1 "" "Cannot unmarshal data: expected a JSON array of {\"key\", \"flags\", \"value\"} entries" "an object instead of an array"
run kv import $D '[{"key": "new/1", "value": "aGk="}'
expect 1 "" "Cannot unmarshal data: unexpected end of JSON input" "truncated JSON"
run kv import $D '[{"key": "new/1", "value": "aGk="}},]'
expect 1 "" "Cannot unmarshal data: invalid JSON at byte 34" "malformed JSON names the byte"
run kv import $D '[{"key": "/new/1"}]'
expect 1 "" "Error! Invalid key. Key must not begin with a '/': /new/1" "a key starting with /"
run kv import $D
expect 1 "" "Error! Missing DATA argument" "no DATA"
run kv import $D a b
expect 1 "" "Error! Too many arguments (expected 1, got 2)" "two DATA arguments"
run kv import $D ''
expect 1 "" "Error! Empty DATA argument" "empty DATA"
run kv import $D @"$TMP/missing.json"
expect 1 "" "Error! Failed to read file: open $TMP/missing.json: no such file or directory" "a missing file"
[ "$(curl -s "http://$DST:$P/v1/kv/?keys" | tr -d '\n')" = "$before" ] && ok "refused imports wrote nothing" \
  || fail "keys changed: $(curl -s "http://$DST:$P/v1/kv/?keys")"
run kv import $D '[]'
expect 0 "" "" "an empty array imports nothing"

# ---- errors from the agent ----
run kv export -http-addr=127.0.0.1:1 app
[ "$RCODE" = 1 ] && grep -qx "Error querying Consul agent: Get http://127.0.0.1:1/v1/kv/app?recurse=: dial tcp 127.0.0.1:1: connect: connection refused" "$TMP/e" \
  && ok "export: connection error in Go's words" || fail "export unreachable: exit $RCODE, $(cat "$TMP/e")"
run kv import -http-addr=127.0.0.1:1 '[{"key": "k"}]'
[ "$RCODE" = 1 ] && grep -q "^Error! Failed writing data for key k: Put http://127.0.0.1:1/v1/kv/k: dial tcp" "$TMP/e" \
  && ok "import: the failed write names the key" || fail "import unreachable: exit $RCODE, $(cat "$TMP/e")"
for c in export import; do
  run kv $c -h
  [ "$RCODE" = 0 ] && head -1 "$TMP/o" | grep -qx "Usage: conclave kv $c.*" && ok "kv $c -h" || fail "kv $c -h: exit $RCODE"
done
run kv export a b
expect 1 "" "Too many arguments (expected 1, got 2)" "kv export with two prefixes"
finish
