#!/usr/bin/env bash
# Build tests/clients/span-sender (a Go program that sends one trace over
# OTLP, Zipkin or Jaeger thrift with the official client libraries) from the
# Go module proxy into a cache folder named by a hash of its sources, so an
# edit rebuilds it and a re-run with the binary present does nothing.
#
# Prints the binary's path on stdout; everything else goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/../tests/clients/span-sender"

CACHE_DIR="${TRACELAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tracelab}"
hash="$(cat go.mod go.sum $(find . -name '*.go' | LC_ALL=C sort) | sha256sum | cut -c1-16)"
OUT_DIR="$CACHE_DIR/span-sender-$hash"
BIN="$OUT_DIR/span-sender"

if [ -x "$BIN" ] && "$BIN" --help >/dev/null 2>&1; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { echo "install-span-sender: Go is required (https://go.dev/dl)" >&2; exit 1; }

mkdir -p "$OUT_DIR"
{
  echo "install-span-sender: building tests/clients/span-sender into $OUT_DIR"
  go build -mod=readonly -trimpath -buildvcs=false -ldflags "-s -w" -o "$BIN.tmp" .
} >&2
mv "$BIN.tmp" "$BIN"
echo "$BIN"
