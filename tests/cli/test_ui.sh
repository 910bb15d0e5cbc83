#!/usr/bin/env bash
# The web UI over HTTP on loopback agents: with "ui": true, / and /ui answer
# 301 to /ui/ and /ui/ serves the embedded files byte for byte with their
# content types; with "ui": false (Consul's default), / says what it is and
# /ui/ is 404. The browser side is tests/integration/test_ui.sh.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "curl is not installed (ci/deps.sh installs it)"; exit 77; }
UI_DIR=$(cd "$(dirname "$0")/../../daemon/ui" && pwd)

IP=$(pick_loopback)
P=$((20000 + RANDOM % 20000))
# agent NAME PORT UI: starts a client agent (no servers needed to serve files)
agent() {
  cat >"$TMP/$1.json" <<JSON
{
  "datacenter": "dc1", "data_dir": "$TMP/data-$1", "log_level": "INFO", "node_name": "$1",
  "server": false, "ui": $3,
  "bind_addr": "$IP", "client_addr": "$IP", "advertise_addr": "$IP",
  "ports": {"http": $2, "server": $(($2 + 1)), "serf_lan": $(($2 + 2)), "serf_wan": $(($2 + 3)), "dns": -1}
}
JSON
  "$BIN" agent -config-file="$TMP/$1.json" >"$TMP/$1.out" 2>&1 &
  PIDS+=($!)
}
agent on "$P" true
agent off "$((P + 10))" false
ON="http://$IP:$P"
OFF="http://$IP:$((P + 10))"
up() { curl -sf --max-time 1 -o /dev/null "$1/v1/agent/self"; }
wait_for 10 up "$ON" && wait_for 10 up "$OFF" || { fail "agents did not answer"; cat "$TMP/on.out" "$TMP/off.out" >&2; finish; }

# get URL [curl args]: status in $TMP/code, headers in $TMP/h (lower-case names), body in $TMP/b
get() {
  local url=$1; shift
  curl -s --max-time 5 -D "$TMP/h.raw" -o "$TMP/b" -w '%{http_code}' "$@" "$url" >"$TMP/code"
  tr -d '\r' <"$TMP/h.raw" | awk -F': ' 'NF > 1 { printf "%s: %s\n", tolower($1), $2 }' >"$TMP/h"
}
hdr() { awk -F': ' -v n="$1" '$1 == n { print $2 }' "$TMP/h"; }
expect() { # STATUS what
  [ "$(cat "$TMP/code")" = "$1" ] && ok "$2" || { fail "$2: status $(cat "$TMP/code"), want $1"; cat "$TMP/h" "$TMP/b" >&2; }
}

# ---- ui: true ----
get "$ON/"
expect 301 "GET / with ui on: 301"
[ "$(hdr location)" = /ui/ ] && ok "Location: /ui/" || fail "Location '$(hdr location)'"
get "$ON/ui"
[ "$(cat "$TMP/code") $(hdr location)" = "301 /ui/" ] && ok "GET /ui: 301 to /ui/" || fail "/ui: $(cat "$TMP/code") '$(hdr location)'"
get "$ON/" -L
cmp -s "$TMP/b" "$UI_DIR/index.html" && ok "following the redirect from / ends on the page" || fail "curl -L / did not give index.html"

# serve PATH FILE TYPE: the asset is the file, byte for byte, with its type and headers
serve() {
  get "$ON$1"
  if [ "$(cat "$TMP/code")" = 200 ] && cmp -s "$TMP/b" "$UI_DIR/$2" && [ "$(hdr content-type)" = "$3" ]; then
    ok "GET $1: 200, $3, $(wc -c <"$TMP/b") bytes = daemon/ui/$2"
  else
    fail "GET $1: status $(cat "$TMP/code"), type '$(hdr content-type)', $(wc -c <"$TMP/b") bytes"
  fi
}
serve /ui/ index.html "text/html; charset=utf-8"
[ "$(hdr content-security-policy)" = "default-src 'self'; img-src 'self' data:" ] \
  && ok "CSP: the page may only load from the agent" || fail "CSP '$(hdr content-security-policy)'"
[ "$(hdr x-content-type-options)" = nosniff ] && ok "X-Content-Type-Options: nosniff" || fail "nosniff missing"
serve /ui/index.html index.html "text/html; charset=utf-8"
serve /ui/app.js app.js "text/javascript; charset=utf-8"
serve /ui/style.css style.css "text/css; charset=utf-8"
get "$ON/ui/app.js" -I
body=$(curl -s --max-time 5 -I -o /dev/null -w '%{size_download}' "$ON/ui/app.js")
[ "$(cat "$TMP/code")" = 200 ] && [ "$(hdr content-length)" = "$(wc -c <"$UI_DIR/app.js")" ] && [ "$body" = 0 ] \
  && ok "HEAD /ui/app.js: 200, Content-Length, no body" || fail "HEAD: $(cat "$TMP/code") length '$(hdr content-length)', $body body bytes"
for p in /ui/nope.js /ui/ui.c /ui/sub/app.js /ui/..%2fui.h /uix /ui.js; do
  get "$ON$p"
  expect 404 "GET $p: 404"
done
get "$ON/ui/" -X POST
[ "$(cat "$TMP/code")" = 405 ] && [ "$(hdr allow)" = "OPTIONS,GET,HEAD" ] \
  && ok "POST /ui/: 405, Allow: OPTIONS,GET,HEAD" || fail "POST /ui/: $(cat "$TMP/code") allow '$(hdr allow)'"
get "$ON/v1/agent/self"
grep -q '"UIEnabled":true' "$TMP/b" && ok "agent/self: UIEnabled true" || fail "UIEnabled not true"

# ---- ui: false ----
get "$OFF/"
[ "$(cat "$TMP/code")" = 200 ] && [ "$(cat "$TMP/b")" = "Consul Agent" ] && [ -z "$(hdr location)" ] \
  && ok "GET / with ui off: 200 'Consul Agent', no redirect" || fail "GET / with ui off: $(cat "$TMP/code") '$(cat "$TMP/b")'"
for p in /ui /ui/ /ui/index.html /ui/app.js; do
  get "$OFF$p"
  expect 404 "ui off: GET $p is 404"
done
get "$OFF/v1/agent/self"
grep -q '"UIEnabled":false' "$TMP/b" && ok "agent/self: UIEnabled false" || fail "UIEnabled not false"
get "$OFF/nope"
expect 404 "GET /nope: 404 (only / itself is the index)"

alive "${PIDS[0]}" && alive "${PIDS[1]}" && ok "both agents still running" || fail "an agent exited"
finish
