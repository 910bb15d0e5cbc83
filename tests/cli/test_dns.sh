#!/usr/bin/env bash
# The DNS listeners of one real agent on a loopback address, fed bytes no
# resolver would send: a datagram shorter than a header (no answer), a header
# with a broken body (FORMERR), a response (no answer), several queries in one
# TCP write (all answered, in order of arrival), a query split over writes, a
# zero-length frame (connection closed), more connections than allowed (the
# extra ones closed at once), an idle connection (closed after the timeout).
# The agent must keep answering dig throughout and shut down cleanly.
. "$(dirname "$0")/lib.sh"
command -v dig >/dev/null || { echo "SKIP: dig is not installed (ci/deps.sh installs bind9-dnsutils)"; exit 77; }

IP=$(pick_loopback)
P=$((20000 + RANDOM % 20000))
D=$((P + 4))
cat >"$TMP/agent.json" <<JSON
{
  "datacenter": "dc1", "data_dir": "$TMP/data", "log_level": "DEBUG", "node_name": "dns1",
  "server": true, "bootstrap": true,
  "bind_addr": "$IP", "client_addr": "$IP", "advertise_addr": "$IP",
  "ports": {"http": $P, "server": $((P + 1)), "serf_lan": $((P + 2)), "serf_wan": $((P + 3)), "dns": $D}
}
JSON
"$BIN" agent -config-file="$TMP/agent.json" >"$TMP/agent.out" 2>&1 &
A=$!; PIDS+=($A)
answers() { [ "$(dig @"$IP" -p "$D" +time=1 +tries=1 +short dns1.node.consul)" = "$IP" ]; }
wait_for 20 answers && ok "dig dns1.node.consul: $IP" || { fail "no DNS answer"; cat "$TMP/agent.out" >&2; finish; }
assert_contains "$TMP/agent.out" "[INFO]  agent: Started DNS server: address=$IP:$D network=udp" "start line"

python3 - "$IP" "$D" >"$TMP/raw.out" 2>&1 <<'PY'
import socket, struct, sys, time
ip, port = sys.argv[1], int(sys.argv[2])

def query(qid, name, qtype=1):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)

def udp(data):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    s.sendto(data, (ip, port))
    try:
        return s.recv(65535)
    except socket.timeout:
        return None

def rcode(msg):
    return msg[3] & 15

def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)

# a connection that never sends anything, checked at the end
idle = socket.create_connection((ip, port))
t_idle = time.time()

check(udp(b"\x12\x34\x01") is None, "a 3-byte datagram gets no answer")
r = udp(struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + b"\x05ab")
check(r is not None and r[:2] == b"\x42\x42" and rcode(r) == 1 and r[2] & 0x80,
      "a truncated question gets FORMERR with its id")
r = udp(struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\0\1\0\1")
check(r is not None and rcode(r) == 1, "a compression loop gets FORMERR")
check(udp(query(9, "dns1.node.consul")[:2] + b"\x81\x00" + query(9, "x")[4:]) is None,
      "a response gets no answer")

def frame(m):
    return struct.pack(">H", len(m)) + m

def read_frames(s, n):
    buf, out = b"", []
    s.settimeout(3)
    while len(out) < n:
        chunk = s.recv(65535)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
            l = struct.unpack(">H", buf[:2])[0]
            out.append(buf[2:2 + l])
            buf = buf[2 + l:]
    return out

s = socket.create_connection((ip, port))
s.sendall(b"".join(frame(query(100 + i, "dns1.node.consul")) for i in range(20)))
got = read_frames(s, 20)
check(sorted(struct.unpack(">H", m[:2])[0] for m in got) == list(range(100, 120))
      and all(rcode(m) == 0 and m[7] == 1 for m in got),
      "20 queries in one TCP write: 20 answers (%d)" % len(got))
q = frame(query(200, "nope.node.consul"))
for b in (q[:1], q[1:7], q[7:]):
    s.sendall(b)
    time.sleep(0.05)
got = read_frames(s, 1)
check(len(got) == 1 and rcode(got[0]) == 3, "a query split over three writes: NXDOMAIN")
s.sendall(b"\0\0")
s.settimeout(3)
try:
    closed = s.recv(10) == b""
except ConnectionResetError:
    closed = True
check(closed, "a zero-length frame closes the connection")
s.close()

conns = [socket.create_connection((ip, port)) for _ in range(130)]
time.sleep(0.3)
shut = 0
for c in conns:
    c.setblocking(False)
    try:
        if c.recv(10) == b"":
            shut += 1
    except BlockingIOError:
        pass
    except ConnectionResetError:
        shut += 1
check(shut == 3, "130 more connections beside the idle one: the 3 beyond 128 closed at once (%d)" % shut)
for c in conns:
    c.close()

idle.settimeout(15)
try:
    idle.recv(10)
except ConnectionResetError:
    pass
took = time.time() - t_idle
check(9 <= took <= 13, "an idle connection is closed after 10 s (%.1f s)" % took)
PY
cat "$TMP/raw.out"
grep -q "^FAIL" "$TMP/raw.out" && fail "raw DNS checks (above)"
grep -q "^ok: an idle connection" "$TMP/raw.out" || fail "raw DNS script did not finish"
answers && ok "the agent still answers" || fail "no answer after the raw checks"
assert_contains "$TMP/agent.out" "[DEBUG] agent.dns: failed to decode a DNS message: client=" "decode failures logged at DEBUG"

kill -TERM $A
wait_exit $A 15
[ "$RC" = 0 ] && ok "SIGTERM: exit 0" || fail "SIGTERM: exit $RC"
assert_contains "$TMP/agent.out" "[INFO]  agent: Stopping server: protocol=DNS address=$IP:$D network=tcp" "stop line (tcp)"
assert_contains "$TMP/agent.out" "[INFO]  agent: Stopping server: protocol=DNS address=$IP:$D network=udp" "stop line (udp)"
finish
