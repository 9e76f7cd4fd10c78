#!/usr/bin/env bash
# Makes sure the trace viewer's browser test (tests/viewer_browser.rs) has
# what it needs: headless Chromium and Node's npm (playwright-core, which
# drives Chromium, comes from scripts/install-browser-driver.sh). Prints the
# Chromium it found. Idempotent: installs nothing that is already there.
#
# As root with apt-get (a fresh Debian or Ubuntu, CI), it installs what is
# missing. Otherwise it stops at once, naming the one command that
# installs it; TRACELAB_SKIP_BROWSER=1 switches the browser test off.
#
#   scripts/install-browser.sh         # → /usr/bin/chromium
set -euo pipefail

# Where the test looks, in its order.
find_chromium() {
  if [ -n "${TRACELAB_CHROMIUM:-}" ]; then
    [ -x "$TRACELAB_CHROMIUM" ] && echo "$TRACELAB_CHROMIUM"
    return 0
  fi
  for path in /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -x "$path" ]; then
      echo "$path"
      return 0
    fi
  done
}

# The Debian packages missing, for one apt-get line.
missing=()
[ -n "$(find_chromium)" ] || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -z "${TRACELAB_CHROMIUM:-}" ]; then
    echo "install-browser: installing ${missing[*]} with apt-get (for the viewer's browser test)" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    what="the trace viewer's browser test needs ${missing[*]}"
    if [ -n "${TRACELAB_CHROMIUM:-}" ] && [[ " ${missing[*]} " == *" chromium "* ]]; then
      what="$what (TRACELAB_CHROMIUM=$TRACELAB_CHROMIUM is not an executable)"
    fi
    echo "install-browser: $what. Install it with:" >&2
    echo "" >&2
    echo "    sudo apt-get install -y ${missing[*]}" >&2
    echo "" >&2
    echo "or set TRACELAB_SKIP_BROWSER=1 to skip that test." >&2
    exit 1
  fi
fi

chromium="$(find_chromium)"
if [ -z "$chromium" ]; then
  echo "install-browser: apt-get installed no chromium; set TRACELAB_CHROMIUM to one, or TRACELAB_SKIP_BROWSER=1" >&2
  exit 1
fi
echo "$chromium"
