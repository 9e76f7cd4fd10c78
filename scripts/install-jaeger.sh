#!/usr/bin/env bash
# Build the real Jaeger v2 binary from the Go module proxy into a cache folder.
#
# Pinned: the v1.76.0 module tag is the same code as Jaeger v2.13.0 (the module
# path has no /v2, so v2.x tags are not valid Go versions). `go install` fails
# on Jaeger's `replace` directive, so we build inside a scratch module that
# depends on it as a tool. Re-running with the binary present does nothing.
#
# Prints the binary's path on stdout; everything else goes to stderr.
set -euo pipefail

JAEGER_MODULE_VERSION="${JAEGER_MODULE_VERSION:-v1.76.0}"
CACHE_DIR="${TRACELAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tracelab}"
OUT_DIR="$CACHE_DIR/jaeger-$JAEGER_MODULE_VERSION"
BIN="$OUT_DIR/jaeger"

if [ -x "$BIN" ] && "$BIN" version >/dev/null 2>&1; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { echo "install-jaeger: Go is required (https://go.dev/dl)" >&2; exit 1; }

mkdir -p "$OUT_DIR"
SCRATCH="$OUT_DIR/build"
rm -rf "$SCRATCH"
mkdir -p "$SCRATCH"
cd "$SCRATCH"
{
  echo "install-jaeger: building jaeger $JAEGER_MODULE_VERSION (Jaeger v2) in $SCRATCH"
  go mod init tracelab.local/jaeger-build
  go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_MODULE_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$BIN.tmp" github.com/jaegertracing/jaeger/cmd/jaeger
} >&2
mv "$BIN.tmp" "$BIN"
cd "$OUT_DIR"
rm -rf "$SCRATCH"
echo "$BIN"
