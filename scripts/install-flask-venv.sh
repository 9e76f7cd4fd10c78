#!/usr/bin/env bash
# Installs the Flask example's Python packages (examples/flask-service:
# Flask, waitress, requests and the OpenTelemetry SDK, every version pinned
# with its hashes in requirements.txt) into a virtualenv in the cache, never
# into the clone, and prints the venv's python on stdout.
#
#   scripts/install-flask-venv.sh     # → ~/.cache/tracelab/flask-venv-<key>/bin/python
#
# <key> is the start of requirements.txt's SHA-256, so a changed file gets a
# fresh venv (and older ones are removed); with the venv complete, a second
# run only prints. examples/flask-service/run.sh finds the venv the same way.
# PYTHON picks the interpreter to build it from (default python3, >= 3.10).
set -euo pipefail
cd "$(dirname "$0")/.."

REQUIREMENTS="examples/flask-service/requirements.txt"
CACHE="${TRACELAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tracelab}"
if command -v sha256sum >/dev/null; then
  KEY="$(sha256sum "$REQUIREMENTS" | cut -c1-16)"
else
  KEY="$(shasum -a 256 "$REQUIREMENTS" | cut -c1-16)"
fi
VENV="$CACHE/flask-venv-$KEY"
# Written last: a venv without it is half-installed and is made again.
DONE="$VENV/.installed"

if [ -f "$DONE" ] && [ -x "$VENV/bin/python" ]; then
  echo "$VENV/bin/python"
  exit 0
fi

fail() {
  echo "install-flask-venv: $*" >&2
  exit 1
}

PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null || fail "$PYTHON is missing (install Python 3.10 or later)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
  fail "$("$PYTHON" --version 2>&1) is too old: OpenTelemetry's SDK needs Python 3.10 or later (set PYTHON)"
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null ||
  fail "$PYTHON cannot make virtualenvs (on Debian/Ubuntu: apt-get install python3-venv)"

{
  echo "install-flask-venv: installing $REQUIREMENTS into $VENV"
  mkdir -p "$CACHE"
  for old in "$CACHE"/flask-venv-*; do
    if [ -e "$old" ] && [ "$old" != "$VENV" ]; then rm -rf "$old"; fi
  done
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  # Hash-checking mode: every package, dependencies included, must be in
  # the file with a matching hash.
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-input --require-hashes -r "$REQUIREMENTS"
  "$VENV/bin/python" examples/flask-service/app.py --check
} >&2
touch "$DONE"
echo "$VENV/bin/python"
