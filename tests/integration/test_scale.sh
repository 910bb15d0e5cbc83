#!/usr/bin/env bash
# topologies/scale-50.yaml: 50 conclave agents (3 servers, 47 clients) come up
# in namespaces and every one of them sees all 50 alive through gossip.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
sed -e "s/^name: .*/name: $TOPO/" "$ROOT/topologies/scale-50.yaml" >"$TMP/scale.yaml"
t0=$SECONDS
"$HARNESS" up --timeout=120 "$TMP/scale.yaml" >"$TMP/up.out" 2>&1 || { fail "up of 50 agents"; tail -20 "$TMP/up.out" >&2; finish; }
ok "50 agents up and answering"
check_root_ns "scale up"
all_see_50() {
  "$HARNESS" status "$TOPO" --json | python3 -c 'import json,sys; n=json.load(sys.stdin); sys.exit(0 if len(n) == 50 and all(x["members"] == 50 for x in n) else 1)'
}
wait_for 90 all_see_50 && ok "every agent sees 50 alive members ($((SECONDS - t0)) s after up began)" \
  || { fail "50 agents did not converge"; "$HARNESS" status "$TOPO" | head -60 >&2; }
"$HARNESS" down "$TOPO" >"$TMP/down.out" 2>&1 || fail "down"
assert_contains "$TMP/down.out" "50 processes" "down stops all 50"
[ "$(leftover_ns "$TOPO")" = 0 ] && ok "no namespace left" || fail "namespaces left"
finish
