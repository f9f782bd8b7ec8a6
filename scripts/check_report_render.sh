#!/usr/bin/env bash
# Render a motifprobe HTML report in headless Chromium and check the screenshot.
# Usage: scripts/check_report_render.sh REPORT.html OUT.png
set -euo pipefail
if [ "$#" -ne 2 ]; then
    echo "usage: $0 REPORT.html OUT.png" >&2
    exit 2
fi
REPORT=$1
OUT=$2
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
    echo "chromium not found at $CHROMIUM; install it with: apt-get install -y chromium" >&2
    exit 1
fi
if [ ! -f "$REPORT" ]; then
    echo "no such report: $REPORT" >&2
    exit 1
fi
ABSPATH=$(realpath "$REPORT")
OUT_ABS=$(realpath -m "$OUT")
mkdir -p "$(dirname "$OUT_ABS")"
rm -f "$OUT_ABS"
PROFILE=$(mktemp -d)
trap 'rm -rf "$PROFILE"' EXIT
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$PROFILE" --window-size=1400,4000 --screenshot="$OUT_ABS" \
    "file://$ABSPATH" >/dev/null 2>&1 || true
if [ ! -f "$OUT_ABS" ]; then
    echo "FAIL: chromium wrote no screenshot to $OUT_ABS" >&2
    exit 1
fi
SIZE=$(stat -c %s "$OUT_ABS")
if [ "$SIZE" -le 10240 ]; then
    echo "FAIL: screenshot $OUT_ABS is only $SIZE bytes (expected > 10 kB)" >&2
    exit 1
fi
echo "OK: rendered $ABSPATH to $OUT_ABS ($SIZE bytes)"
