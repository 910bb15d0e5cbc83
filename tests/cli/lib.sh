# Helpers for CLI tests: bounded waits, cleanup of what the test started (by PID),
# and assertions that print what they saw.
set -u
BIN=${CONCLAVE_BIN:?CONCLAVE_BIN must point at the conclave binary}
TMP=$(mktemp -d /tmp/cc-cli-XXXXXX)
PIDS=()
FAILS=0

cleanup() {
  for p in "${PIDS[@]}"; do
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }

# A loopback address of our own for this run, so tests never fight over ports.
pick_loopback() { echo "127.0.$((RANDOM % 200 + 20)).$((RANDOM % 200 + 20))"; }

assert_contains() { # file needle what
  if grep -qF -- "$2" "$1"; then ok "$3"; else fail "$3: '$2' not in $1:"; sed 's/^/    /' "$1" >&2; fi
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds or time runs out.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.1
  done
}

# wait_exit PID SECONDS: waits for a child to exit; sets RC to its exit code (or
# "timeout"). Not for use in $(...): only this shell can wait for its children.
wait_exit() {
  local deadline=$((SECONDS + $2))
  while kill -0 "$1" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then RC=timeout; return; fi
    sleep 0.1
  done
  wait "$1"; RC=$?
}

# alive PID: the process exists and is not a zombie (an exited daemon whose
# parent has not reaped it yet).
alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null); [ -n "$s" ] && [ "${s#Z}" = "$s" ]; }

finish() {
  if [ "$FAILS" -ne 0 ]; then echo "$FAILS check(s) failed" >&2; exit 1; fi
  echo "all checks passed"
}
