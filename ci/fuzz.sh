#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time, starting from its seed corpus in
# tests/fuzz/corpus/<name>; new inputs go to fuzz-out/<name>/ (not committed).
# Prints executions and findings per target; exits 1 if any target crashed.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-fuzz}
SECONDS_EACH=${2:-60}
status=0
for bin in "$BUILD"/tests/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  out=fuzz-out/$name
  mkdir -p "$out/corpus" "$out/crashes"
  echo "== fuzz $name for ${SECONDS_EACH}s"
  "$bin" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$out/crashes/" "$out/corpus" "tests/fuzz/corpus/$name" \
    >"$out/log" 2>&1
  rc=$?
  execs=$(grep -m1 'stat::number_of_executed_units' "$out/log" | awk '{print $2}')
  crashes=$(find "$out/crashes" -type f | wc -l)
  echo "   executions: ${execs:-?}  corpus: $(ls "$out/corpus" | wc -l)  crashes: $crashes  (log: $out/log)"
  if [ $rc -ne 0 ] || [ "$crashes" -ne 0 ]; then status=1; tail -30 "$out/log"; fi
done
exit $status
