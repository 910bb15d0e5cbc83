#!/usr/bin/env bash
# `make up` until the harness lands: one agent on 127.0.0.1 with the seed's shape of
# config (topologies/loopback-agent.json), in the background. Shows its banner and
# /v1/agent/self. `make down` (ci/up.sh --down) stops it by its recorded PID.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUN=/tmp/conclave-up
PIDFILE=$RUN/agent.pid
CONFIG=topologies/loopback-agent.json
URL=http://127.0.0.1:8500

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

if [ "${1:-}" = "--down" ]; then
  if running; then
    pid=$(cat "$PIDFILE"); kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "stopped agent (PID $pid)"
  else
    echo "no agent from 'make up' is running"
  fi
  rm -f "$PIDFILE"
  exit 0
fi

mkdir -p "$RUN"
if running; then
  echo "an agent from 'make up' is already running (PID $(cat "$PIDFILE")); 'make down' stops it"
  exit 0
fi
setsid "$BUILD/daemon/conclave" agent -config-file="$CONFIG" >"$RUN/agent.log" 2>&1 </dev/null &
echo $! >"$PIDFILE"
for _ in $(seq 100); do
  curl -sf --max-time 1 "$URL/v1/agent/self" >/dev/null 2>&1 && break
  if ! running; then cat "$RUN/agent.log"; echo "the agent exited; see above" >&2; exit 1; fi
  sleep 0.1
done
cat "$RUN/agent.log"
echo
echo "\$ curl -s '$URL/v1/agent/self?pretty' (Config and Member)"
curl -s --max-time 2 "$URL/v1/agent/self?pretty" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(json.dumps({"Config": d["Config"], "Member": d["Member"]}, indent=4))'
echo
echo "\$ curl -s $URL/v1/status/leader"
curl -s --max-time 2 "$URL/v1/status/leader"; echo
echo
echo "Agent running in the background (PID $(cat "$PIDFILE")), log in $RUN/agent.log."
echo "Stop it with: make down"
