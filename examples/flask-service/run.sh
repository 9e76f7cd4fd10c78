#!/bin/sh
# Starts app.py with the first Python of these that exists:
#   1. $TRACELAB_FLASK_PYTHON (scripts/test.sh sets it; so does `nix develop`)
#   2. the venv scripts/install-flask-venv.sh made for this requirements.txt:
#      $TRACELAB_CACHE (default ~/.cache/tracelab)/flask-venv-<first 16 hex
#      digits of the file's SHA-256>/bin/python
#   3. python3 on PATH
# A Python without the packages makes app.py exit at once saying how to
# install them, so tracelab reports that instead of waiting for a port.
#
#   sh examples/flask-service/run.sh            # what scenarios run
#   sh examples/flask-service/run.sh --check    # which Python, which versions
#
# `exec`: tracelab's SIGTERM must reach the app, not this shell.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"

python="${TRACELAB_FLASK_PYTHON:-}"
if [ -n "$python" ] && ! command -v "$python" >/dev/null 2>&1; then
  echo "flask-service: TRACELAB_FLASK_PYTHON=$python is not a program" >&2
  exit 1
elif [ -z "$python" ]; then
  cache="${TRACELAB_CACHE:-${XDG_CACHE_HOME:-${HOME:-}/.cache}/tracelab}"
  if command -v sha256sum >/dev/null 2>&1; then
    key="$(sha256sum "$here/requirements.txt" | cut -c1-16)"
  else
    key="$(shasum -a 256 "$here/requirements.txt" | cut -c1-16)"
  fi
  if [ -x "$cache/flask-venv-$key/bin/python" ] && [ -f "$cache/flask-venv-$key/.installed" ]; then
    python="$cache/flask-venv-$key/bin/python"
  else
    python=python3
  fi
fi
exec "$python" "$here/app.py" "$@"
