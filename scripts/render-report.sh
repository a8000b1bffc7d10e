#!/usr/bin/env bash
# Renders an HTML report of `chaos run --html` / `chaos report` to a PNG with headless
# Chromium (Debian's `chromium` package), with every host name unresolvable, so the picture
# also shows the page needs nothing from a network.
#   scripts/render-report.sh REPORT.html OUT.png [WIDTH] [HEIGHT]
# For the documentation's pictures (docs/img/, docs/images/), by hand: not part of CI or of
# scripts/test.sh. The picture is the top WIDTH x HEIGHT pixels of the page; a smaller HEIGHT
# crops it to the timeline.
set -euo pipefail
html=${1:?usage: render-report.sh REPORT.html OUT.png [WIDTH] [HEIGHT]}
png=${2:?usage: render-report.sh REPORT.html OUT.png [WIDTH] [HEIGHT]}
width=${3:-1100}
height=${4:-1600}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "render-report.sh: chromium is not installed (apt-get install -y chromium)" >&2
  exit 3
fi
abs=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
out=$(cd "$(dirname "$png")" && pwd)/$(basename "$png")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# --no-sandbox: Chromium refuses to run as root with its sandbox (containers, CI).
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --user-data-dir="$profile" \
  --host-resolver-rules="MAP * ~NOTFOUND" \
  --window-size="$width,$height" \
  --screenshot="$out" "file://$abs" >/dev/null 2>&1
test -s "$out"
echo "$out"
