#!/usr/bin/env bash
# Conformance with a real client: the npm `consul` package (tests/clients/,
# pinned in its package-lock.json, installed by ci/deps.sh) run with node's
# built-in test runner against two servers and a client agent in namespaces.
# The scripts run inside the client agent's namespace and talk to its HTTP
# address, as an application on that host would: KV (with a blocking watch),
# agent, catalog, health and status calls, each result asserted.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CLIENTS=$ROOT/tests/clients

command -v node >/dev/null || { echo "SKIP: node is not installed (ci/deps.sh installs it)"; exit 77; }
node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' \
  || { echo "SKIP: node $(node --version) has no node:test runner (18 or later needed)"; exit 77; }
[ -f "$CLIENTS/node_modules/consul/package.json" ] \
  || { echo "SKIP: tests/clients/node_modules is missing: run ci/deps.sh (npm ci)"; exit 77; }
want=$(node -p 'require(process.argv[1]).packages["node_modules/consul"].version' "$CLIENTS/package-lock.json")
have=$(node -p 'require(process.argv[1]).version' "$CLIENTS/node_modules/consul/package.json")
nodev=$(node --version)
[ "$want" = "$have" ] || { fail "node_modules has consul $have, the lock file pins $want: run ci/deps.sh"; finish; }

TOPO="cl$$"
TOPOS=("$TOPO")
cat >"$TMP/topo.yaml" <<EOF
name: $TOPO
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
  - name: srv1
    addresses: { lan: 51.6.196.201 }
    config: { bootstrap_expect: 2 }
  - name: srv2
    addresses: { lan: 51.6.196.211 }
    config: { bootstrap_expect: 2 }
  - name: app1
    addresses: { lan: 51.6.196.101 }
    config: { server: false }
EOF
"$HARNESS" up "$TMP/topo.yaml" >"$TMP/up.out" 2>&1 || { fail "up of $TOPO"; cat "$TMP/up.out" >&2; finish; }
check_root_ns "after up"

members_of() { # node: how many alive members its agent lists
  "$HARNESS" -t "$TOPO" exec "$1" -- sh -c 'curl -s --max-time 2 "$CONCLAVE_HTTP_ADDR/v1/agent/members"' \
    | grep -o '"Status":1' | wc -l
}
client_ready() { [ "$(members_of app1)" = 3 ]; }
wait_for 15 client_ready && ok "2 servers and the client agent app1 up" \
  || { fail "app1 does not see 3 alive members"; cat "$TMP/up.out" >&2; finish; }

t0=$(date +%s%N)
"$HARNESS" -t "$TOPO" exec app1 -- env -C "$CLIENTS" \
  CL_NODE=app1 CL_NODES=srv1,srv2,app1 \
  CL_SERVERS=srv1=http://51.6.196.201:8500,srv2=http://51.6.196.211:8500 \
  timeout 90 node --test --test-reporter=spec \
  kv.test.js agent.test.js catalog.test.js health.test.js status.test.js >"$TMP/node.out" 2>&1
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
cat "$TMP/node.out"
summary=$(grep -E '^ℹ (tests|pass|fail|cancelled|skipped|todo) ' "$TMP/node.out" | sed 's/^ℹ //' | tr '\n' ' ')
if [ "$rc" = 0 ]; then
  ok "npm consul $have (node $nodev) against $TOPO: $summary($ms ms)"
else
  fail "npm consul $have (node $nodev) against $TOPO: node --test exit $rc: $summary($ms ms)"
  for n in srv1 srv2 app1; do
    echo "---- last lines of $n's log" >&2
    "$HARNESS" -t "$TOPO" logs "$n" 2>&1 | grep -v 'Request \(finished\|deferred\)' | tail -n 15 >&2
  done
fi
check_root_ns "after the client scripts"
finish
