#!/usr/bin/env bash
# `harness report` turns the fixture report.json into report.html; headless
# Chromium parses it (--dump-dom: the SVG survived, one lane per node) and
# renders it (--screenshot): the PNG has the window's size, is not blank, shows
# the verdict badge in the verdict colour at the top and leader bars in the
# leader colour below it. A failed run shows the failure colour instead.
# No root and no namespaces needed; skipped (77) when Chromium is missing.
# UPDATE_DOCS_IMG=1 also copies the screenshot to docs/img/chaos-report.png.
. "$(dirname "$0")/../cli/lib.sh"
HARNESS=${HARNESS_BIN:?HARNESS_BIN must point at the harness binary}
FIXTURE=${TEST_DATA_DIR:?TEST_DATA_DIR must be set}/report/small.json
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

CHROMIUM=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$CHROMIUM" ] || { echo "SKIP: chromium is not installed (ci/deps.sh installs it)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }

# Chromium must not touch the caller's profile or home; as root it needs --no-sandbox.
export HOME="$TMP/home"
mkdir -p "$HOME"
chrome() { # OUT_OPTION FILE.html  (stdout: what chromium prints on stdout)
  timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$TMP/profile" --window-size=1400,1000 "$1" "file://$2" 2>>"$TMP/chrome.err"
}

# 1. the CLI: a JSON file with -o, and a run directory (DIR/report.json -> DIR/report.html)
if "$HARNESS" report "$FIXTURE" -o "$TMP/report.html" >"$TMP/out" 2>&1 && [ -s "$TMP/report.html" ]; then
  ok "harness report FILE -o OUT wrote $(wc -c <"$TMP/report.html") bytes"
else
  fail "harness report FILE -o OUT: $(cat "$TMP/out")"; finish
fi
mkdir -p "$TMP/run"
cp "$FIXTURE" "$TMP/run/report.json"
if "$HARNESS" report "$TMP/run" >"$TMP/out" 2>&1 && cmp -s "$TMP/run/report.html" "$TMP/report.html"; then
  ok "harness report RUNDIR wrote RUNDIR/report.html"
else
  fail "harness report RUNDIR: $(cat "$TMP/out")"
fi
echo '{"scenario": "x"}' >"$TMP/bad.json"
if "$HARNESS" report "$TMP/bad.json" >"$TMP/out" 2>&1; then
  fail "harness report accepted a report without required fields"
else
  assert_contains "$TMP/out" '"topology"' "a missing field is named"
fi

# 2. the DOM after parsing: both SVGs, three lanes, leader periods, faults, verdict
start=$SECONDS
chrome --dump-dom "$TMP/report.html" >"$TMP/dom.html"
echo "dump-dom: $((SECONDS - start)) s, $(wc -c <"$TMP/dom.html") bytes"
assert_contains "$TMP/dom.html" '<svg id="timeline-svg"' "timeline SVG in the DOM"
assert_contains "$TMP/dom.html" '<svg id="latency-svg"' "latency SVG in the DOM"
assert_contains "$TMP/dom.html" 'class="verdict pass">PASS' "verdict in the DOM"
n=$(grep -o '<g class="lane"' "$TMP/dom.html" | wc -l)
[ "$n" = 3 ] && ok "3 lanes in the DOM" || fail "$n lanes in the DOM, want 3"
n=$(grep -o '<g class="leader"><rect' "$TMP/dom.html" | wc -l)
[ "$n" = 2 ] && ok "2 leader periods in the DOM" || fail "$n leader periods in the DOM, want 2"
n=$(grep -o '<g class="fault">' "$TMP/dom.html" | wc -l)
[ "$n" = 4 ] && ok "4 fault spans in the DOM" || fail "$n fault spans in the DOM, want 4"
n=$(grep -o '</svg>' "$TMP/dom.html" | wc -l)
[ "$n" = 2 ] && ok "both SVGs closed" || fail "$n </svg> in the DOM, want 2"

# 3. the pixels. check_png FILE VERDICT_RGB: size, not blank, verdict colour in
# the header (y < 160), leader colour in the timeline (y >= 160).
cat >"$TMP/png.py" <<'PY'
import struct, sys, zlib
path, verdict = sys.argv[1], tuple(int(sys.argv[2][i:i + 2], 16) for i in (0, 2, 4))
LEADER, OTHER = (0x1a, 0x56, 0xdb), {"1e8e3e": (0xd9, 0x30, 0x25), "d93025": (0x1e, 0x8e, 0x3e)}[sys.argv[2]]
data = open(path, "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit("not a PNG")
pos, idat, hdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        hdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
w, h, depth, ctype, _, _, interlace = hdr
if (w, h) != (1400, 1000):
    sys.exit("size %dx%d, want 1400x1000" % (w, h))
if depth != 8 or ctype not in (2, 6) or interlace:
    sys.exit("unexpected PNG format: depth %d colour type %d interlace %d" % (depth, ctype, interlace))
bpp = 4 if ctype == 6 else 3
raw, stride = zlib.decompress(idat), w * bpp
rows, prev = [], bytearray(stride)
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line); prev = line
def near(px, rgb, tol=8):
    return all(abs(px[k] - rgb[k]) <= tol for k in range(3))
colours, nonwhite = set(), 0
count = {"verdict_top": 0, "other_top": 0, "leader_low": 0, "leader_top": 0}
for y in range(h):
    line = rows[y]
    for x in range(0, w):
        px = line[x * bpp:x * bpp + 3]
        t = tuple(px)
        colours.add(t)
        if t != (255, 255, 255): nonwhite += 1
        if y < 160:
            if near(px, verdict): count["verdict_top"] += 1
            if near(px, OTHER): count["other_top"] += 1
            if near(px, LEADER): count["leader_top"] += 1
        elif near(px, LEADER): count["leader_low"] += 1
print("%dx%d, %d colours, %.1f%% not white, %s" % (w, h, len(colours), 100.0 * nonwhite / (w * h), count))
errors = []
if len(colours) < 50: errors.append("only %d colours: blank?" % len(colours))
if nonwhite < w * h * 0.05: errors.append("almost all white")
if count["verdict_top"] < 1000: errors.append("verdict colour missing in the header")
if count["other_top"] > 50: errors.append("the other verdict colour is in the header")
if count["leader_low"] < 2000: errors.append("leader colour missing in the timeline")
if count["leader_top"] > 50: errors.append("leader colour in the header")
sys.exit("; ".join(errors) if errors else 0)
PY
check_png() { # PNG VERDICT_HEX what
  if python3 "$TMP/png.py" "$1" "$2" >"$TMP/png.out" 2>&1; then ok "$3: $(cat "$TMP/png.out")"
  else fail "$3: $(cat "$TMP/png.out")"; fi
}

start=$SECONDS
chrome --screenshot="$TMP/pass.png" "$TMP/report.html" >/dev/null
echo "screenshot: $((SECONDS - start)) s"
if [ -s "$TMP/pass.png" ]; then
  check_png "$TMP/pass.png" 1e8e3e "PASS screenshot"
  if [ "${UPDATE_DOCS_IMG:-0}" = 1 ]; then
    mkdir -p "$ROOT/docs/img" && cp "$TMP/pass.png" "$ROOT/docs/img/chaos-report.png" && ok "updated docs/img/chaos-report.png"
  fi
else
  fail "no screenshot; chromium said: $(tail -5 "$TMP/chrome.err")"
fi

# A failed run: the badge turns red.
python3 - "$FIXTURE" "$TMP/fail.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["verdict"] = False
r["assertions"][0]["ok"] = False
json.dump(r, open(sys.argv[2], "w"))
PY
"$HARNESS" report "$TMP/fail.json" >/dev/null || fail "harness report fail.json"
chrome --screenshot="$TMP/fail.png" "$TMP/fail.html" >/dev/null
if [ -s "$TMP/fail.png" ]; then check_png "$TMP/fail.png" d93025 "FAIL screenshot"
else fail "no screenshot of the failed run"; fi

finish
