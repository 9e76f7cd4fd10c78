#!/usr/bin/env python3
"""An instrumented app as an external process, with nothing but Python's
standard library (no pip install): tracelab starts it for
scenarios/external-process.rhai.

It follows tracelab's contract for programs (docs/scenarios.md, "process"):
listen on 127.0.0.1:$PORT, reach other components at $TRACELAB_URL_<NAME>,
report spans to $OTEL_EXPORTER_OTLP_ENDPOINT as $OTEL_SERVICE_NAME, and
flush them when SIGTERM arrives.

A real app would use an OpenTelemetry SDK, which reads those same variables.
To stay dependency-free this one does by hand what the SDK and its HTTP
instrumentation would do: read the W3C `traceparent` header, record a SERVER
span for the request and a CLIENT span for its call to the warehouse, pass
the context on, and export the spans as OTLP/HTTP JSON (which every OTLP/HTTP
receiver accepts besides protobuf).
"""

import json
import os
import queue
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ["PORT"])
SERVICE = os.environ.get("OTEL_SERVICE_NAME", "inventory")
OTLP = os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"
WAREHOUSE = os.environ["TRACELAB_URL_WAREHOUSE"]

SPAN_KIND_SERVER, SPAN_KIND_CLIENT = 2, 3
STATUS_ERROR = 2

finished = queue.Queue()


def new_id(nbytes):
    return os.urandom(nbytes).hex()


def parse_traceparent(value):
    """(trace id, parent span id, sampled) from a W3C traceparent, or None."""
    parts = (value or "").strip().split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    return parts[1], parts[2], int(parts[3], 16) & 1 == 1


def attribute(key, value):
    return {"key": key, "value": {"stringValue": str(value)}}


def span(trace_id, span_id, parent_id, name, kind, start, end, status, request_id):
    s = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(end),
        "attributes": [
            attribute("http.status_code", status),
            attribute("guid:x-request-id", request_id),
        ],
    }
    if parent_id:
        s["parentSpanId"] = parent_id
    if status >= 500:
        s["status"] = {"code": STATUS_ERROR}
    return s


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        start = time.time_ns()
        if self.path != "/stock":
            self.reply(404, b"not found\n")
            return
        request_id = self.headers.get("x-request-id", "")
        parent = parse_traceparent(self.headers.get("traceparent"))
        trace_id, parent_id, sampled = parent or (new_id(16), None, True)
        server_id, client_id = new_id(8), new_id(8)

        call_start = time.time_ns()
        call = urllib.request.Request(
            WAREHOUSE + "/count",
            headers={
                "traceparent": f"00-{trace_id}-{client_id}-{'01' if sampled else '00'}",
                "x-request-id": request_id,
            },
        )
        try:
            with urllib.request.urlopen(call, timeout=5) as answer:
                call_status, count = answer.status, answer.read().decode().strip()
        except urllib.error.HTTPError as e:
            call_status, count = e.code, "?"
        except OSError:
            call_status, count = 503, "?"
        call_end = time.time_ns()

        status = 200 if call_status < 500 else 502
        # End the server span before answering, as HTTP instrumentations do,
        # so it ends inside the caller's span.
        end = time.time_ns()
        if sampled:
            finished.put(
                [
                    span(trace_id, server_id, parent_id, "GET /stock",
                         SPAN_KIND_SERVER, start, end, status, request_id),
                    span(trace_id, client_id, server_id, "GET /count",
                         SPAN_KIND_CLIENT, call_start, call_end, call_status, request_id),
                ]
            )
        self.reply(status, f"{SERVICE}: {count} in stock\n".encode())

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def export(spans):
    payload = {
        "resourceSpans": [
            {
                "resource": {"attributes": [attribute("service.name", SERVICE)]},
                "scopeSpans": [{"scope": {"name": "inventory.py"}, "spans": spans}],
            }
        ]
    }
    request = urllib.request.Request(
        OTLP,
        data=json.dumps(payload).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        urllib.request.urlopen(request, timeout=5).close()
    except OSError as e:
        print(f"{SERVICE}: exporting {len(spans)} spans failed: {e}", file=sys.stderr)


def take_all(wait):
    spans = []
    try:
        spans.extend(finished.get(timeout=wait))
        while True:
            spans.extend(finished.get_nowait())
    except queue.Empty:
        pass
    return spans


def exporter(stop):
    """A batch span processor: ship what finished every 200 ms."""
    while not stop.is_set():
        spans = take_all(0.2)
        if spans:
            export(spans)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    stop = threading.Event()
    shipping = threading.Thread(target=exporter, args=(stop,))
    shipping.start()

    def on_sigterm(*_):
        # shutdown() waits for serve_forever to return: call it elsewhere.
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, on_sigterm)
    print(f"{SERVICE} listening on 127.0.0.1:{PORT}", file=sys.stderr, flush=True)
    server.serve_forever()
    server.server_close()
    stop.set()
    shipping.join()
    rest = take_all(0)
    if rest:
        export(rest)


if __name__ == "__main__":
    main()
