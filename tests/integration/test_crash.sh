#!/usr/bin/env bash
# `down` after `kill -9` of the harness in the middle of `up` leaves nothing:
# no namespace, no link, no process. Checked against the kernel (netns list,
# links, /proc), not against the run directory.
. "$(dirname "$0")/lib.sh"

N=40
MARK="cc-crash-$$"   # a unique word in every daemon's argv, to find them in /proc
{
  echo "name: $TOPO"
  echo "defaults: { kind: command, command: [python3, -c, \"import time; time.sleep(600)\", \"$MARK\"] }"
  echo "networks: [ { name: lan, subnet: 51.6.196.0/24 } ]"
  echo "nodes:"
  for i in $(seq 1 $N); do echo "  - { name: n$i, addresses: { lan: 51.6.196.$((i + 10)) } }"; done
} >"$TMP/crash.yaml"

# "[c]c-..." matches the daemons' argv but not this grep's own.
mine() { grep -l -- "[c]${MARK#c}" /proc/[0-9]*/cmdline 2>/dev/null | wc -l; }
links_before=$(ip -o link show | wc -l)

for delay in 0.005 0.03 0.3; do
  "$HARNESS" up "$TMP/crash.yaml" >"$TMP/up.out" 2>&1 &
  H=$!
  sleep "$delay"
  kill -KILL $H 2>/dev/null; wait $H 2>/dev/null
  check_root_ns "after kill -9 at ${delay}s"
  "$HARNESS" down "$TOPO" >"$TMP/down.out" 2>&1 || { fail "down after kill -9 at ${delay}s"; cat "$TMP/down.out" >&2; }
  [ "$(leftover_ns "$TOPO")" = 0 ] && ok "kill -9 at ${delay}s: no namespace left" || fail "kill -9 at ${delay}s: namespaces left: $(ip netns list | head)"
  wait_for 5 test "$(mine)" = 0 && ok "kill -9 at ${delay}s: no process left" || fail "kill -9 at ${delay}s: $(mine) daemons left"
  [ "$(ip -o link show | wc -l)" = "$links_before" ] && ok "kill -9 at ${delay}s: no link left in the root namespace" || fail "root namespace links changed"
done

# The same topology comes up cleanly afterwards (no EEXIST from leftovers).
"$HARNESS" up "$TMP/crash.yaml" >"$TMP/up.out" 2>&1 && ok "up again after the crashes" || { fail "up after crashes"; cat "$TMP/up.out" >&2; }
"$HARNESS" down "$TOPO" >/dev/null 2>&1
[ "$(leftover_ns "$TOPO")" = 0 ] && ok "final down clean" || fail "final down left namespaces"
wait_for 5 test "$(mine)" = 0 || fail "final down left daemons"
finish
