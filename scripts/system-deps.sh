#!/usr/bin/env bash
# System packages the test suite drives for real: Chromium (the browser caller and the web
# view), bubblewrap (the sandbox tool), espeak-ng and sox (test speech), and playwright-core
# from npm (drives Debian's Chromium; it never downloads a browser of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
APT_PACKAGES=(chromium bubblewrap espeak-ng sox iproute2)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "system-deps: not root; tests needing ${missing[*]} will be skipped" >&2
  fi
fi
if command -v npm >/dev/null 2>&1; then
  npm ci --silent --no-audit --no-fund --prefix tests/browser
else
  echo "system-deps: no npm; browser tests will be skipped" >&2
fi
