# tests/clients/span-sender: sends one trace over OTLP, Zipkin or Jaeger
# thrift with the official client libraries (its main.go says which). The
# NixOS tests send spans with it from one machine to another, and
# tracelab's tests find it through TRACELAB_SPAN_SENDER.
#
# vendorHash is the NAR hash of `go mod vendor`'s output for its go.sum;
# scripts/check-nix.sh recomputes it (nix-hash) and fails when it is stale.
{
  lib,
  buildGoModule,
  buildGo126Module ? null,
}:
let
  # OpenTelemetry Go 1.47 needs Go 1.26, as Jaeger does.
  buildSender = if buildGo126Module != null then buildGo126Module else buildGoModule;
in
buildSender {
  pname = "span-sender";
  version = "0.1.0";
  src = ../tests/clients/span-sender;
  vendorHash = "sha256-sEFTEE2O9iR8TFZOomxYviRnZEZ+3Gv5MVSgmSAayrw=";
  ldflags = [
    "-s"
    "-w"
  ];
  meta = {
    description = "Send one trace with the official OTLP, Zipkin or Jaeger client libraries";
    license = lib.licenses.asl20;
    mainProgram = "span-sender";
  };
}
