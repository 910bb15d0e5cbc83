# Helpers for harness integration tests: root and namespace checks (skip with 77
# when they cannot run), a unique topology name per run, the root-namespace
# safety check, and cleanup that runs even when a test fails.
set -u
. "$(dirname "$0")/../cli/lib.sh"
HARNESS=${HARNESS_BIN:?HARNESS_BIN must point at the harness binary}
export PATH="$(dirname "$BIN"):$(dirname "$HARNESS"):$PATH"
export CONCLAVE_HARNESS_DIR="$TMP/run"

if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root for network namespaces"; exit 77; fi
command -v ip >/dev/null || { echo "SKIP: iproute2 (ip) is not installed"; exit 77; }
if ! unshare --net true 2>/dev/null; then echo "SKIP: cannot create network namespaces here"; exit 77; fi

TOPO="cct$$"
TOPOS=("$TOPO")
harness_cleanup() {
  for t in "${TOPOS[@]}"; do "$HARNESS" down "$t" >/dev/null 2>&1; done
  cleanup
}
trap harness_cleanup EXIT

# The network safety rule, checked in the root namespace.
check_root_ns() {
  if ip -4 addr show | grep -q '51\.6\.196\.' || ip route show | grep -q '51\.6\.196\.'; then
    fail "root namespace has a 51.6.196.x address or route ($1)"
  fi
}

# Namespaces of this topology that the kernel still has a name for.
leftover_ns() { ip netns list 2>/dev/null | awk '{print $1}' | grep -c "^$1-" ; }
