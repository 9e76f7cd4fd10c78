# Python with the packages of the Flask example app (examples/flask-service:
# a Flask service instrumented with the OpenTelemetry SDK, served by
# waitress), from nixpkgs rather than PyPI, for `nix develop` and the NixOS
# test machines. The same packages as examples/flask-service/requirements.in
# (nixpkgs picks their versions; the example needs none newer than
# OpenTelemetry's 2024 HTTP span names).
{ lib, python3 }:
python3.withPackages (
  ps:
  [
    ps.flask
    ps.waitress
    ps.requests
    ps.opentelemetry-api
    ps.opentelemetry-sdk
    ps.opentelemetry-exporter-otlp-proto-http
    # The gRPC exporter (app.py picks it when told --otlp-protocol grpc; it
    # brings grpcio).
    ps.opentelemetry-exporter-otlp-proto-grpc
    ps.opentelemetry-instrumentation-flask
    ps.opentelemetry-instrumentation-requests
  ]
  # Packaged in nixpkgs in 2025; older pins lack it.
  ++ lib.optional (ps ? opentelemetry-propagator-b3) ps.opentelemetry-propagator-b3
)
