#!/usr/bin/env python3
"""tracelab's benchmarks, each printed as a ratio measured in the same run.

Run through scripts/bench.sh, which builds the release binaries and the
tools first. Every figure is measured here, on this machine, in this run;
nothing is compared with a number from somewhere else.

  1. time to verdict: scenarios/jaeger.rhai, embedded collector vs --jaeger-bin
  2. traffic generator: tracelab's generator vs oha on one static endpoint
  3. mesh overhead: the sandbox mesh with tracing on, off, and a bare hyper
  4. collector ingest: `tracelab collector` vs Jaeger v2, same OTLP load
  5. scale: the sandbox with 1M requests (open model), embedded and
     --jaeger-url, its peak RSS read as it passes 100k, 300k and 1M
  6. gRPC ingest: `tracelab collector` vs Jaeger v2, same OTLP/gRPC load

`--write docs/benchmarks.md` replaces the table between the markers there.
"""

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRACELAB = ROOT / "target/release/tracelab"
HARNESS = ROOT / "target/release/examples/bench"
TABLE_START = "<!-- bench:start -->"
TABLE_END = "<!-- bench:end -->"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(text):
    print(text, file=sys.stderr, flush=True)


class Server:
    """A background process that prints where it listens; stopped on exit."""

    def __init__(self, argv, ready, env=None):
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "NO_COLOR": "1", **(env or {})},
        )
        self.lines = []
        deadline = time.monotonic() + 60
        while not ready(self.lines):
            line = self.proc.stdout.readline()
            if not line or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{argv[0]} did not start: {''.join(self.lines)}")
            self.lines.append(line)

    def url_after(self, label):
        for line in self.lines:
            if label in line:
                return line.split()[-1]
        raise RuntimeError(f"no {label!r} in {''.join(self.lines)}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.stop()


def run_json(argv):
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def oha(url, requests, concurrency, oha_bin):
    report = run_json(
        [oha_bin, "--no-tui", "--output-format", "json",
         "-n", str(requests), "-c", str(concurrency), url]
    )
    summary, pct = report["summary"], report["latencyPercentiles"]
    return {
        "rps": summary["requestsPerSec"],
        "p50_ms": pct["p50"] * 1000,
        "p99_ms": pct["p99"] * 1000,
    }


def generator(url, requests, concurrency):
    return run_json(
        [HARNESS, "load", "--url", url, "-n", str(requests), "-c", str(concurrency)]
    )


def median_of(samples, key):
    return statistics.median(s[key] for s in samples)


# 1. Time to verdict -------------------------------------------------------


def time_to_verdict(args):
    scenario = str(ROOT / "scenarios/jaeger.rhai")
    cases = {"embedded": [TRACELAB, "-q", scenario]}
    if args.jaeger_bin:
        cases["jaeger"] = [TRACELAB, "-q", "--jaeger-bin", args.jaeger_bin, scenario]
    seconds = {}
    for name, argv in cases.items():
        runs = []
        for _ in range(args.verdict_runs):
            start = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
            runs.append(time.perf_counter() - start)
        seconds[name] = statistics.median(runs)
        log(f"  time to verdict, {name}: {seconds[name]:.3f} s (median of {len(runs)})")
    rows = [
        ("1", "time to verdict, `scenarios/jaeger.rhai` (10 requests), embedded collector",
         f"{seconds['embedded']:.3f} s", "< 0.5 s", seconds["embedded"] < 0.5),
    ]
    if "jaeger" in seconds:
        ratio = seconds["jaeger"] / seconds["embedded"]
        rows.append(
            ("1", "time to verdict, `--jaeger-bin` (starts a real Jaeger) ÷ embedded",
             f"{seconds['jaeger']:.3f} s = {ratio:.1f}×", "", None)
        )
    return rows, seconds


# 2. Traffic generator vs oha ---------------------------------------------


def generator_vs_oha(args):
    port = free_port()
    with Server([HARNESS, "hello", "--port", str(port)], lambda l: bool(l)):
        url = f"http://127.0.0.1:{port}/"
        oha(url, 2_000, args.concurrency, args.oha)  # warm up
        ours, theirs = [], []
        for _ in range(args.repeats):  # alternate, so drift hits both alike
            theirs.append(oha(url, args.requests, args.concurrency, args.oha))
            ours.append(generator(url, args.requests, args.concurrency))
    rps = median_of(ours, "rps") / median_of(theirs, "rps")
    p99 = median_of(ours, "p99_ms") / median_of(theirs, "p99_ms")
    log(f"  generator: {median_of(ours, 'rps'):.0f} req/s vs oha {median_of(theirs, 'rps'):.0f}")
    return [
        ("2", f"traffic generator ÷ oha, requests/s ({args.requests} requests, {args.concurrency} connections, bare hyper endpoint)",
         f"{median_of(ours, 'rps'):.0f} ÷ {median_of(theirs, 'rps'):.0f} = {rps:.2f}×", "≥ 1.0×", rps >= 1.0),
        ("2", "traffic generator ÷ oha, p99 latency",
         f"{median_of(ours, 'p99_ms'):.2f} ÷ {median_of(theirs, 'p99_ms'):.2f} ms = {p99:.2f}×", "≤ 1.0×", p99 <= 1.0),
    ]


# 3. Mesh overhead ---------------------------------------------------------


def mesh_overhead(args):
    scenario = str(ROOT / "scenarios/jaeger.rhai")
    results = {}

    def measure(name, url):
        oha(url, 2_000, args.concurrency, args.oha)  # warm up
        samples = [oha(url, args.requests, args.concurrency, args.oha) for _ in range(args.repeats)]
        results[name] = {k: median_of(samples, k) for k in ("rps", "p50_ms", "p99_ms")}
        log(f"  mesh, {name}: {results[name]['rps']:.0f} req/s, p99 {results[name]['p99_ms']:.2f} ms")

    port = free_port()
    with Server([HARNESS, "hello", "--port", str(port)], lambda l: bool(l)):
        measure("bare hyper", f"http://127.0.0.1:{port}/")
    for name, extra in (("tracing off", ["--no-tracing"]), ("tracing on", [])):
        argv = [TRACELAB, "up", scenario, "--port", "front-proxy=0", "--free-ports",
                "--max-traces", "1000000", *extra]
        with Server(argv, lambda l: any("trace viewer" in x for x in l)) as up:
            measure(name, up.url_after("curl"))
    on, off, bare = results["tracing on"], results["tracing off"], results["bare hyper"]
    cost = 1 - on["rps"] / off["rps"]

    def cell(r):
        return f"{r['rps']:.0f} req/s, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms"

    pinned = mesh_overhead_pinned(args, scenario) if shutil.which("taskset") else []
    return [
        ("3", "bare hyper hello-world (one hop, the ceiling)", cell(bare), "", None),
        ("3", "sandbox mesh (3 hops), tracing off", cell(off), "", None),
        ("3", "sandbox mesh (3 hops), tracing on", cell(on), "", None),
        ("3", "tracing on ÷ off, requests/s", f"{on['rps'] / off['rps']:.2f}× (tracing costs {cost:.0%})",
         "cost < 15%", cost < 0.15),
        ("3", "tracing off ÷ bare hyper, requests/s", f"{off['rps'] / bare['rps']:.2f}×", "", None),
    ] + pinned


def pinned(core, argv):
    return ["taskset", "-c", str(core), *argv]


def mesh_overhead_pinned(args, scenario):
    """The mesh alone on core 0 both ways; the load (tracelab's generator)
    on core 1, with the collector: in its own process (`tracelab
    collector`, as Jaeger is in the sandbox) or in the mesh's (`tracelab
    up`). Tracing off and on alternate, `--repeats` times; medians."""
    samples = {}

    def load(url):
        return run_json(pinned(1, [HARNESS, "load", "--url", url,
                                   "-n", str(args.requests), "-c", str(args.concurrency)]))

    def warm_up(url):
        run_json(pinned(1, [HARNESS, "load", "--url", url, "-n", "2000", "-c", str(args.concurrency)]))

    def own_process(tracing):
        collector = Server(pinned(1, [TRACELAB, "collector", "--free-ports", "--max-traces", "1000000"]),
                           lambda l: any("SIGINT" in x for x in l))
        with collector:
            otlp = collector.url_after("OTLP/HTTP").removesuffix("/v1/traces")
            argv = [TRACELAB, "serve", scenario, "--port", "front-proxy=0", "--port", "service1=0",
                    "--port", "service2=0", "--otlp-endpoint", otlp]
            if not tracing:
                argv.append("--no-tracing")
            with Server(pinned(0, argv), lambda l: any("ready" in x for x in l)) as serve:
                front = next(x for x in serve.lines if x.strip().startswith("front-proxy"))
                url = f"http://{front.split()[-1]}/trace/1"
                warm_up(url)
                return load(url)

    def same_process(tracing):
        argv = [TRACELAB, "up", scenario, "--port", "front-proxy=0", "--free-ports",
                "--max-traces", "1000000", *([] if tracing else ["--no-tracing"])]
        with Server(pinned(0, argv), lambda l: any("trace viewer" in x for x in l)) as up:
            url = up.url_after("curl")
            warm_up(url)
            return load(url)

    cases = {("own", False): lambda: own_process(False), ("own", True): lambda: own_process(True),
             ("same", False): lambda: same_process(False), ("same", True): lambda: same_process(True)}
    for _ in range(args.repeats):  # alternate, so drift hits every case alike
        for key, measure in cases.items():
            samples.setdefault(key, []).append(measure())
    med = {k: {m: median_of(v, m) for m in ("rps", "p50_ms", "p99_ms")} for k, v in samples.items()}
    for (where, tracing), r in med.items():
        log(f"  mesh pinned, collector {where} process, tracing {'on' if tracing else 'off'}: "
            f"{r['rps']:.0f} req/s (runs: {[round(s['rps']) for s in samples[(where, tracing)]]})")

    def cell(r):
        return f"{r['rps']:.0f} req/s, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms"

    own = med[("own", True)]["rps"] / med[("own", False)]["rps"]
    same = med[("same", True)]["rps"] / med[("same", False)]["rps"]
    runs = f"median of {args.repeats}, alternated"
    return [
        ("3", "mesh on core 0 (`taskset`), collector in its own process on core 1, tracing off "
              "(`tracelab serve --no-tracing`; load: tracelab's generator on core 1)", cell(med[("own", False)]), "", None),
        ("3", "… tracing on (`tracelab serve` exporting to `tracelab collector`)", cell(med[("own", True)]), "", None),
        ("3", f"… tracing on ÷ off, collector in its own process ({runs})", f"{own:.2f}×", "≥ 0.85×", own >= 0.85),
        ("3", "mesh and collector in one process on core 0 (`tracelab up`), tracing off", cell(med[("same", False)]), "", None),
        ("3", "… tracing on", cell(med[("same", True)]), "", None),
        ("3", f"… tracing on ÷ off, collector in the mesh's process ({runs})", f"{same:.2f}×", "", None),
    ]


# 4. Collector ingest -------------------------------------------------------


JAEGER_CONFIG = """\
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [{processors}]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:{health}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: {max_traces}
  jaeger_query:
    enable_tracing: false
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:{query}
    grpc:
      endpoint: 127.0.0.1:{grpc}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp}
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
"""


def wait_http(url, seconds=60):
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def ingest(otlp, query, pid, args, grpc=False):
    """The harness's ingest against one collector: OTLP/HTTP to the
    `/v1/traces` URL `otlp`, or OTLP/gRPC to its root."""
    return run_json(
        [HARNESS, "ingest", *(["--grpc"] if grpc else []), "--otlp", otlp, "--query", query,
         "--pid", str(pid), "--spans", str(args.spans), "-c", "8"]
    )


def ingest_embedded(args, grpc=False):
    argv = [TRACELAB, "collector", "--free-ports", "--max-traces", str(args.spans)]
    # The banner's last line: every listener is printed above it.
    with Server(argv, lambda l: any("SIGINT" in x for x in l)) as c:
        query = c.url_after("query API").removesuffix("/api/services")
        otlp = c.url_after("OTLP/gRPC" if grpc else "OTLP/HTTP")
        return ingest(otlp, query, c.proc.pid, args, grpc)


@contextlib.contextmanager
def running_jaeger(jaeger_bin, config_template, max_traces, processors=""):
    """A Jaeger v2 on free loopback ports, memory storage; yields its query
    API root, its OTLP receiver's root and its pid, and stops it after."""
    ports = {k: free_port() for k in ("health", "query", "grpc", "otlp")}
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "jaeger.yaml"
        config.write_text(config_template.format(processors=processors, max_traces=max_traces, **ports))
        proc = subprocess.Popen([jaeger_bin, "--config", str(config)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            query = f"http://127.0.0.1:{ports['query']}"
            wait_http(f"{query}/api/services")
            yield query, f"http://127.0.0.1:{ports['otlp']}", proc.pid
        finally:
            proc.terminate()
            proc.wait()


def ingest_jaeger(args, processors):
    with running_jaeger(args.jaeger_bin, JAEGER_CONFIG, args.spans, processors) as (query, otlp, pid):
        return ingest(f"{otlp}/v1/traces", query, pid, args)


def alternate_ingest(cases, repeats, label):
    """Each ingest case `repeats` times, alternated so drift hits every case
    alike; a case that lost a trace or had an export refused stops the
    benchmark. Medians per case."""
    samples = {name: [] for name in cases}
    for _ in range(repeats):
        for name, measure in cases.items():
            r = measure()
            assert r["refused_batches"] == 0, f"{name} refused exports: {r}"
            assert r["complete_traces"] == r["traces"], f"{name} lost traces: {r}"
            r["kib_per_100k"] = memory_per_100k(r)
            samples[name].append(r)
            log(f"  {label}, {name}: {r['accepted_spans_per_s']:.0f} spans/s accepted, "
                f"{r['queryable_spans_per_s']:.0f} queryable, "
                f"{r['kib_per_100k'] / 1024:.1f} MiB per 100k spans (peak RSS)")
    return {name: {k: median_of(runs, k) for k in
                   ("accepted_spans_per_s", "queryable_spans_per_s", "kib_per_100k")}
            for name, runs in samples.items()}


def memory_per_100k(r):
    """Peak resident memory over the run, less the resident set before the
    load, per 100k spans stored: the same measure for both collectors."""
    return (r["rss_peak_kib"] - r["rss_before_kib"]) * 100_000 / r["spans"]


def collector_ingest(args):
    if not args.jaeger_bin:
        return []
    cases = {"embedded": lambda: ingest_embedded(args),
             "jaeger": lambda: ingest_jaeger(args, ""),
             "jaeger, batch": lambda: ingest_jaeger(args, "batch")}
    results = alternate_ingest(cases, args.ingest_repeats, "ingest")
    ours = results["embedded"]
    runs = f"{args.ingest_repeats} alternated runs, medians"
    rows = [
        ("4", f"embedded collector, {args.spans} spans (OTLP/HTTP protobuf, 8 connections; {runs})",
         f"{ours['accepted_spans_per_s']:.0f} spans/s accepted, {ours['queryable_spans_per_s']:.0f} queryable, "
         f"{ours['kib_per_100k'] / 1024:.1f} MiB per 100k spans", "", None),
    ]
    for name in ("jaeger", "jaeger, batch"):
        theirs = results[name]
        speed = ours["queryable_spans_per_s"] / theirs["queryable_spans_per_s"]
        memory = ours["kib_per_100k"] / theirs["kib_per_100k"]
        label = "Jaeger v2, memory storage" + (" + batch processor (its default pipeline)" if "batch" in name else ", no processor (as --jaeger-bin runs it)")
        rows += [
            ("4", label,
             f"{theirs['accepted_spans_per_s']:.0f} spans/s accepted, {theirs['queryable_spans_per_s']:.0f} queryable, "
             f"{theirs['kib_per_100k'] / 1024:.1f} MiB per 100k spans", "", None),
            ("4", f"embedded ÷ {name}: queryable spans/s", f"{speed:.1f}×", "≥ 3×", speed >= 3),
            ("4", f"embedded ÷ {name}: memory per span (peak RSS growth ÷ spans stored)", f"{memory:.2f}×",
             "≤ 0.5×", memory <= 0.5),
        ]
    return rows


# 6. gRPC ingest --------------------------------------------------------------
# The same batches as 4, as OTLP/gRPC Export calls over HTTP/2, to the
# embedded collector's 4317 and to Jaeger's OTLP gRPC receiver.


JAEGER_GRPC_CONFIG = JAEGER_CONFIG.replace(
    "      http:\n        endpoint: 127.0.0.1:{otlp}\n",
    "      grpc:\n        endpoint: 127.0.0.1:{otlp}\n",
)


def grpc_ingest_jaeger(args):
    with running_jaeger(args.jaeger_bin, JAEGER_GRPC_CONFIG, args.spans) as (query, otlp, pid):
        return ingest(otlp, query, pid, args, grpc=True)


def grpc_ingest(args):
    if not args.jaeger_bin:
        return []
    cases = {"embedded": lambda: ingest_embedded(args, grpc=True), "jaeger": lambda: grpc_ingest_jaeger(args)}
    results = alternate_ingest(cases, args.ingest_repeats, "gRPC ingest")
    ours, theirs = results["embedded"], results["jaeger"]
    speed = ours["queryable_spans_per_s"] / theirs["queryable_spans_per_s"]
    memory = ours["kib_per_100k"] / theirs["kib_per_100k"]
    return [
        ("6", f"embedded collector, {args.spans} spans (OTLP/gRPC, 8 HTTP/2 connections; "
              f"{args.ingest_repeats} alternated runs, medians)",
         f"{ours['accepted_spans_per_s']:.0f} spans/s accepted, {ours['queryable_spans_per_s']:.0f} queryable, "
         f"{ours['kib_per_100k'] / 1024:.1f} MiB per 100k spans", "", None),
        ("6", "Jaeger v2, OTLP/gRPC receiver, memory storage, no processor",
         f"{theirs['accepted_spans_per_s']:.0f} spans/s accepted, {theirs['queryable_spans_per_s']:.0f} queryable, "
         f"{theirs['kib_per_100k'] / 1024:.1f} MiB per 100k spans", "", None),
        ("6", "embedded ÷ jaeger over gRPC: queryable spans/s", f"{speed:.1f}×", "≥ 3×", speed >= 3),
        ("6", "embedded ÷ jaeger over gRPC: memory per span (peak RSS growth ÷ spans stored)", f"{memory:.2f}×",
         "≤ 0.5×", memory <= 0.5),
    ]


# 5. Scale --------------------------------------------------------------------
# The sandbox at soak lengths: traces are judged as they complete and then
# leave the collector, so peak memory should not grow with the run's length,
# and the verdict should follow the last request at once. Run against the
# embedded collector and, with --jaeger-bin, against a real Jaeger v2 that
# the run reads incrementally (--jaeger-url): there the figure is
# tracelab's own memory; Jaeger keeps its last `max_traces`.


SCALE_SCENARIO = """\
scenario("scale: {requests} requests");
proxy("front-proxy", #{{ routes: [route("/*", #{{ to: "service1", operation: "checkAvailability" }})] }});
service("service1", #{{ routes: [route("/trace/1", #{{
    calls: [request("service2", "/trace/2", #{{ operation: "checkStock" }})] }})] }});
service("service2", #{{ routes: [route("/trace/2", #{{}})] }});
traffic("open", #{{ rate: {rate}, duration: "{millis}ms", path: "/trace/1" }});
expect_traces("open",
    span("front-proxy", "checkAvailability", #{{ kind: "client" }}, [
        span("service1", "checkAvailability", #{{ kind: "server" }}, [
            span("service1", "checkStock", #{{ kind: "client" }}, [
                span("service2", "checkStock", #{{ kind: "server" }}),
            ]),
        ]),
    ]),
    #{{ name: "every trace is the sandbox chain" }});
expect_traces("open", span("front-proxy", "checkAvailability"),
    #{{ exactly: {requests}, mode: "loose", name: "one trace per request" }});
"""

# The Jaeger a --jaeger-url scale run reads: OTLP/HTTP in, memory storage
# bounded well above the traces in flight (the run reads each within
# moments of its request, and holds at most 10 000 unjudged), so Jaeger's
# own memory stays bounded too. The bound is reached early in the run
# (25 s in at 2000/s), so every checkpoint sees Jaeger in the same state:
# evicting its oldest traces as new ones come.
SCALE_JAEGER_TRACES = 50_000


def vm_kib(pid, field):
    """A `VmHWM`/`VmRSS` line of /proc/PID/status, in KiB (0 once gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def scale_run(checkpoints, rate, jaeger=None):
    """One run of max(checkpoints) requests at `rate`/s; `jaeger` = (query
    URL, OTLP URL). Its peak RSS is read as the schedule passes each
    checkpoint: how the peak grows with the run's length, in one run."""
    requests = max(checkpoints)
    # The script says rate × duration; "exactly N traces" needs that to be N.
    if requests * 1000 % rate:
        raise SystemExit(f"--scale-rate {rate} does not divide {requests} requests into whole milliseconds")
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "scale.rhai"
        script.write_text(SCALE_SCENARIO.format(requests=requests, rate=rate, millis=requests * 1000 // rate))
        report_path = Path(scratch) / "report.json"
        backend = ["--jaeger-url", jaeger[0], "--otlp-endpoint", jaeger[1]] if jaeger else []
        start = time.perf_counter()
        # Default settings on purpose: the collector's default trace bound,
        # traces judged as they complete and released once read.
        proc = subprocess.Popen(
            [TRACELAB, "-q", *backend, "--report", f"json={report_path}", str(script)],
            stdout=subprocess.DEVNULL,
        )
        # The peak so far (VmHWM), every 0.1 s, until the process is gone.
        peaks = []
        done = threading.Event()

        def sample():
            while not done.wait(0.1):
                hwm = vm_kib(proc.pid, "VmHWM")
                if hwm:
                    peaks.append((time.perf_counter() - start, hwm))

        sampler = threading.Thread(target=sample)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        if not report_path.exists():
            # A run that could not start (a bad flag, a dead Jaeger) fails
            # its rows; the benchmarks already measured are kept.
            return {"failed": f"tracelab exited {os.waitstatus_to_exitcode(status)} without a report "
                              "(its error is printed above)"}
        report = json.loads(report_path.read_text())
    scenario = report["scenarios"][0]
    traffic = scenario["traffic"][0]
    behind_s = traffic["schedule"]["behind_ms"] / 1000

    def peak_at(n):
        """Peak RSS when request n was due; the whole run's for the last."""
        if n == requests:
            return usage.ru_maxrss / 1024
        # Counted from process start, and the schedule from the mesh being
        # up (a fraction of a second later) and may run behind: this reads
        # the peak when at most request n had been sent, never later.
        due = n / rate
        return max((kib for t, kib in peaks if t <= due), default=0) / 1024

    return {
        "requests": requests,
        "sent": traffic["requests"],
        "exit": os.waitstatus_to_exitcode(status),
        "wall_s": wall,
        "traffic_s": traffic["elapsed_ms"] / 1000,
        "behind_s": behind_s,
        # Everything but the traffic: process start, mesh up, and after
        # the last request the flush, the last reads and the verdict.
        "verdict_s": wall - traffic["elapsed_ms"] / 1000,
        "peaks_mib": [peak_at(n) for n in checkpoints],
        "traces": scenario["traces"]["traces"],
        # No outcome is no verdict: never a pass.
        "checked": bool(scenario["outcomes"]) and all(o["passed"] for o in scenario["outcomes"]),
        "observed": [o["observed"] for o in scenario["outcomes"]][:2],
    }


def with_scale_jaeger(args, measure):
    with running_jaeger(args.jaeger_bin, JAEGER_CONFIG, SCALE_JAEGER_TRACES) as (query, otlp, _):
        return measure((query, otlp))


def short_count(n):
    """100000 → 100k, 1000000 → 1M."""
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def scale(args):
    checkpoints = args.scale_requests
    jaeger_rate = args.scale_jaeger_rate
    modes = {"embedded collector": (args.scale_rate, lambda: scale_run(checkpoints, args.scale_rate))}
    if args.jaeger_bin:
        modes["`--jaeger-url`, a real Jaeger v2"] = (jaeger_rate, lambda: with_scale_jaeger(
            args, lambda urls: scale_run(checkpoints, jaeger_rate, urls)))
    rows = []
    for mode, (rate, run) in modes.items():
        r = run()
        if "failed" in r:
            log(f"  scale, {mode}: {r['failed']}")
            rows.append(("5", f"{mode}: the sandbox at {rate}/s", r["failed"], "all pass", False))
            continue
        peaks = r["peaks_mib"]
        log(f"  scale, {mode}, {r['requests']} requests: exit {r['exit']}, {r['sent']} sent in {r['traffic_s']:.1f} s "
            f"(at most {r['behind_s']:.2f} s behind schedule), verdict {r['verdict_s']:.2f} s after, "
            f"peak RSS {' → '.join(f'{p:.0f}' for p in peaks)} MiB, {r['traces']} traces; {r['observed']}")
        flat = max(peaks) <= min(peaks) * 1.25
        rows += [
            ("5", f"{mode}: {r['requests']} requests of the sandbox at {rate}/s (open model), "
                  "every trace judged as it completes",
             f"exit {r['exit']}: {r['traces']} traces; {r['observed'][0]}; {r['observed'][1]}; "
             f"traffic {r['traffic_s']:.0f} s, at most {r['behind_s']:.2f} s behind schedule", "all pass",
             r["exit"] == 0 and r["checked"]),
            ("5", f"… peak RSS of tracelab as the run passes {', '.join(map(short_count, checkpoints))} requests",
             " → ".join(f"{p:.0f}" for p in peaks) + " MiB", "< 300 MiB, flat (±25%)",
             max(peaks) < 300 and flat),
            ("5", "… time to verdict after the last request (flush, last reads, checks, report; "
                  "includes process start)",
             f"{r['verdict_s']:.2f} s", "< 2 s", r["verdict_s"] < 2),
        ]
    return rows


# The table ---------------------------------------------------------------


def table(rows):
    lines = ["| # | measure | result | goal | |", "|---|---|---|---|---|"]
    for number, what, result, goal, met in rows:
        mark = "" if met is None else ("✔" if met else "✘")
        lines.append(f"| {number} | {what} | {result} | {goal} | {mark} |")
    return "\n".join(lines)


def machine():
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}"


def request_counts(text):
    """`--scale-requests`: positive whole numbers, comma-separated."""
    try:
        counts = sorted(int(n) for n in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give request counts as whole numbers, e.g. 100000,300000,1000000")
    if counts[0] <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: each count must be at least 1")
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jaeger-bin", default=os.environ.get("TRACELAB_JAEGER_BIN"))
    parser.add_argument("--oha", default="oha")
    parser.add_argument("--requests", type=int, default=100_000, help="per load measurement")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--verdict-runs", type=int, default=10)
    parser.add_argument("--spans", type=int, default=400_000, help="per ingest measurement")
    parser.add_argument("--ingest-repeats", type=int, default=3, help="alternated runs of each ingest case (4, 6)")
    parser.add_argument("--scale-requests", type=request_counts, default="100000,300000,1000000",
                        help="5's checkpoints, comma-separated: one run of the largest, its peak RSS "
                             "read as it passes each")
    parser.add_argument("--scale-rate", type=int, default=3_125,
                        help="requests/s of 5's embedded run (3125: held on 2 cores in every session; 6250 "
                             "held in some, 4000 fell seconds behind in others)")
    parser.add_argument("--scale-jaeger-rate", type=int, default=2_000,
                        help="requests/s of 5's --jaeger-url run (2000): Jaeger on the same cores takes as "
                             "much CPU as tracelab (3125 held in some sessions, not in others)")
    parser.add_argument("--only", default="1,2,3,4,5,6", help="which benchmarks, e.g. 2,3")
    parser.add_argument("--write", metavar="MARKDOWN", help="put the table in this file, between its markers")
    args = parser.parse_args()
    # Each case sets what it measures: the caller's tracelab defaults (e.g.
    # TRACELAB_JAEGER_BIN, which scripts/test-env setups export) must not
    # turn an embedded run into a Jaeger one.
    for name in [n for n in os.environ if n.startswith("TRACELAB_")]:
        del os.environ[name]
    if not args.jaeger_bin:
        log("no --jaeger-bin / TRACELAB_JAEGER_BIN: the Jaeger comparisons (1, 4, 6, and 5's --jaeger-url runs) are left out")

    benches = {"1": time_to_verdict, "2": generator_vs_oha, "3": mesh_overhead,
               "4": collector_ingest, "5": scale, "6": grpc_ingest}
    rows = []
    for number in args.only.split(","):
        log(f"benchmark {number} …")
        result = benches[number](args)
        rows += result[0] if isinstance(result, tuple) else result
    text = table(rows)
    print(text)
    if args.write:
        shown = [a for a in sys.argv[1:] if a not in (args.write, "--write", args.oha, "--oha",
                                                       args.jaeger_bin, "--jaeger-bin")]
        stamp = (f"Measured {time.strftime('%Y-%m-%d')} on {machine()} with "
                 f"`scripts/bench.sh{''.join(' ' + a for a in shown)}`.")
        page = Path(args.write)
        current = page.read_text()
        block = f"{TABLE_START}\n{stamp}\n\n{text}\n{TABLE_END}"
        page.write_text(re.sub(re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END),
                               lambda _: block, current, flags=re.S))
        log(f"wrote the table to {page}")
    return 1 if any(met is False for *_, met in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
