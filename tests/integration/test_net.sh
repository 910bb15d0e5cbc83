#!/usr/bin/env bash
# Two namespaces exchange real TCP and UDP traffic through the fabric bridge;
# `link down` stops it, `link up` restores it; process kill/start; clean down.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }

cat >"$TMP/echo.py" <<'PY'
import socket, threading, sys
addr = sys.argv[1]
def tcp():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 9000)); s.listen(16)
    while True:
        c, _ = s.accept(); c.sendall(c.recv(100).upper()); c.close()
threading.Thread(target=tcp, daemon=True).start()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((addr, 9001))
while True:
    d, peer = u.recvfrom(100); u.sendto(d.upper(), peer)
PY
cat >"$TMP/probe.py" <<'PY'
import socket, sys
addr, proto = sys.argv[1], sys.argv[2]
try:
    if proto == "tcp":
        s = socket.create_connection((addr, 9000), timeout=1); s.sendall(b"ping"); r = s.recv(100)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
        s.sendto(b"ping", (addr, 9001)); r, _ = s.recvfrom(100)
    sys.exit(0 if r == b"PING" else 1)
except OSError:
    sys.exit(1)
PY
cat >"$TMP/net.yaml" <<YAML
name: $TOPO
defaults:
  kind: command
networks:
  - name: lan
    subnet: 51.6.196.0/24
nodes:
  - name: srv
    addresses: { lan: 51.6.196.201 }
    command: [python3, "$TMP/echo.py", "\${address}"]
  - name: cli
    addresses: { lan: 51.6.196.211 }
    command: [sleep, "600"]
YAML
check_root_ns "before up"
"$HARNESS" up "$TMP/net.yaml" >"$TMP/up.out" 2>&1 || { fail "harness up failed"; cat "$TMP/up.out" >&2; finish; }
ok "harness up"
assert_contains "$TMP/up.out" "network ready in" "up prints the network time"
check_root_ns "after up"
[ "$(leftover_ns "$TOPO")" = 3 ] && ok "three namespaces (fabric + 2 nodes)" || fail "expected 3 namespaces: $(ip netns list)"
ip -n "$TOPO-cli" -4 addr show eth0 | grep -q '51.6.196.211/24' && ok "address inside the node namespace" || fail "cli has no address"
ip link show srv >/dev/null 2>&1 && fail "a topology link is in the root namespace" || ok "no topology link in the root namespace"

probe() { "$HARNESS" -t "$TOPO" exec cli -- python3 "$TMP/probe.py" 51.6.196.201 "$1"; }
wait_for 10 probe tcp && ok "TCP through the bridge" || fail "TCP does not get through"
probe udp && ok "UDP through the bridge" || fail "UDP does not get through"

"$HARNESS" -t "$TOPO" link down srv >/dev/null || fail "link down failed"
probe tcp && fail "TCP still gets through with the link down" || ok "link down stops TCP"
probe udp && fail "UDP still gets through with the link down" || ok "link down stops UDP"
"$HARNESS" -t "$TOPO" link up srv >/dev/null || fail "link up failed"
wait_for 10 probe tcp && ok "link up restores TCP" || fail "TCP not restored"
probe udp && ok "link up restores UDP" || fail "UDP not restored"
check_root_ns "after link faults"

"$HARNESS" status "$TOPO" --json >"$TMP/status.json" || fail "status failed"
[ "$(grep -c '"state":\s*"running"' "$TMP/status.json")" = 2 ] && ok "status: both running" || { fail "status"; cat "$TMP/status.json" >&2; }
SRV_PID=$(python3 -c 'import json,sys; print([n["pid"] for n in json.load(open(sys.argv[1])) if n["node"]=="srv"][0])' "$TMP/status.json")
"$HARNESS" -t "$TOPO" kill srv >/dev/null || fail "kill failed"
alive "$SRV_PID" && fail "srv process survived kill" || ok "kill ends the process"
probe tcp && fail "TCP answered with the server killed" || ok "killed server does not answer"
"$HARNESS" -t "$TOPO" start srv >/dev/null || fail "start failed"
wait_for 10 probe tcp && ok "start brings it back" || fail "restarted server does not answer"
NEW_PID=$("$HARNESS" status "$TOPO" --json | python3 -c 'import json,sys; print([n["pid"] for n in json.load(sys.stdin) if n["node"]=="srv"][0])')
"$HARNESS" -t "$TOPO" logs srv >/dev/null && ok "logs" || fail "logs failed"

"$HARNESS" down "$TOPO" >"$TMP/down.out" 2>&1 || fail "down failed"
assert_contains "$TMP/down.out" "2 processes" "down reports the processes it removed"
[ "$(leftover_ns "$TOPO")" = 0 ] && ok "no namespace left" || fail "namespaces left: $(ip netns list)"
alive "$NEW_PID" && fail "a daemon survived down" || ok "no process left"
[ -d "$CONCLAVE_HARNESS_DIR/$TOPO" ] && fail "run directory left" || ok "run directory removed"
"$HARNESS" down "$TOPO" >"$TMP/down2.out" 2>&1 && ok "down is idempotent" || fail "second down failed"
check_root_ns "after down"
finish
