# Shared by the NixOS tests (spliced into their test scripts): read Jaeger's
# own query API from a test machine and check the sandbox's trace in it.
import json

SANDBOX_SPANS = sorted(
    [
        ("front-proxy", "checkAvailability"),
        ("service1", "checkAvailability"),
        ("service1", "checkStock"),
        ("service2", "checkStock"),
    ]
)


def jaeger_data(machine, path):
    """GET a Jaeger query API path from `machine`; the envelope's data."""
    body = machine.succeed(f"curl --fail --silent --show-error 'http://jaeger:16686{path}'")
    return json.loads(body)["data"]


def span_names(trace):
    services = {pid: p["serviceName"] for pid, p in trace["processes"].items()}
    return sorted((services[s["processID"]], s["operationName"]) for s in trace["spans"])


def chain_depth(trace):
    parent = {}
    for span in trace["spans"]:
        refs = [r["spanID"] for r in span["references"] if r["refType"] == "CHILD_OF"]
        parent[span["spanID"]] = refs[0] if refs else None
    deepest = 0
    for span_id in parent:
        depth = 1
        while parent.get(span_id) is not None:
            span_id = parent[span_id]
            depth += 1
        deepest = max(deepest, depth)
    return deepest


def assert_sandbox_in_jaeger(machine):
    """Jaeger lists the sandbox's services and holds one of its traces:
    4 spans, front-proxy -> service1 -> service2, a chain 4 deep."""
    services = jaeger_data(machine, "/api/services")
    for name in ["front-proxy", "service1", "service2"]:
        assert name in services, f"{name} is not among Jaeger's services {services}"
    traces = jaeger_data(
        machine, "/api/traces?service=front-proxy&operation=checkAvailability&limit=100"
    )
    sandbox = [t for t in traces if len(t["spans"]) == 4 and span_names(t) == SANDBOX_SPANS]
    assert sandbox, f"none of {len(traces)} front-proxy traces is the 4-span sandbox trace"
    assert chain_depth(sandbox[0]) == 4, f"not a chain: {sandbox[0]}"
