#!/usr/bin/env python3
"""service1 of Envoy's jaeger-tracing sandbox as a real Flask app,
instrumented with the OpenTelemetry Python SDK.

`GET /trace/1` calls service2's `/trace/2` with `requests`, then answers
like the sandbox's app: "Hello from behind Envoy (service 1)! hostname <h>
resolved <ip>". Its spans are the instrumentations' own: a SERVER span from
opentelemetry-instrumentation-flask (its parent comes from the headers the
caller sent) and a CLIENT span from opentelemetry-instrumentation-requests
(which writes the headers service2 reads). Nothing is forwarded by hand
but `x-request-id`.

Everything comes from the environment, as tracelab's `process(...)` sets it
(docs/scenarios.md, "External programs"):
  PORT                         listen on 127.0.0.1:$PORT
  OTEL_SERVICE_NAME            the service name of its spans
  OTEL_EXPORTER_OTLP_*         where the OTLP exporter sends them, and how:
                               OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL picks
                               http/protobuf (default) or grpc
  OTEL_PROPAGATORS             the header formats it reads and writes
                               (tracecontext = W3C, b3multi = B3, b3 = B3 single)
  OTEL_TRACES_SAMPLER[_ARG]    sampling, OTEL_BSP_SCHEDULE_DELAY export delay
  SERVICE2                     the component to call (default service2); its
                               URL is $TRACELAB_URL_<SERVICE2 upper-cased>

It serves with waitress (a production WSGI server: threads, no fork, so the
SDK's export thread keeps working) and on SIGTERM finishes the requests in
flight, flushes its spans and exits 0.

  python app.py --check   says which Python runs it and the packages' versions
"""

import importlib
import os
import re
import signal
import socket
import sys

PACKAGES = [
    "flask",
    "waitress",
    "requests",
    "opentelemetry-api",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-exporter-otlp-proto-grpc",
    "grpcio",
    "opentelemetry-instrumentation-flask",
    "opentelemetry-instrumentation-requests",
    "opentelemetry-propagator-b3",
]

try:
    # First, so that its absence is this message: opentelemetry.propagate,
    # which the instrumentations import, loads the formats OTEL_PROPAGATORS
    # names, and b3multi comes from this package.
    importlib.import_module("opentelemetry.propagators.b3")
    import flask
    import requests
    import waitress
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
        OTLPSpanExporter as GrpcSpanExporter,
    )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpSpanExporter,
    )
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
except ImportError as missing:
    sys.exit(
        f"flask-service: {sys.executable} lacks the example's packages ({missing}).\n"
        "flask-service: install them with scripts/install-flask-venv.sh (or pip install\n"
        "flask-service: -r examples/flask-service/requirements.txt), or point\n"
        "flask-service: TRACELAB_FLASK_PYTHON at a Python that has them."
    )

REQUEST_ID_TAG = "guid:x-request-id"


def url_variable(component):
    """tracelab's TRACELAB_URL_<NAME> for a component name."""
    return "TRACELAB_URL_" + re.sub(r"[^A-Za-z0-9]", "_", component).upper()


def service2_url():
    name = os.environ.get("SERVICE2", "service2")
    variable = url_variable(name)
    url = os.environ.get(variable)
    if not url:
        sys.exit(f"flask-service: ${variable} is not set: is there a component {name!r}?")
    return url.rstrip("/")


def host_and_ip():
    hostname = socket.gethostname()
    try:
        return hostname, socket.gethostbyname(hostname)
    except OSError:
        return hostname, "127.0.0.1"


def otlp_protocol():
    """OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL,
    else the spec's default, http/protobuf."""
    for variable in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        value = os.environ.get(variable, "").strip()
        if value:
            return value
    return "http/protobuf"


def span_exporter(protocol):
    """The OTLP exporter for the protocol; each reads its endpoint from the
    OTEL_EXPORTER_OTLP_* environment (gRPC's is plain HTTP/2 for http://)."""
    if protocol == "grpc":
        return GrpcSpanExporter()
    if protocol == "http/protobuf":
        return HttpSpanExporter()
    sys.exit(
        f"flask-service: OTLP protocol {protocol!r} is not supported by the Python SDK's "
        "trace exporters: use grpc or http/protobuf"
    )


def tracer_provider(protocol):
    """The SDK, configured from the OTEL_* environment: the resource
    (service.name and the SDK's telemetry.sdk.* attributes), the sampler,
    the OTLP exporter and the batch processor's delay."""
    provider = TracerProvider(resource=Resource.create())
    provider.add_span_processor(BatchSpanProcessor(span_exporter(protocol)))
    trace.set_tracer_provider(provider)
    return provider


def tag_server_span(span, environ):
    request_id = environ.get("HTTP_X_REQUEST_ID")
    if request_id and span.is_recording():
        span.set_attribute(REQUEST_ID_TAG, request_id)


def tag_client_span(span, request):
    request_id = request.headers.get("x-request-id")
    if request_id and span.is_recording():
        span.set_attribute(REQUEST_ID_TAG, request_id)


def create_app(service2):
    app = flask.Flask("flask-service")
    hostname, ip = host_and_ip()

    @app.get("/trace/1")
    def trace_1():
        # The instrumentation adds the trace headers; x-request-id is the
        # app's to forward (as the sandbox's app does).
        forward = {}
        if "x-request-id" in flask.request.headers:
            forward["x-request-id"] = flask.request.headers["x-request-id"]
        try:
            status = requests.get(f"{service2}/trace/2", headers=forward, timeout=10).status_code
        except requests.RequestException:
            status = 503
        if status >= 500:
            # A failed call fails this request too, so the error shows up the trace.
            return flask.Response(f"service2 answered {status}\n", status=status)
        return f"Hello from behind Envoy (service 1)! hostname {hostname} resolved {ip}\n"

    FlaskInstrumentor().instrument_app(app, request_hook=tag_server_span)
    RequestsInstrumentor().instrument(request_hook=tag_client_span)
    return app


def check():
    from importlib.metadata import version

    print(f"flask-service: {sys.executable} (Python {sys.version.split()[0]})")
    for package in PACKAGES:
        print(f"  {package} {version(package)}")


def stop(*_):
    # waitress's loop takes SystemExit as its cue to stop: it waits for the
    # requests in flight, then run() returns.
    raise SystemExit(0)


def main():
    if sys.argv[1:] == ["--check"]:
        check()
        return
    port = os.environ.get("PORT", "")
    if not port.isdigit():
        sys.exit(f"flask-service: PORT={port!r}: set it to the port to listen on")
    port = int(port)
    service2 = service2_url()
    protocol = otlp_protocol()
    provider = tracer_provider(protocol)
    app = create_app(service2)
    signal.signal(signal.SIGTERM, stop)
    server = waitress.create_server(app, host="127.0.0.1", port=port, threads=8)
    print(
        f"flask-service: {os.environ.get('OTEL_SERVICE_NAME', '?')} on 127.0.0.1:{port}, "
        f"propagators {os.environ.get('OTEL_PROPAGATORS', 'tracecontext,baggage')}, "
        f"OTLP {protocol}, service2 at {service2}",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.run()
    finally:
        provider.shutdown()


if __name__ == "__main__":
    main()
