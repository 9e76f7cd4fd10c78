#!/usr/bin/env bash
# Run every fuzz target for a bounded time (default 60 s each).
#
#   scripts/fuzz.sh            # all targets, 60 s each
#   scripts/fuzz.sh 300 otlp_decode
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# New interesting inputs go to a cache folder, not the committed seed corpus
# (fuzz/corpus/). When a target crashes, libFuzzer leaves the input in
# fuzz/artifacts/<target>/: fix the bug, then move the input to
# fuzz/regressions/<target>/ so tests/fuzz_regressions.rs replays it forever.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(otlp_decode otlp_grpc compressed_body zipkin_decode query_params api_v3 scenario_load \
    jaeger_thrift_decode jaeger_udp_decode jaeger_grpc_decode zipkin_proto_decode zipkin_v1_decode)
fi

work="${TRACELAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tracelab}/fuzz-corpus"
status=0
for target in "${targets[@]}"; do
  mkdir -p "$work/$target"
  echo "== $target for ${seconds}s"
  if ! cargo +nightly fuzz run "$target" "$work/$target" "fuzz/corpus/$target" \
      -- -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10; then
    echo "!! $target crashed: see fuzz/artifacts/$target/" >&2
    status=1
  fi
done
exit $status
