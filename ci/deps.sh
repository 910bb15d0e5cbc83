#!/usr/bin/env bash
# Installs every Debian package Conclave's build and tests need, with apt-get.
# Idempotent: when everything is already installed it only runs dpkg-query and exits.
# The one place to add packages; `make up`, `make test` and `make deps` call it.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config git
  # sanitizer and fuzzing builds (clang + compiler-rt: ASan, UBSan, libFuzzer)
  clang libclang-rt-14-dev
  # daemon
  libuv1-dev libmsgpack-dev liblmdb-dev libhttp-parser-dev nettle-dev zlib1g-dev
  # netns library and harness
  libnl-3-dev libnl-route-3-dev libmnl-dev libnftnl-dev libnetfilter-queue-dev libcyaml-dev libyaml-dev iproute2
  # chaos reports are checked in a headless browser; nft lists our rules for humans
  chromium fonts-dejavu-core nftables
  # tests
  libcmocka-dev libcurl4-openssl-dev curl procps python3
  # real peers the harness runs beside conclave (kinds serf and etcd; interop, benchmarks)
  serf etcd-server etcd-client
  # HTTP load generator for bench/http.sh
  wrk
  # a real resolver client for the DNS interface test
  bind9-dnsutils
)

# Node.js and npm for the client conformance test (tests/clients): Debian's
# packages, added only when there is no npm at all, so an existing install
# (nodesource's nodejs bundles npm; Debian's npm would fight it) is left alone.
if ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

# tests/clients/node_modules (the npm `consul` client) from the committed lock
# file, with `npm ci`; skipped while package.json and the lock file are what the
# last `npm ci` installed (a stamp inside node_modules holds their hash).
npm_clients() {
  local dir sum stamp
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/clients"
  stamp=$dir/node_modules/.conclave-lock.sha256
  sum=$(cat "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
    return 0
  fi
  echo "ci/deps.sh: npm ci in tests/clients"
  (cd "$dir" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$sum" >"$stamp"
}

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  npm_clients
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "ci/deps.sh: these packages are missing and installing them needs root: ${missing[*]}" >&2
  exit 1
fi

echo "ci/deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# serf and etcd-server ship init scripts; their daemons must never start in the
# host namespace (the harness runs them inside topologies). Debian's policy-rc.d
# hook tells the maintainer scripts not to start services during this install.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 0755 "$policy"; own_policy=1
fi
trap 'if [ $own_policy = 1 ]; then rm -f "$policy"; fi' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "ci/deps.sh: done"
npm_clients
