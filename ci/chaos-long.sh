#!/usr/bin/env bash
# `make chaos-long`: every shipped scenario at full length, on three servers and
# (where the scenario is not about the seed's two) on five, one after another.
# Prints one line per run with its verdict and figures, and exits non-zero if any
# run failed. Results stay in chaos-results/long-<time>/. TOPOLOGIES="dc1-3"
# limits the runs to three servers.
set -uo pipefail
BUILD=${1:-build}
HARNESS="$BUILD/harness/harness"
OUT="chaos-results/long-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
status=0
printf '%-20s %-6s %-5s %-22s %-22s %s\n' scenario topo verdict "leader_within median/max" "ops ok/fail/unknown" "check"
for f in scenarios/*.yaml; do
  s=$(basename "$f" .yaml)
  read -r -a topos <<<"${TOPOLOGIES:-dc1-3 dc1-5}"
  [ "$s" = dc1-restarts ] && topos=(dc1)
  for t in "${topos[@]}"; do
    dir="$OUT/$s-$t"
    "$HARNESS" chaos "$f" --topology="topologies/$t.yaml" --name="cl-$t" --out="$dir" >"$dir.out" 2>&1 \
      || status=1
    python3 - "$dir/report.json" "$s" "$t" <<'PY' || { echo "$s on $t: no report (see $dir.out)"; status=1; }
import json, sys
r = json.load(open(sys.argv[1])); st = r["stats"]
lw = "%.0f/%.0f ms" % (st["leader_within_median_ms"], st["leader_within_max_ms"]) if "leader_within_median_ms" in st else "-"
print("%-20s %-6s %-5s %-22s %-22s %.0f ms" % (sys.argv[2], sys.argv[3], "PASS" if r["verdict"] else "FAIL", lw,
      "%d/%d/%d" % (st["ops_ok"], st["ops_fail"], st["ops_info"]), st["check_ms"]))
PY
  done
done
echo "results in $OUT"
exit $status
