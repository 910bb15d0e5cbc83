#!/usr/bin/env bash
# `make up`: installs conclave and harness to /usr/local/bin, then brings up the
# seed's topology (topologies/dc1.yaml) in network namespaces and shows it.
# `make down` (ci/up.sh --down) removes it again.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
TOPOLOGY=topologies/dc1.yaml
PREFIX=${PREFIX:-/usr/local}

if [ "$(id -u)" != 0 ]; then
  echo "make up: the harness builds network namespaces and needs root: run it with sudo" >&2
  exit 1
fi
if [ "${1:-}" = "--down" ]; then
  exec harness down dc1
fi

install -m 0755 "$BUILD/daemon/conclave" "$BUILD/harness/harness" "$PREFIX/bin/"
echo "installed conclave and harness in $PREFIX/bin"
harness down dc1 >/dev/null   # a dc1 from an earlier `make up` is replaced
echo
echo "\$ harness up $TOPOLOGY"
harness up "$TOPOLOGY"
cat <<'TXT'

Look around:
  harness status                                  nodes, processes, leader as each node sees it
  harness logs node3_211                          an agent's log (-f follows it)
  harness exec node2_201 -- conclave members      the gossip pool as node2_201 sees it
  harness exec node2_201 -- conclave operator raft list-peers   the Raft servers, who leads
  harness exec node2_201 -- conclave kv put foo bar             a write through Raft
  harness exec node3_211 -- conclave kv get foo                 read back on the other server
  harness exec node2_201 -- sh -c 'curl -s $CONCLAVE_HTTP_ADDR/v1/agent/self'
  harness exec node2_201 -- ip addr               anything, inside the node's namespace
  harness restart node2_201                       restart, kill, stop, start, pause, resume
  harness link down node3_211                     cut a node's link (link up restores it)
  harness partition node2_201 '|' node3_211       drop packets between them (heal undoes it)
  harness chaos scenarios/leader-kill.yaml        a chaos experiment on its own 3-server
                                                  topology: verdicts and a report (docs/scenarios.md)
Tear down:
  make down                                       (or: harness down dc1)
TXT
