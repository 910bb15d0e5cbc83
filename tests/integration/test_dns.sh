#!/usr/bin/env bash
# The DNS interface with a real resolver client (dig, from bind9-dnsutils) in
# real namespaces: the seed's two servers and a client agent. Node A records
# (the seed's '_' names included, any case), a service registered through the
# catalog API whose A/SRV answers follow its checks (NXDOMAIN once its only
# healthy instance is critical), a client agent's own service whose script
# check flips its answer, TCP with several queries on one connection,
# NXDOMAIN + SOA, SERVFAIL outside the domain, and the same answers from the
# client agent, which forwards to a server.
. "$(dirname "$0")/lib.sh"
command -v dig >/dev/null || { echo "SKIP: dig is not installed (ci/deps.sh installs bind9-dnsutils)"; exit 77; }

T="dns$$"; TOPOS+=("$T")
cat >"$TMP/dns.yaml" <<YAML
name: $T
networks:
  - name: lan
    subnet: 51.6.196.0/24
defaults:
  kind: conclave
  config:
    datacenter: dc1
    log_level: DEBUG
    server: true
    retry_join: ["51.6.196.201", "51.6.196.211"]
    retry_interval: 1s
    ports: { http: 8500, dns: 8600, server: 8300, serf_lan: 8301, serf_wan: 8302 }
nodes:
  - name: node2_201
    addresses: { lan: 51.6.196.201 }
    config: { bootstrap_expect: 2 }
  - name: node3_211
    addresses: { lan: 51.6.196.211 }
    config: { bootstrap_expect: 2 }
  - name: client1
    addresses: { lan: 51.6.196.101 }
    config:
      server: false
      enable_script_checks: true
      service:
        name: flip
        port: 8080
        check: { args: ["/bin/sh", "-c", "test ! -e $TMP/flip-down || exit 2"], interval: 1s }
YAML
t0=$SECONDS
"$HARNESS" up "$TMP/dns.yaml" >"$TMP/up.out" 2>&1 || { fail "up"; cat "$TMP/up.out" >&2; finish; }
check_root_ns "after up"

# q FROM SERVER ARGS...: dig run in node FROM's namespace against SERVER:8600
q() {
  local from=$1 server=$2; shift 2
  "$HARNESS" -t "$T" exec "$from" -- dig @"$server" -p 8600 +time=3 +tries=1 "$@" 2>&1
}
short() { q "$@" +short | sort | tr '\n' ' ' | sed 's/ $//'; }
status() { q "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
api() { # node method path [body]
  "$HARNESS" -t "$T" exec "$1" -- sh -c 'curl -s --max-time 10 -X "$1" ${3:+--data-binary "$3"} "$CONCLAVE_HTTP_ADDR$2"' _ "$2" "$3" "${4-}"
}

S1=51.6.196.201 S2=51.6.196.211 C1=51.6.196.101
# the leader registers every member in the catalog; node A records then work
node_ready() { [ "$(short client1 $S1 node3_211.node.consul)" = 51.6.196.211 ]; }
wait_for 30 node_ready && ok "dig node3_211.node.consul at a server: 51.6.196.211" \
  || { fail "node3_211 A"; q client1 $S1 node3_211.node.consul >&2; }
q client1 $S1 node3_211.node.consul >"$TMP/node.txt"
grep -q 'flags: qr aa rd;' "$TMP/node.txt" && grep -qP '^node3_211\.node\.consul\.\s+0\s+IN\s+A\s+51\.6\.196\.211$' "$TMP/node.txt" \
  && ok "authoritative, TTL 0" || { fail "node answer shape"; cat "$TMP/node.txt" >&2; }
[ "$(short client1 $S2 NODE2_201.Node.Dc1.CONSUL)" = 51.6.196.201 ] && ok "node2_201 in capitals, with the datacenter" \
  || fail "case-insensitive node lookup"

# ---- a service and its checks ----
reg() { # node-name address status
  api node2_201 PUT /v1/catalog/register "{\"Node\":\"$1\",\"Address\":\"$2\",\"Service\":{\"Service\":\"web\",\"Tags\":[\"v1\"],\"Port\":80},\"Check\":{\"CheckID\":\"web-ok\",\"Name\":\"web\",\"Status\":\"$3\",\"ServiceID\":\"web\"}}"
}
[ "$(reg ext-web1 10.9.0.1 passing)" = true ] && [ "$(reg ext-web2 10.9.0.2 passing)" = true ] \
  && ok "two web instances registered, passing" || fail "register"
want_a() { [ "$(short client1 $S2 web.service.consul)" = "$1" ]; }
wait_for 10 want_a "10.9.0.1 10.9.0.2" && ok "web.service.consul A: both instances" \
  || { fail "A before"; q client1 $S2 web.service.consul >&2; }
q client1 $S1 web.service.consul SRV >"$TMP/srv.txt"
grep -qP '^web\.service\.consul\.\s+0\s+IN\s+SRV\s+1 1 80 ext-web1\.node\.dc1\.consul\.$' "$TMP/srv.txt" &&
  grep -qP '^ext-web2\.node\.dc1\.consul\.\s+0\s+IN\s+A\s+10\.9\.0\.2$' "$TMP/srv.txt" \
  && ok "SRV 1 1 80 NODE.node.dc1.consul. with the A record in the additional section" || { fail "SRV"; cat "$TMP/srv.txt" >&2; }
[ "$(short client1 $S1 _web._tcp.service.consul SRV | wc -w)" = 8 ] && [ "$(short client1 $S1 v1.web.service.consul)" = "10.9.0.1 10.9.0.2" ] \
  && ok "RFC 2782 name and tag filter" || fail "RFC 2782 / tag"
reg ext-web2 10.9.0.2 critical >/dev/null
wait_for 10 want_a "10.9.0.1" && ok "ext-web2 critical: only ext-web1 answers" || fail "critical instance still answered"
[ "$(short client1 $S1 web.service.consul SRV)" = "1 1 80 ext-web1.node.dc1.consul." ] && ok "SRV too" || fail "SRV after critical"
reg ext-web1 10.9.0.1 critical >/dev/null
nx() { [ "$(status client1 $S2 web.service.consul)" = NXDOMAIN ]; }
wait_for 10 nx && ok "no healthy instance left: NXDOMAIN" || fail "all critical: $(status client1 $S2 web.service.consul)"
reg ext-web1 10.9.0.1 passing >/dev/null
wait_for 10 want_a "10.9.0.1" && ok "passing again: back" || fail "passing again"

# a script check on the client agent flips its service's health, and the
# answers follow through anti-entropy
flip_a() { [ "$(short node2_201 $S1 flip.service.consul)" = "$1" ]; }
wait_for 15 flip_a 51.6.196.101 && ok "the client's own service, its script check passing: flip.service.consul A" \
  || { fail "flip A"; q node2_201 $S1 flip.service.consul >&2; }
touch "$TMP/flip-down"
flip_nx() { [ "$(status node2_201 $S1 flip.service.consul)" = NXDOMAIN ]; }
wait_for 15 flip_nx && ok "its script check fails (exit 2): critical, NXDOMAIN" || fail "flip down: $(status node2_201 $S1 flip.service.consul)"
rm -f "$TMP/flip-down"
wait_for 15 flip_a 51.6.196.101 && ok "it passes again: the A record is back" || fail "flip up"

# ---- TCP, errors ----
q client1 $S1 +tcp +keepopen node3_211.node.consul node2_201.node.consul >"$TMP/tcp.txt"
[ "$(grep -c 'status: NOERROR' "$TMP/tcp.txt")" = 2 ] && grep -q '(TCP)' "$TMP/tcp.txt" && grep -qP '\sA\s+51\.6\.196\.201$' "$TMP/tcp.txt" \
  && ok "+tcp: two queries on one connection" || { fail "TCP"; cat "$TMP/tcp.txt" >&2; }
q client1 $S1 nope.node.consul >"$TMP/nx.txt"
grep -q 'status: NXDOMAIN' "$TMP/nx.txt" && grep -qP '^consul\.\s+0\s+IN\s+SOA\s+ns\.consul\. hostmaster\.consul\. \d+ 3600 600 86400 0$' "$TMP/nx.txt" \
  && ok "unknown node: NXDOMAIN with the SOA in the authority section" || { fail "NXDOMAIN"; cat "$TMP/nx.txt" >&2; }
[ "$(status client1 $S1 example.com)" = SERVFAIL ] && ok "a name outside consul.: SERVFAIL" || fail "outside the domain"
[ "$(status client1 $S1 foo.consul)" = NXDOMAIN ] && ok "a name outside the grammar: NXDOMAIN" || fail "invalid name"

# ---- the client agent forwards to a server ----
[ "$(short node2_201 $C1 node3_211.node.consul)" = 51.6.196.211 ] && ok "the client agent answers node lookups" \
  || { fail "client node"; q node2_201 $C1 node3_211.node.consul >&2; }
[ "$(short node2_201 $C1 web.service.consul)" = 10.9.0.1 ] && [ "$(short node2_201 $C1 +tcp web.service.consul SRV)" = "1 1 80 ext-web1.node.dc1.consul." ] \
  && ok "and service lookups, over UDP and TCP" || fail "client service"
[ "$(status node2_201 $C1 nope.node.consul)" = NXDOMAIN ] && [ "$(status node2_201 $C1 example.com)" = SERVFAIL ] \
  && ok "and its errors" || fail "client errors"

# ---- logs ----
"$HARNESS" -t "$T" logs node2_201 >"$TMP/n1.log"
"$HARNESS" -t "$T" logs client1 >"$TMP/c1.log"
assert_contains "$TMP/n1.log" "[INFO]  agent: Started DNS server: address=51.6.196.201:8600 network=udp" "start line (udp)"
assert_contains "$TMP/n1.log" "[INFO]  agent: Started DNS server: address=51.6.196.201:8600 network=tcp" "start line (tcp)"
assert_contains "$TMP/n1.log" "[WARN]  agent.dns: QName invalid: qname=foo.consul." "invalid name logged"
assert_contains "$TMP/c1.log" "[DEBUG] agent.dns: request served from client: name=web.service.consul. type=SRV class=IN" "client logs served requests"
echo "dns test body: $((SECONDS - t0)) s including up"

"$HARNESS" down "$T" >/dev/null 2>&1 || fail "down"
check_root_ns "after dns tests"
finish
