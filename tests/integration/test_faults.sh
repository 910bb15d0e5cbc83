#!/usr/bin/env bash
# Network faults act on real packets: partitions (TCP and UDP, both ways and
# one way), heal, loss, delay, duplication, rate limit, clear; the delayer is
# journaled and `harness down` removes it with everything else. The root
# namespace's nftables ruleset must not change.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
command -v nft >/dev/null && NFT=1 || NFT=0

# Every node runs this server: TCP echo 9000, UDP echo 9001, TCP byte counter
# 9002 (counts what arrives in the first 0.5 s, then answers the count).
cat >"$TMP/srv.py" <<'PY'
import socket, threading, sys, time
addr = sys.argv[1]
def listen(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(16); return s
def echo(s):
    while True:
        c, _ = s.accept(); c.settimeout(2)
        try: c.sendall(c.recv(100).upper())
        except OSError: pass
        c.close()
def count_one(c):
    n, t0 = 0, time.monotonic(); c.settimeout(0.1)
    while time.monotonic() - t0 < 0.5:
        try:
            d = c.recv(65536)
            if not d: break
            n += len(d)
        except socket.timeout: pass
    try: c.sendall(b"%d\n" % n)
    except OSError: pass
    c.close()
def counter(s):
    while True:
        c, _ = s.accept(); threading.Thread(target=count_one, args=(c,), daemon=True).start()
threading.Thread(target=echo, args=(listen(9000),), daemon=True).start()
threading.Thread(target=counter, args=(listen(9002),), daemon=True).start()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((addr, 9001))
while True:
    d, peer = u.recvfrom(2000); u.sendto(d.upper(), peer)
PY
# Probes, run inside a node with `harness exec` (python3 starts slowly on a busy
# machine, so each call does several things).
cat >"$TMP/tool.py" <<'PY'
import socket, sys, time, select, threading
mode = sys.argv[1]
def udp():
    return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def probe(spec):             # "tcp:ADDR" / "udp:ADDR": does the echo answer within 1 s?
    proto, addr = spec.split(":")
    try:
        if proto == "tcp":
            s = socket.create_connection((addr, 9000), timeout=1); s.sendall(b"ping")
        else:
            s = udp(); s.settimeout(1); s.sendto(b"ping", (addr, 9001))
        return s.recv(100) == b"PING"
    except OSError:
        return False
if mode == "reach":          # reach SPEC...: prints 1/0 per probe (run in parallel)
    res = [None] * (len(sys.argv) - 2)
    def run(i): res[i] = probe(sys.argv[2 + i])
    ts = [threading.Thread(target=run, args=(i,)) for i in range(len(res))]
    [t.start() for t in ts]; [t.join() for t in ts]
    print(" ".join("1" if r else "0" for r in res)); sys.exit(0 if all(res) else 1)
if mode == "rtt":            # rtt N ADDR...: median UDP round trip in ms to each
    out = []
    for addr in sys.argv[3:]:
        s = udp(); s.settimeout(2); v = []
        for i in range(int(sys.argv[2])):
            t = time.monotonic(); s.sendto(b"r%d" % i, (addr, 9001))
            try:
                while s.recvfrom(100)[0] != b"R%d" % i: pass
                v.append((time.monotonic() - t) * 1000)
            except OSError: pass
        v.sort(); out.append("%.1f" % (v[len(v) // 2] if v else -1))
    print(" ".join(out))
if mode == "echoes":         # echoes ADDR N: "answers distinct inversions"
    addr, n = sys.argv[2], int(sys.argv[3]); s = udp(); seen = []
    def drain(t):            # read replies while sending: the socket buffer is small
        end = time.monotonic() + t
        while True:
            r, _, _ = select.select([s], [], [], max(0, end - time.monotonic()))
            if not r: return
            seen.append(int(s.recvfrom(100)[0][1:]))
    for i in range(n):
        try: s.sendto(b"e%d" % i, (addr, 9001))
        except OSError: pass
        drain(0.002)
    drain(0.5)
    print(len(seen), len(set(seen)), sum(1 for a, b in zip(seen, seen[1:]) if b < a))
if mode == "oneway":         # oneway OWN PEER: send 20 datagrams to PEER:9005 while
    own, peer = sys.argv[2], sys.argv[3]   # counting those arriving on OWN:9005
    r = udp(); r.bind((own, 9005)); r.settimeout(0.1); n = 0
    def blast():
        s = udp(); time.sleep(0.3)
        for i in range(20):
            try: s.sendto(b"b", (peer, 9005))
            except OSError: pass
            time.sleep(0.01)
    threading.Thread(target=blast, daemon=True).start()
    end = time.monotonic() + 1.2
    while time.monotonic() < end:
        try: r.recvfrom(100); n += 1
        except socket.timeout: pass
    print(n)
if mode == "tput":           # tput ADDR: bytes the counter received in 0.5 s
    s = socket.create_connection((sys.argv[2], 9002), timeout=3); s.setblocking(False)
    buf = b"x" * 65536; reply = b""; end = time.monotonic() + 5
    while time.monotonic() < end and not reply.endswith(b"\n"):
        r, w, _ = select.select([s], [s], [], 0.1)
        if r:
            d = s.recv(100)
            if not d: break
            reply += d
        elif w:
            try: s.send(buf)
            except BlockingIOError: pass
    print(int(reply or b"-1"))
PY
cat >"$TMP/faults.yaml" <<YAML
name: $TOPO
defaults:
  kind: command
networks:
  - name: lan
    subnet: 51.6.196.0/24
nodes:
  - name: na
    addresses: { lan: 51.6.196.201 }
    command: [python3, "$TMP/srv.py", "\${address}"]
  - name: nb
    addresses: { lan: 51.6.196.211 }
    command: [python3, "$TMP/srv.py", "\${address}"]
  - name: nc
    addresses: { lan: 51.6.196.221 }
    command: [python3, "$TMP/srv.py", "\${address}"]
YAML
A=51.6.196.201 B=51.6.196.211 C=51.6.196.221
ok() { echo "ok: $* [$((SECONDS - t0)) s]"; }
H() { "$HARNESS" -t "$TOPO" "$@"; }
T() { H exec "$1" -- python3 "$TMP/tool.py" "${@:2}"; }
t0=$SECONDS
[ $NFT = 1 ] && nft list ruleset >"$TMP/root-rules.before" 2>&1
check_root_ns "before up"
"$HARNESS" up "$TMP/faults.yaml" >"$TMP/up.out" 2>&1 || { fail "harness up failed"; cat "$TMP/up.out" >&2; finish; }
ok "harness up (3 nodes)"
wait_for 20 T na reach tcp:$B tcp:$C udp:$B && wait_for 10 T nb reach udp:$C && ok "TCP and UDP between nodes" || fail "no traffic before any fault"

# ---- bad arguments: exit 2 with a message naming the problem
H loss na 150 >/dev/null 2>"$TMP/err"; rc=$?
[ $rc = 2 ] && grep -q "PCT" "$TMP/err" && ok "loss 150: exit 2, names PCT" || fail "loss 150: rc $rc: $(cat "$TMP/err")"
H partition na >/dev/null 2>"$TMP/err"; rc=$?
[ $rc = 2 ] && grep -q "two groups" "$TMP/err" && ok "partition with one group: exit 2" || fail "partition na: rc $rc"
H delay nx 10 >/dev/null 2>"$TMP/err"; rc=$?
[ $rc = 2 ] && grep -q '"nx"' "$TMP/err" && ok "unknown node: exit 2, names it" || fail "delay nx: rc $rc: $(cat "$TMP/err")"
H rate na fast >/dev/null 2>"$TMP/err"; rc=$?
[ $rc = 2 ] && grep -q "RATE" "$TMP/err" && ok "rate fast: exit 2" || fail "rate fast: rc $rc"

# ---- partition na | nb,nc: no TCP or UDP across, both still within nb,nc
H partition na '|' nb,nc >/dev/null || fail "partition failed"
r=$(T na reach tcp:$B udp:$B tcp:$C udp:$C)
[ "$r" = "0 0 0 0" ] && ok "partition blocks TCP and UDP from na to nb and nc" || fail "partition, from na: $r"
r=$(T nb reach tcp:$C udp:$C udp:$A)
[ "$r" = "1 1 0" ] && ok "nb and nc still talk (TCP, UDP); nb cannot reach na" || fail "partition, from nb: $r"
H heal >/dev/null || fail "heal failed"
r=$(T na reach tcp:$B udp:$B udp:$C)
[ "$r" = "1 1 1" ] && ok "heal restores TCP and UDP" || fail "after heal: $r"
# bridge: nc talks to both sides
H partition na '|' nb >/dev/null || fail "bridge partition failed"
r=$(T nc reach udp:$A udp:$B tcp:$A tcp:$B); r2=$(T na reach udp:$B)
[ "$r" = "1 1 1 1" ] && [ "$r2" = 0 ] && ok "bridge: na-nb cut, nc reaches both" || fail "bridge: from nc $r, na->nb $r2"
H heal >/dev/null

# ---- one-way block na -> nb
H block na nb >/dev/null || fail "block failed"
T nb oneway $B $A >"$TMP/at-b" & L=$!
ab=$(T na oneway $A $B); wait $L; ba=$(cat "$TMP/at-b")
# at-b: what nb received from na; ab: what na received from nb
[ "$ba" = 0 ] && [ "$ab" -ge 18 ] && ok "block na nb: na->nb dropped ($ba/20 arrive), nb->na flows ($ab/20)" \
  || fail "one-way block: na->nb $ba/20 arrive, nb->na $ab/20"
H heal >/dev/null

# ---- loss
H loss na 100 >/dev/null || fail "loss 100 failed"
read -r got _ _ < <(T na echoes $B 50)
[ "$got" = 0 ] && ok "loss 100%: 0/50 answered" || fail "loss 100%: $got/50 answered"
H loss na 30 >/dev/null || fail "loss 30 failed"
read -r got _ _ < <(T na echoes $B 200)
[ "$got" -ge 100 ] && [ "$got" -le 180 ] && ok "loss 30%: $got/200 answered (expected about 140)" || fail "loss 30%: $got/200 answered"
H loss na 0 >/dev/null
H loss na 100 --to nb >/dev/null || fail "loss --to failed"
r=$(T na reach udp:$B udp:$C)
[ "$r" = "0 1" ] && ok "loss 100% --to nb drops na->nb only" || fail "loss --to nb: $r"
H clear na >/dev/null || fail "clear failed"
read -r got uniq inv < <(T na echoes $B 200)
[ "$got" -ge 198 ] && ok "loss 0% + clear: $got/200 answered" || fail "after clear: $got/200"
[ "$inv" = 0 ] && ok "no reordering without a fault" || fail "$inv inversions without a fault"

# ---- delay (one direction: na's packets)
H delay na 200 >/dev/null || fail "delay failed"
dpid=$(awk '$1=="aux" && $2=="na" {p=$3} END {print p}' "$CONCLAVE_HARNESS_DIR/$TOPO/journal")
[ -n "$dpid" ] && alive "$dpid" && ok "delayer journaled (aux na $dpid) and running" || fail "no delayer journaled for na"
rtt=$(T na rtt 5 $B)
awk -v r="$rtt" 'BEGIN {exit !(r >= 180 && r < 400)}' && ok "delay 200ms: RTT $rtt ms" || fail "delay 200ms: RTT $rtt ms"
H delay na 100 50 --to nc >/dev/null || fail "delay --to failed"
read -r rc_ rb < <(T na rtt 9 $C $B)
awk -v c="$rc_" -v b="$rb" 'BEGIN {exit !(c >= 40 && c <= 170 && b >= 180)}' \
  && ok "delay 100±50 ms to nc: RTT $rc_ ms; to nb still $rb ms" || fail "per-peer delay: nc $rc_ ms, nb $rb ms"
T na reach tcp:$C >/dev/null && ok "TCP works through the delayer" || fail "TCP fails with delay"
H clear na >/dev/null || fail "clear after delay failed"
rtt=$(T na rtt 5 $B)
awk -v r="$rtt" 'BEGIN {exit !(r < 50)}' && ok "clear removes the delay: RTT $rtt ms" || fail "RTT after clear: $rtt ms"
alive "$dpid" && fail "delayer $dpid still runs after clear" || ok "clear stops the delayer"

# ---- reorder: with a 40 ms delay, half the packets skip it and overtake
H delay na 40 >/dev/null && H reorder na 50 >/dev/null || fail "reorder failed"
read -r got uniq inv < <(T na echoes $B 60)
[ "$uniq" -ge 58 ] && [ "$inv" -ge 5 ] && ok "reorder 50%: $inv inversions in $got answers" || fail "reorder 50%: $inv inversions, $uniq/60 answers"
H clear na >/dev/null

# ---- duplication
H dup na 50 >/dev/null || fail "dup failed"
read -r got uniq _ < <(T na echoes $B 200)
[ "$uniq" -ge 195 ] && [ "$got" -ge 250 ] && [ "$got" -le 350 ] && ok "dup 50%: $got datagrams answered for $uniq distinct" || fail "dup 50%: $got answered, $uniq distinct"
H clear na >/dev/null
read -r got uniq _ < <(T na echoes $B 100)
[ "$got" = "$uniq" ] && ok "clear removes duplication ($got/$uniq)" || fail "after clear: $got answered, $uniq distinct"

# ---- rate limit
free_bytes=$(T na tput $B)
H rate na 1mbit >/dev/null || fail "rate failed"
tc -n "$TOPO-na" qdisc show 2>/dev/null | grep -q tbf && ok "tbf qdisc on na" || fail "no tbf qdisc in na"
lim_bytes=$(T na tput $B)
# 1 mbit/s for 0.5 s is 62500 bytes, plus the bucket and what was in flight
[ "$lim_bytes" -gt 0 ] && [ "$lim_bytes" -lt 200000 ] && [ "$free_bytes" -gt $((lim_bytes * 5)) ] \
  && ok "rate 1mbit: $lim_bytes bytes in 0.5 s (unlimited: $free_bytes)" || fail "rate 1mbit: $lim_bytes bytes in 0.5 s, unlimited $free_bytes"
H rate na off >/dev/null || fail "rate off failed"
tc -n "$TOPO-na" qdisc show 2>/dev/null | grep -q tbf && fail "tbf still there after rate off" || ok "rate off removes tbf"

# ---- the record, clear-all, down
H partition na '|' nb >/dev/null; H delay nb 30 >/dev/null; H loss nc 5 >/dev/null
ev="$CONCLAVE_HARNESS_DIR/$TOPO/events.log"
for e in "partition na | nb" "heal" "block na nb" "loss na 30%" "delay na 200ms 0ms" "delay na 100ms 50ms to nc" "dup na 50%" "rate na 1000000bit" "clear na"; do
  grep -q " $e\$" "$ev" || fail "events.log lacks \"$e\""
done
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z heal$' "$ev" && ok "events.log records the faults with timestamps" || fail "events.log format"
H faults | grep -q "3 active\|4 active\|block" && ok "harness faults lists them" || fail "faults: $(H faults)"
dpid=$(awk '$1=="aux" && $2=="nb" {p=$3} END {print p}' "$CONCLAVE_HARNESS_DIR/$TOPO/journal")
"$HARNESS" down "$TOPO" >"$TMP/down.out" 2>&1 || fail "down failed: $(cat "$TMP/down.out")"
[ -n "$dpid" ] && ! alive "$dpid" && ok "down kills the delayer ($dpid)" || fail "delayer $dpid survives down"
[ "$(leftover_ns "$TOPO")" = 0 ] && ok "no namespace left" || fail "namespaces left: $(ip netns list)"
check_root_ns "after down"
if [ $NFT = 1 ]; then
  nft list ruleset >"$TMP/root-rules.after" 2>&1
  cmp -s "$TMP/root-rules.before" "$TMP/root-rules.after" && ok "root namespace ruleset unchanged" || fail "root ruleset changed"
fi
echo "test took $((SECONDS - t0)) s"
finish
