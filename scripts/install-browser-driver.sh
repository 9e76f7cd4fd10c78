#!/usr/bin/env bash
# Installs playwright-core, the Node library the browser test drives
# Debian's Chromium with, into the cache (never into the clone), and prints
# the folder holding its node_modules. Idempotent: a second run only prints.
#
#   scripts/install-browser-driver.sh      # → ~/.cache/tracelab/playwright-1.65.1
#
# Chromium itself comes from Debian (`apt-get install chromium`, done by
# .ci/run); playwright-core never downloads a browser.
set -euo pipefail

VERSION="1.65.1"
CACHE="${TRACELAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tracelab}"
DIR="$CACHE/playwright-$VERSION"

if [ ! -f "$DIR/node_modules/playwright-core/package.json" ]; then
  if ! command -v npm >/dev/null; then
    echo "install-browser-driver: npm is missing (install Node.js)" >&2
    exit 1
  fi
  mkdir -p "$DIR"
  # A private package.json keeps npm from walking up into other projects.
  [ -f "$DIR/package.json" ] || echo '{"private": true}' > "$DIR/package.json"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$DIR" --no-audit --no-fund \
    --loglevel=error "playwright-core@$VERSION" >&2
fi
echo "$DIR"
