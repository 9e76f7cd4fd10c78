# Shared by the NixOS tests (spliced into their test scripts) and by
# scripts/check-nix.sh (against a real Jaeger on this machine): read Jaeger's
# own query API from a test machine and check the traces in it.
import json
import time

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


def wait_for_trace(machine, trace_id, spans, timeout=60):
    """Jaeger's trace `trace_id` once it holds `spans` spans (the receivers
    batch before storing); fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        rc, body = machine.execute(f"curl --silent --show-error 'http://jaeger:16686/api/traces/{trace_id}'")
        if rc == 0:
            data = json.loads(body).get("data") or []
            if data and len(data[0]["spans"]) >= spans:
                return data[0]
        assert time.monotonic() < deadline, f"trace {trace_id} has not {spans} spans in Jaeger: {body}"
        time.sleep(1)


def tag_values(span):
    """A span's tags as text: Zipkin sends every tag as a string."""
    return {t["key"]: str(t["value"]).lower() for t in span["tags"]}


def assert_sent_trace(machine, trace_id, service, protocol, spans=2):
    """The trace span-sender sent over `protocol`, read back from Jaeger: a
    SERVER span "root" of `service` with CLIENT children under it, each
    carrying span-sender's tags."""
    trace = wait_for_trace(machine, trace_id, spans)
    assert len(trace["spans"]) == spans, f"{protocol}: {len(trace['spans'])} spans, not {spans}"
    services = {pid: p["serviceName"] for pid, p in trace["processes"].items()}
    by_name = {s["operationName"]: s for s in trace["spans"]}
    root = by_name.get("root")
    assert root is not None, f"{protocol}: no root span in {sorted(by_name)}"
    for span in trace["spans"]:
        where = f"{protocol}: span {span['operationName']}"
        assert span["traceID"] == trace_id, f"{where} has trace id {span['traceID']}, not {trace_id}"
        assert services[span["processID"]] == service, f"{where} is of {services[span['processID']]}"
        tags = tag_values(span)
        expected = {"test.string": "span-sender", "test.int": "42", "test.bool": "true", "test.double": "2.5"}
        for key, value in expected.items():
            assert tags.get(key) == value, f"{where}: tag {key} is {tags.get(key)!r}, not {value!r}"
        parents = [r["spanID"] for r in span["references"] if r["refType"] == "CHILD_OF"]
        if span is root:
            assert tags.get("span.kind") == "server" and not parents, f"{where}: not a server root: {span}"
        else:
            assert tags.get("span.kind") == "client", f"{where}: not a client span"
            assert parents == [root["spanID"]], f"{where}: parent {parents}, not the root {root['spanID']}"


def assert_default_sampling(machine, service, strategies):
    """Jaeger's remote sampling on 5778 answers `service` with the default
    strategy of the `strategies` file the module shipped."""
    body = machine.succeed(f"curl --fail --silent --show-error 'http://jaeger:5778/sampling?service={service}'")
    answer = json.loads(body)
    default = strategies["default_strategy"]
    assert default["type"] == "probabilistic", f"this check knows probabilistic defaults only: {default}"
    # The HTTP endpoint answers in the Jaeger clients' JSON: type 0 is PROBABILISTIC.
    assert answer.get("strategyType") in (0, "PROBABILISTIC"), f"not probabilistic: {answer}"
    rate = answer["probabilisticSampling"]["samplingRate"]
    assert rate == default["param"], f"sampling rate {rate}, not the shipped {default['param']}: {answer}"
