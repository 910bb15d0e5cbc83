#!/usr/bin/env bash
# `conclave validate`, `version` and help, as a user runs them.
. "$(dirname "$0")/lib.sh"
DATA=${TEST_DATA_DIR:?}

"$BIN" validate "$DATA/config/seed.json" >"$TMP/out" 2>"$TMP/err"; rc=$?
[ $rc -eq 0 ] && ok "seed config validates" || fail "seed config: exit $rc"
assert_contains "$TMP/out" "Configuration is valid!" "seed: success text"
assert_contains "$TMP/err" "bootstrap_expect = 2: A cluster with 2 servers will provide no failure tolerance." "seed: two-server warning"
assert_contains "$TMP/err" "bootstrap_expect > 0: expecting 2 servers" "seed: expecting warning"
assert_contains "$TMP/err" "Node name will not be discoverable via DNS due to invalid characters." "seed: node-name warning"

mkdir -p "$TMP/conf.d"
echo '{"data_dir": "/nonexistent/conclave-data", "bind_addr": "127.0.0.1"}' >"$TMP/conf.d/10-base.json"
echo '{"server": true, "bootstrap_expect": 3}' >"$TMP/conf.d/20-server.json"
"$BIN" validate -quiet "$TMP/conf.d" >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 0 ] && ok "directory validates" || fail "directory: exit $rc"
grep -q "Configuration is valid!" "$TMP/out" && fail "-quiet still printed success" || ok "-quiet is quiet"

echo '{"server": true, "bootstrap_expect": 3}' >"$TMP/client.json"
"$BIN" validate "$TMP/conf.d" "$TMP/client.json" >/dev/null 2>&1 && ok "files merge with dirs" \
  || fail "dir + file should validate"

printf '{"data_dir": "/nonexistent/conclave-data", "bind_addr": "127.0.0.1",\n "bootstrap": true,\n "bootstrap_expect": 2, "server": true}\n' >"$TMP/conflict.json"
"$BIN" validate "$TMP/conflict.json" >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 1 ] && ok "conflict exits 1" || fail "conflict: exit $rc"
assert_contains "$TMP/out" "Config validation failed: 'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive" "conflict message"

"$BIN" validate >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 1 ] && ok "no arguments exits 1" || fail "no arguments: exit $rc"
assert_contains "$TMP/out" "Must specify at least one config file or directory" "no-argument message"

"$BIN" version >"$TMP/out" 2>&1 && assert_contains "$TMP/out" "Conclave v" "version" || fail "version failed"
"$BIN" --help >"$TMP/out" 2>&1 && assert_contains "$TMP/out" "validate     Validate config files/directories" "help lists commands" || fail "--help failed"
"$BIN" agent -help >"$TMP/out" 2>&1 && assert_contains "$TMP/out" "-config-file=<value>" "agent help lists flags" || fail "agent -help failed"
"$BIN" frobnicate >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 127 ] && ok "unknown command exits 127" || fail "unknown command: exit $rc"
assert_contains "$TMP/out" 'unknown command "frobnicate"' "unknown command message"
finish
