#!/usr/bin/env bash
# The web UI in headless Chromium, run inside a node's namespace against the
# seed's two servers (dc1.yaml under a name of our own):
# - the header names the leader the API reports (/v1/status/leader mapped to a
#   node by /v1/operator/raft/configuration), the nodes view lists both servers
#   with passing health, the services view the consul service and a registered
#   one, the KV views a key written through the API, the Raft view the leader;
# - the KV editor: a key created through the form, edited and saved, a save
#   refused because someone else changed the key first, a delete;
# - with node3_211 killed the other server has no quorum and no leader: the
#   header says so and the API's 500 "No cluster leader" is shown in the
#   error bar, not swallowed;
# - the style sheet applies (computed colours of the header and a badge);
#   screenshots of the nodes, services, KV and Raft views (size, not blank);
#   UPDATE_DOCS_IMG=1 copies them to docs/img/ui-*.png.
# One Chromium inside node2_201's namespace does it all, driven by ui_driver.py
# (DevTools protocol on a pipe), so the test pays Chromium's start-up once. The HTTP side (redirects,
# content types, ui=false) is tests/cli/test_ui.sh.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DRIVER="$ROOT/tests/integration/ui_driver.py"

CHROMIUM=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$CHROMIUM" ] || { echo "SKIP: chromium is not installed (ci/deps.sh installs it)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl missing"; exit 77; }

T="ui$$"; TOPOS+=("$T")
# Chromium must not touch the caller's profile or home; as root it needs --no-sandbox.
export HOME="$TMP/home"
mkdir -p "$HOME"

ip_of() { case $1 in node2_201) echo 51.6.196.201 ;; node3_211) echo 51.6.196.211 ;; esac; }
api() { # NODE METHOD PATH [BODY [CURL ARGS...]]: the answer of NODE's agent
  local n=$1 m=$2 p=$3 d=${4-}; shift 3; shift $(($# > 0))
  "$HARNESS" -t "$T" exec "$n" -- curl -s --max-time 12 -X "$m" ${d:+--data-binary "$d"} "$@" "http://$(ip_of "$n"):8500$p"
}
browse() { # NODE STEPS [DRIVER OPTIONS]: one Chromium in NODE's namespace walks STEPS
  local n=$1 steps=$2; shift 2
  "$HARNESS" -t "$T" exec "$n" -- timeout 60 python3 "$DRIVER" "$CHROMIUM" "$TMP/profile-$n" \
    "http://$(ip_of "$n"):8500" "$steps" "$@"
}
has() { # NAME NEEDLE WHAT: NEEDLE is in the DOM dump $TMP/NAME.html
  if [ -s "$TMP/$1.html" ]; then assert_contains "$TMP/$1.html" "$2" "$3"; else fail "$3: no DOM dump $1"; fi
}

sed -e "s/^name: dc1/name: $T/" "$ROOT/topologies/dc1.yaml" >"$TMP/dc1.yaml"
"$HARNESS" up "$TMP/dc1.yaml" >"$TMP/up.out" 2>&1 || { fail "up of dc1"; cat "$TMP/up.out" >&2; finish; }
check_root_ns "after up"

real_leader() {
  api node2_201 GET /v1/operator/raft/configuration | python3 -c 'import json, sys
lead = [s["Node"] for s in json.load(sys.stdin)["Servers"] if s["Leader"]]
if len(lead) != 1:
    sys.exit(1)
print(lead[0])' 2>/dev/null
}
wait_for 20 real_leader || { fail "no leader in the Raft configuration"; finish; }
LEADER=$(real_leader)
ADDR=$(api node2_201 GET /v1/status/leader | tr -d '"')
[ "$ADDR" = "$(ip_of "$LEADER"):8300" ] && ok "the leader is $LEADER ($ADDR)" \
  || fail "leader '$LEADER' and /v1/status/leader '$ADDR' disagree"
other=node2_201; [ "$LEADER" = node2_201 ] && other=node3_211
both_passing() {
  api node2_201 GET /v1/health/state/passing | python3 -c 'import json, sys
j = json.load(sys.stdin)
sys.exit(0 if {c["Node"] for c in j if c["CheckID"] == "serfHealth"} == {"node2_201", "node3_211"} else 1)'
}
wait_for 15 both_passing && ok "serfHealth passing on both nodes" || fail "serfHealth not passing on both nodes"
[ "$(api node2_201 PUT /v1/kv/ui-test/hello 'hello from test_ui')" = true ] \
  && [ "$(api node2_201 PUT /v1/kv/ui-test/conf/port 8080)" = true ] && ok "KV keys written through the API" || fail "KV writes"
REG1='{"Node":"web-1","Address":"10.9.0.1","Service":{"Service":"web","Tags":["v1"],"Port":80},"Check":{"CheckID":"web-ok","Name":"web alive","Status":"passing","ServiceID":"web"}}'
REG2='{"Node":"web-2","Address":"10.9.0.2","Service":{"Service":"web","Tags":["v2"],"Port":80},"Check":{"CheckID":"web-ok","Name":"web alive","Status":"critical","ServiceID":"web","Output":"connection refused"}}'
[ "$(api node2_201 PUT /v1/catalog/register "$REG1")" = true ] && [ "$(api node2_201 PUT /v1/catalog/register "$REG2")" = true ] \
  && ok "service web registered on web-1 (passing) and web-2 (critical)" || fail "catalog register"
loc=$(api node2_201 GET / '' -o /dev/null -w '%{http_code} %{redirect_url}')
[ "$loc" = "301 http://51.6.196.201:8500/ui/" ] && ok "GET / redirects to /ui/" || fail "GET / gave '$loc'"

# ---- the views and the KV editor; then the driver waits while the test
# takes the cluster's leader away, and loads the page again ----
cat >"$TMP/steps" <<EOF
goto /ui/#/nodes
wait document.getElementById('leader').dataset.leader && document.querySelectorAll('#nodes tr[data-node]').length >= 4
wait getComputedStyle(document.querySelector('header.top')).backgroundColor === 'rgb(24, 33, 47)' && getComputedStyle(document.querySelector('#nodes .badge.passing')).color === 'rgb(30, 142, 62)'
dump $TMP/nodes.html
shot $TMP/ui-nodes.png
hash #/services
wait document.querySelector('tr[data-service="web"]')
dump $TMP/services.html
shot $TMP/ui-services.png
hash #/kv/ui-test/
wait document.querySelector('tr[data-key="ui-test/hello"]')
dump $TMP/kv.html
shot $TMP/ui-kv.png
hash #/kv/ui-test/hello
wait document.getElementById('kv-value')
dump $TMP/key.html
hash #/raft
wait document.querySelector('tr[data-server]')
dump $TMP/raft.html
shot $TMP/ui-raft.png
# create through the form, edit and save, a stale save, delete
hash #/kv/ui-test/
wait document.querySelector('tr[data-key="ui-test/hello"]')
eval (() => { const f = document.getElementById('kv-create'); f.elements.key.value = 'made/by-ui'; f.elements.value.value = 'typed in the UI'; f.requestSubmit(); })()
wait location.hash === '#/kv/ui-test/made/by-ui' && document.getElementById('kv-value')
dump $TMP/created.html
eval document.getElementById('kv-value').value = 'edited in the UI'; document.getElementById('kv-save').click()
wait (document.getElementById('kv-msg') || {}).textContent === 'Saved.'
dump $TMP/saved.html
eval (async () => { document.getElementById('kv-value').value = 'stale edit'; await fetch('/v1/kv/ui-test/made/by-ui', { method: 'PUT', body: 'changed elsewhere' }); document.getElementById('kv-save').click(); })()
wait /Not saved/.test((document.getElementById('kv-msg') || {}).textContent)
dump $TMP/stale.html
eval window.confirm = () => true; document.getElementById('kv-delete').click()
wait location.hash === '#/kv/ui-test/made/' && document.querySelector('#kv-list p.empty')
dump $TMP/deleted.html
mark $TMP/phase1.done
await $TMP/noleader.go
goto /ui/#/nodes
wait ['/v1/catalog/nodes: 500', '/v1/health/state/any: 500', '/v1/operator/raft/configuration: 500'].every((e) => document.getElementById('errors').textContent.includes(e))
dump $TMP/noleader.html
EOF
start=$SECONDS
# KV answers 404 for a missing key (after the delete), and without a leader reads fail with 500
browse node2_201 "$TMP/steps" --strict --wait-timeout 20 \
  --ignore-log '404 (Not Found) http://51.6.196.201:8500/v1/kv/' \
  --ignore-log '500 (Internal Server Error) http://51.6.196.201:8500/v1/' >"$TMP/driver.out" 2>&1 &
DRV=$!; PIDS+=($DRV)
wait_for 40 test -e "$TMP/phase1.done" || fail "the walk-through did not finish"
echo "walk-through: $((SECONDS - start)) s"
[ "$(api node2_201 GET /v1/kv/ui-test/made/by-ui '' -o /dev/null -w '%{http_code}')" = 404 ] \
  && ok "API: the key deleted in the UI is gone" || fail "API: the key deleted in the UI is still there"

# ---- no leader: kill node3_211; node2_201, one server of two, has no
# quorum, so no leader. Default-mode reads wait for one (7 s), then fail with 500.
"$HARNESS" -t "$T" kill node3_211 >/dev/null 2>&1 || fail "kill node3_211"
no_leader() { [ "$(api node2_201 GET /v1/status/leader)" = '""' ]; }
wait_for 15 no_leader && ok "node2_201 has no leader: /v1/status/leader is \"\"" || fail "still a leader after killing node3_211"
touch "$TMP/noleader.go"
start=$SECONDS
# (while the page waits for its 500s, check what the walk-through saw)
has nodes "data-leader=\"$LEADER\" data-leader-addr=\"$ADDR\"" "the header shows the real leader, $LEADER"
has nodes 'data-datacenter="dc1"' "the header shows the datacenter"
has nodes "<tr data-node=\"$LEADER\" data-health=\"passing\" data-role=\"leader\">" "nodes: $LEADER passing, leader"
has nodes "<tr data-node=\"$other\" data-health=\"passing\" data-role=\"voter\">" "nodes: $other passing, voter"
has nodes '<tr data-node="web-1" data-health="passing" data-role="external">' "nodes: web-1 (catalog only) passing"
has nodes '<tr data-node="web-2" data-health="critical" data-role="external">' "nodes: web-2 (catalog only) critical"
has nodes '3 healthy' "nodes: the summary counts 3 healthy"
has services '<tr data-service="consul" data-health="passing" data-instances="2">' "services: consul, 2 passing instances"
has services '<tr data-service="web" data-health="critical" data-instances="2">' "services: web, 2 instances, critical (its worst)"
has kv '<tr data-key="ui-test/hello" data-kind="key">' "KV folder lists the key written through the API"
has kv '<tr data-key="ui-test/conf/" data-kind="folder">' "KV folder lists the sub-folder"
has key '<textarea id="kv-value" data-key="ui-test/hello" rows="12" spellcheck="false">hello from test_ui</textarea>' \
  "KV key view holds the value"
has raft "<tr data-server=\"$LEADER\" data-leader=\"true\" data-voter=\"true\">" "Raft view: $LEADER is the leader"
has raft "<tr data-server=\"$other\" data-leader=\"false\" data-voter=\"true\">" "Raft view: $other is a voter"
has created '<textarea id="kv-value" data-key="ui-test/made/by-ui" rows="12" spellcheck="false">typed in the UI</textarea>' \
  "KV: a key created through the form opens in the editor"
has saved '<textarea id="kv-value" data-key="ui-test/made/by-ui" rows="12" spellcheck="false">edited in the UI</textarea>' \
  "KV: the saved value is what the server now holds"
has stale 'Not saved: the key was changed since it was loaded.' "KV: a stale save is refused and says why"
has deleted 'This folder is empty.' "KV: after the delete its folder is empty"
for n in nodes services kv key raft created saved stale deleted; do
  [ -s "$TMP/$n.html" ] && ! grep -q 'id="errors" class="errors" hidden="" data-errors="0"' "$TMP/$n.html" \
    && fail "view $n shows an error: $(grep -o '<div class="error">[^<]*' "$TMP/$n.html")"
done

# ---- the screenshots: PNGs of the window's size, not blank (a blank page
# compresses to a few KB; the style sheet's colours were checked in the page) ----
python3 - "$TMP" nodes services kv raft >"$TMP/png.out" 2>&1 <<'PY'
import struct, sys
for v in sys.argv[2:]:
    try:
        data = open("%s/ui-%s.png" % (sys.argv[1], v), "rb").read()
    except OSError as e:
        print("FAIL: screenshot ui-%s.png: %s" % (v, e.strerror))
        continue
    w, h = struct.unpack(">II", data[16:24]) if data[12:16] == b"IHDR" else (0, 0)
    good = data[:8] == b"\x89PNG\r\n\x1a\n" and (w, h) == (1280, 720) and len(data) > 20000
    print("%s: screenshot ui-%s.png: %dx%d, %d bytes%s" % ("ok" if good else "FAIL", v, w, h, len(data),
          "" if good else " (want a 1280x720 PNG of more than 20000 bytes)"))
PY
grep '^ok' "$TMP/png.out"
while read -r line; do fail "${line#FAIL: }"; done < <(grep -v '^ok' "$TMP/png.out")
if [ "${UPDATE_DOCS_IMG:-0}" = 1 ] && ! grep -qv '^ok' "$TMP/png.out"; then
  mkdir -p "$ROOT/docs/img"
  for v in nodes services kv raft; do cp "$TMP/ui-$v.png" "$ROOT/docs/img/ui-$v.png"; done
  ok "updated docs/img/ui-{nodes,services,kv,raft}.png"
fi

# ---- the no-leader page ----
wait_exit "$DRV" 40
if [ "$RC" = 0 ]; then
  ok "Chromium walked $(grep -c '^ok' "$TMP/driver.out") steps: no script error, no unexpected console or load error"
else
  fail "the walk-through (exit $RC):"; grep -v '^ok' "$TMP/driver.out" >&2
fi
echo "no-leader page: $((SECONDS - start)) s"
has noleader 'data-leader="" data-leader-addr=""><span class="noleader">no leader</span>' "the header says there is no leader"
has noleader '<div class="error">GET /v1/operator/raft/configuration: 500 No cluster leader</div>' \
  "the API's 500 No cluster leader is shown"
has noleader '<div class="error">GET /v1/catalog/nodes: 500 No cluster leader</div>' "and the nodes view's own"
has noleader '<div class="error">GET /v1/health/state/any: 500 No cluster leader</div>' \
  "and both of the nodes view's requests, not only the first to fail"

check_root_ns "at the end"
finish
