#!/usr/bin/env bash
# The test command: everything the test suite needs, then the suite.
#
#   scripts/test.sh            # what CI runs (.ci/run), and what you run
#   scripts/test.sh -- NAME    # extra arguments go to `cargo test`
#
# Installs are cached outside the clone (~/.cache/tracelab, or $TRACELAB_CACHE)
# and skipped when present, so a second run starts testing at once.
set -euo pipefail
cd "$(dirname "$0")/.."

export TRACELAB_CACHE="${TRACELAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tracelab}"
mkdir -p "$TRACELAB_CACHE"

# A real Jaeger v2, built from the Go module proxy, for the tests that run
# every scenario on it and hold the embedded collector to its answers
# (tests/real_jaeger.rs, tests/conformance); they fail rather than skip
# without it, unless TRACELAB_SKIP_JAEGER=1.
if [ "${TRACELAB_SKIP_JAEGER:-0}" != "1" ] && [ -z "${TRACELAB_JAEGER_BIN:-}" ]; then
  TRACELAB_JAEGER_BIN="$(scripts/install-jaeger.sh)"
  export TRACELAB_JAEGER_BIN
fi

# span-sender (tests/clients/span-sender): a Go program that sends one trace
# over OTLP, Zipkin or Jaeger thrift with the official client libraries, for
# tests that hold intakes to what real instrumentation sends.
if [ "${TRACELAB_SKIP_SPAN_SENDER:-0}" != "1" ] && [ -z "${TRACELAB_SPAN_SENDER:-}" ]; then
  TRACELAB_SPAN_SENDER="$(scripts/install-span-sender.sh)"
  export TRACELAB_SPAN_SENDER
fi

# The Flask example's Python packages (examples/flask-service/requirements.txt,
# pinned with hashes) in a virtualenv, for scenarios/jaeger-flask.rhai and
# tests/flask_service.rs; they fail rather than skip without them, unless
# TRACELAB_SKIP_PYTHON=1. examples/flask-service/run.sh uses this Python.
if [ "${TRACELAB_SKIP_PYTHON:-0}" != "1" ] && [ -z "${TRACELAB_FLASK_PYTHON:-}" ]; then
  TRACELAB_FLASK_PYTHON="$(scripts/install-flask-venv.sh)"
  export TRACELAB_FLASK_PYTHON
fi

# playwright-core, which drives Debian's Chromium in the viewer's browser
# test (screenshots in target/artifacts/). Chromium itself comes from
# apt-get (.ci/run); without it that test fails unless TRACELAB_SKIP_BROWSER=1.
if [ "${TRACELAB_SKIP_BROWSER:-0}" != "1" ]; then
  scripts/install-browser-driver.sh >/dev/null
fi

if [ "${1:-}" = "--" ]; then shift; fi

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked "$@"
