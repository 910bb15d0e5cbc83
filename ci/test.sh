#!/usr/bin/env bash
# Runs the whole test suite with CTest, first in the normal build, then in the
# ASan+UBSan build (without the tests labelled normal_only: see the end of
# tests/CMakeLists.txt), two tests at a time (tests that build namespaces run
# alone). Exits non-zero if either run has a failure.
set -uo pipefail
normal=${1:-build}
asan=${2:-build-asan}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
echo "== tests: normal build ($normal)"
ctest --test-dir "$normal" -j2 --output-on-failure --timeout 300 || status=1
echo "== tests: ASan+UBSan build ($asan)"
ctest --test-dir "$asan" -j2 -LE normal_only --output-on-failure --timeout 600 || status=1
exit $status
