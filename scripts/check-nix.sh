#!/usr/bin/env bash
# Offline checks of every Nix file, for machines with no Nix store and no
# network (CI runs them: .ci/run). What they prove, and what only
# `nix flake check` on a machine with Nix and KVM proves, is in README ("Nix").
#
#   1. every .nix file parses (nix-instantiate --parse: syntax, unbound names)
#   2. formatting (nixfmt --check) and dead code (deadnix --fail)
#   3. flake.nix evaluated against nix/ci/stub-nixpkgs.nix: outputs, checks,
#      apps, modules, VM test machines and flake.lock (nix/ci/check-flake.nix)
#   4. the VM tests' Python compiles and passes pyflakes, as the test driver
#      requires
#   5. the `tracelab serve` command line services.tracelab renders starts the
#      real binary, which stops cleanly on SIGTERM
#   6. nix/span-sender.nix's vendorHash is the NAR hash of `go mod vendor`
#      (needs go; said and skipped without it)
#   7. the configuration services.jaeger renders (its strategies file put on
#      disk) starts a real Jaeger that listens on every port the module's
#      firewall opens, takes a trace from span-sender over each receiver
#      (OTLP/HTTP protobuf and JSON, OTLP/gRPC, Zipkin JSON and protobuf,
#      Jaeger thrift over HTTP, compact and binary over UDP, Jaeger's model
#      over gRPC) and returns
#      each from its query API, and answers /sampling on 5778 with the
#      shipped strategy; the sandbox scenario passes against it and the VM
#      tests' Jaeger checks accept its JSON (skipped only with
#      TRACELAB_SKIP_JAEGER=1)
#
# Tools: scripts/install-nix-tools.sh installs them (it prints the folder to
# put on PATH); TRACELAB_JAEGER_BIN names a Jaeger, else
# scripts/install-jaeger.sh builds one; TRACELAB_SPAN_SENDER names a
# span-sender, else scripts/install-span-sender.sh builds one.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE_DIR="${TRACELAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tracelab}"
export PATH="$CACHE_DIR/tools/bin:$PATH"
for tool in nix-instantiate nix-hash nixfmt deadnix pyflakes3 curl; do
  command -v "$tool" >/dev/null ||
    { echo "check-nix: $tool is missing: run scripts/install-nix-tools.sh" >&2; exit 1; }
done

scratch="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$scratch"
}
trap cleanup EXIT

step() { echo "== nix: $*"; }
eval_check() { nix-instantiate --eval --strict --json nix/ci/check-flake.nix "$@"; }

mapfile -t nix_files < <(find . -name '*.nix' -not -path './target/*' -not -path './.git/*' | sort)

step "parse ${#nix_files[@]} files"
for file in "${nix_files[@]}"; do
  nix-instantiate --parse "$file" >/dev/null
done

step "nixfmt --check"
nixfmt --check "${nix_files[@]}"

step "deadnix --fail"
deadnix --fail "${nix_files[@]}"

step "flake structure against the nixpkgs stub"
eval_check -A passed
echo

step "VM test scripts: python compile and pyflakes"
for test in jaeger distributed; do
  script="$scratch/$test.py"
  eval_check -A "testScripts.$test" | python3 -c 'import json, sys; print(json.load(sys.stdin))' >"$script"
  python3 -m py_compile "$script"
  # The driver's globals: start_all, subtest and one name per machine.
  machines="$(eval_check -A "machineNames.$test" | python3 -c 'import json, sys; print(json.load(sys.stdin))')"
  PYFLAKES_BUILTINS="start_all,subtest,$machines" pyflakes3 "$script"
done
pyflakes3 nix/ci/jaeger_here.py # which runs their Jaeger checks here

step "services.tracelab's command line runs the real binary"
cargo build --locked --quiet --bin tracelab
mkdir -p "$scratch/tracelab/bin"
ln -s "$PWD/target/debug/tracelab" "$scratch/tracelab/bin/tracelab"
serve_command="$(eval_check -A serveCommand --argstr tracelabPrefix "$scratch/tracelab" |
  python3 -c 'import json, sys; print(json.load(sys.stdin))')"
echo "   $serve_command"
# ExecStart's quoting is the shell's (lib.escapeShellArgs).
bash -c "exec $serve_command" >"$scratch/serve.out" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
timeout 30 bash -c "until grep -q '^ready;' '$scratch/serve.out'; do
  kill -0 $serve_pid 2>/dev/null || exit 1; sleep 0.1; done" ||
  { cat "$scratch/serve.out" >&2; echo "check-nix: serve did not get ready" >&2; exit 1; }
grep -Eq '^  service1  service  listening on 127\.0\.0\.1:[0-9]+$' "$scratch/serve.out"
grep -q '^  service2  peer     at service2.invalid:8000$' "$scratch/serve.out"
kill -TERM "$serve_pid"
wait "$serve_pid" || { cat "$scratch/serve.out" >&2; echo "check-nix: serve failed on SIGTERM" >&2; exit 1; }
grep -q '^stopped service1: 0 spans, all delivered$' "$scratch/serve.out"

step "nix/span-sender.nix's vendorHash is the NAR hash of go mod vendor's output"
if command -v go >/dev/null; then
  # What buildGoModule will fetch for it; a stale hash fails the Nix build.
  cp -r tests/clients/span-sender "$scratch/span-sender"
  (cd "$scratch/span-sender" && go mod vendor)
  vendor_hash="sha256-$(nix-hash --type sha256 "$scratch/span-sender/vendor" |
    python3 -c 'import base64, sys; print(base64.b64encode(bytes.fromhex(sys.stdin.read().strip())).decode())')"
  pinned_hash="$(eval_check -A spanSenderVendorHash | python3 -c 'import json, sys; print(json.load(sys.stdin))')"
  [ "$vendor_hash" = "$pinned_hash" ] ||
    { echo "check-nix: nix/span-sender.nix has vendorHash $pinned_hash; go.sum needs $vendor_hash" >&2; exit 1; }
  echo "   span-sender's vendorHash is go mod vendor's ($vendor_hash)"
else
  echo "   span-sender's vendorHash not recomputed: no go on PATH"
fi

step "services.jaeger's configuration runs a real Jaeger on every default port"
if [ "${TRACELAB_SKIP_JAEGER:-0}" = 1 ]; then
  echo "   skipped: TRACELAB_SKIP_JAEGER=1"
  exit 0
fi
jaeger_bin="${TRACELAB_JAEGER_BIN:-$(scripts/install-jaeger.sh)}"
span_sender="${TRACELAB_SPAN_SENDER:-$(scripts/install-span-sender.sh)}"
host=127.0.0.2 # the module's ports are fixed; a loopback address of its own
eval_check -A jaegerSettings --argstr jaegerListenHost "$host" >"$scratch/rendered.json" # JSON is YAML
eval_check -A jaegerSamplingStrategies >"$scratch/strategies.json"
eval_check -A jaegerPorts >"$scratch/ports.json"
# The strategies file the module writes is a store path, which the stub does
# not write: put the module's content on disk and point the config at it.
python3 - "$scratch" <<'PYTHON'
import json, sys
scratch = sys.argv[1]
settings = json.load(open(f"{scratch}/rendered.json"))
shipped = json.load(open(f"{scratch}/strategies.json"))
sampling = settings["extensions"]["remote_sampling"]["file"]
assert sampling["path"] == shipped["path"], f"remote_sampling reads {sampling['path']}, not the module's file"
json.dump(shipped["content"], open(f"{scratch}/sampling-strategies.json", "w"))
sampling["path"] = f"{scratch}/sampling-strategies.json"
json.dump(settings, open(f"{scratch}/jaeger.yaml", "w"), indent=1)
PYTHON
"$jaeger_bin" --config "$scratch/jaeger.yaml" >"$scratch/jaeger.log" 2>&1 &
jaeger_pid=$!
pids+=("$jaeger_pid")
timeout 60 bash -c "until curl -sf http://$host:13133/status | grep -q StatusOK; do
  kill -0 $jaeger_pid 2>/dev/null || exit 1; sleep 0.2; done" ||
  { cat "$scratch/jaeger.log" >&2; echo "check-nix: Jaeger did not get healthy" >&2; exit 1; }
# Every port the module's firewall opens, from the kernel's own tables:
# TCP in LISTEN, UDP bound.
python3 - "$host" "$scratch/ports.json" <<'PYTHON'
import json, socket, sys
host, ports = sys.argv[1], json.load(open(sys.argv[2]))
local = socket.inet_aton(host)[::-1].hex().upper()
def bound(table, state=None):
    found = set()
    for line in open(f"/proc/net/{table}").readlines()[1:]:
        fields = line.split()
        address, port = fields[1].split(":")
        if address == local and state in (None, fields[3]):
            found.add(int(port, 16))
    return found
missing_tcp = sorted(set(ports["tcp"]) - bound("tcp", "0A"))
missing_udp = sorted(set(ports["udp"]) - bound("udp"))
assert not missing_tcp and not missing_udp, f"Jaeger does not listen on TCP {missing_tcp}, UDP {missing_udp}"
print(f"   listening on {host}: TCP {ports['tcp']}, UDP {ports['udp']}")
PYTHON

step "one trace over each receiver (span-sender), read back from Jaeger's API; remote sampling"
: >"$scratch/sent"
while read -r protocol endpoint; do
  service="check-nix-$protocol"
  trace_id="$("$span_sender" --protocol "$protocol" --endpoint "$endpoint" --service "$service" 2>>"$scratch/sender.log")" ||
    { cat "$scratch/sender.log" >&2; echo "check-nix: span-sender --protocol $protocol failed" >&2; exit 1; }
  echo "$protocol $service $trace_id" >>"$scratch/sent"
done <<SENDERS
otlp-http http://$host:4318/v1/traces
otlp-http-json http://$host:4318/v1/traces
otlp-grpc $host:4317
zipkin-json http://$host:9411/api/v2/spans
zipkin-proto http://$host:9411/api/v2/spans
jaeger-thrift-http http://$host:14268/api/traces
jaeger-compact $host:6831
jaeger-binary $host:6832
jaeger-grpc $host:14250
SENDERS
python3 nix/ci/jaeger_here.py "$host" sent "$scratch/sent"
python3 nix/ci/jaeger_here.py "$host" sampling "$scratch/strategies.json"

step "the sandbox passes against that Jaeger, and the VM tests' Jaeger checks accept it"
# (TRACELAB_JAEGER_BIN, set in `nix develop`, would ask tracelab to start a
# Jaeger of its own, which --jaeger-url excludes.)
env -u TRACELAB_JAEGER_BIN target/debug/tracelab run --quiet --jaeger-url "http://$host:16686" --otlp-endpoint "http://$host:4318" \
  scenarios/jaeger.rhai
python3 nix/ci/jaeger_here.py "$host" sandbox
