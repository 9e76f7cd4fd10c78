#!/usr/bin/env bash
# tracelab's benchmarks (issue: "Fast and lossless, measured"): builds the
# release binaries, installs what they compare against (oha, a real Jaeger),
# then runs scripts/bench.py, which prints every figure as a ratio measured
# in this run on this machine. Takes over an hour on 2 cores (5's
# million-request runs alone take about 10 minutes); --only runs a part.
#
#   scripts/bench.sh                              # all six, print the table
#   scripts/bench.sh --write docs/benchmarks.md   # ... and keep it there
#   scripts/bench.sh --only 2,3 --requests 20000  # a part, smaller
#
# Installs are cached in ~/.cache/tracelab (TRACELAB_CACHE), so a second run
# starts at once. Run it on a quiet machine: the figures are CPU-bound.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${TRACELAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tracelab}"
OHA_VERSION=1.16.0

oha="$cache/tools/bin/oha"
if ! "$oha" --version 2>/dev/null | grep -q "$OHA_VERSION"; then
  echo "bench: installing oha $OHA_VERSION into $cache/tools" >&2
  cargo install --locked --quiet oha --version "$OHA_VERSION" --root "$cache/tools" >&2
fi
jaeger="${TRACELAB_JAEGER_BIN:-$(scripts/install-jaeger.sh)}"

echo "bench: building the release binaries" >&2
cargo build --release --quiet --bin tracelab --example bench

exec python3 scripts/bench.py --oha "$oha" --jaeger-bin "$jaeger" "$@"
