#!/usr/bin/env bash
# The real peers as harness kinds: three etcd members elect a leader (and `up`
# waits for it); three serf agents join each other through retry_join. Each
# kind answers `status` with what the daemon itself reports.
. "$(dirname "$0")/lib.sh"
command -v etcd >/dev/null || { echo "SKIP: etcd-server is not installed (ci/deps.sh installs it)"; exit 77; }
command -v serf >/dev/null || { echo "SKIP: serf is not installed (ci/deps.sh installs it)"; exit 77; }

cat >"$TMP/etcd.yaml" <<YAML
name: $TOPO
defaults: { kind: etcd }
networks: [ { name: lan, subnet: 51.6.196.0/24 } ]
nodes:
  - { name: e1, addresses: { lan: 51.6.196.201 } }
  - { name: e2, addresses: { lan: 51.6.196.211 } }
  - { name: e3, addresses: { lan: 51.6.196.221 } }
YAML
"$HARNESS" up --timeout=60 "$TMP/etcd.yaml" >"$TMP/up.out" 2>&1 || { fail "etcd up"; cat "$TMP/up.out" >&2; }
assert_contains "$TMP/up.out" "leader after" "up waits for etcd's leader"
check_root_ns "etcd up"
"$HARNESS" status "$TOPO" --json >"$TMP/st.json"
python3 - "$TMP/st.json" <<'PY' && ok "every etcd member names the same leader and sees 3 members" || { fail "etcd status"; cat "$TMP/st.json" >&2; }
import json, sys
nodes = json.load(open(sys.argv[1]))
leaders = {n["leader"] for n in nodes}
sys.exit(0 if len(leaders) == 1 and None not in leaders and "" not in leaders
         and all(n["members"] == 3 for n in nodes) else 1)
PY
"$HARNESS" down "$TOPO" >/dev/null 2>&1 || fail "etcd down"
[ "$(leftover_ns "$TOPO")" = 0 ] && ok "etcd down clean" || fail "etcd namespaces left"

T2="${TOPO}s"; TOPOS+=("$T2")
cat >"$TMP/serf.yaml" <<YAML
name: $T2
defaults:
  kind: serf
  config: { retry_join: [51.6.196.201], retry_interval: 1s }
networks: [ { name: lan, subnet: 51.6.196.0/24 } ]
nodes:
  - { name: s1, addresses: { lan: 51.6.196.201 } }
  - { name: s2, addresses: { lan: 51.6.196.211 } }
  - { name: s3, addresses: { lan: 51.6.196.221 } }
YAML
"$HARNESS" up "$TMP/serf.yaml" >"$TMP/up2.out" 2>&1 || { fail "serf up"; cat "$TMP/up2.out" >&2; }
members3() { "$HARNESS" status "$T2" --json | python3 -c 'import json,sys; sys.exit(0 if all(n["members"] == 3 for n in json.load(sys.stdin)) else 1)'; }
wait_for 40 members3 && ok "every serf agent sees 3 alive members" || { fail "serf did not converge"; "$HARNESS" status "$T2" >&2; }
"$HARNESS" down "$T2" >/dev/null 2>&1 || fail "serf down"
[ "$(leftover_ns "$T2")" = 0 ] && ok "serf down clean" || fail "serf namespaces left"
check_root_ns "after kinds"
finish
