// Command span-sender sends one trace to a tracing backend over one wire
// protocol, using only the official client libraries of that protocol:
//
//	otlp-http, otlp-http-json  go.opentelemetry.io/otel SDK + otlptracehttp
//	otlp-grpc                  go.opentelemetry.io/otel SDK + otlptracegrpc
//	zipkin-json                go.opentelemetry.io/otel SDK + exporters/zipkin (Zipkin v2 JSON)
//	zipkin-proto               github.com/openzipkin/zipkin-go, HTTP reporter, proto3 serializer
//	jaeger-thrift-http         github.com/uber/jaeger-client-go, HTTP transport (thrift binary)
//	jaeger-compact             github.com/uber/jaeger-client-go, UDP agent transport (thrift compact)
//	jaeger-binary              github.com/uber/jaeger-client-go's agent client over UDP with
//	                           its thrift binary protocol (as the old jaeger-agent took on 6832)
//	jaeger-grpc                github.com/jaegertracing/jaeger-idl's api_v2 CollectorService
//	                           client and model (Jaeger's protobuf model, as jaeger-agent sent it)
//
// It exists so tests can prove that a receiver (tracelab's collector, a real
// Jaeger) takes what real instrumentation sends, not what a test author
// believes it sends. The trace is a SERVER root span "root" with --spans-1
// CLIENT children "child-1", "child-2", ..., each carrying the tags in
// spanTags. It prints the trace id (32 lowercase hex digits) on stdout and
// exits 0 when every export was accepted, 1 when one failed, 2 on bad usage.
// Over UDP nothing answers: exit 0 there means the datagrams were sent.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// The wire protocols, in the order --help lists them.
var protocols = []struct{ name, defaultEndpoint, about string }{
	{"otlp-http", "http://127.0.0.1:4318/v1/traces", "OTLP/HTTP protobuf (OpenTelemetry SDK)"},
	{"otlp-http-json", "http://127.0.0.1:4318/v1/traces", "OTLP/HTTP JSON (OpenTelemetry SDK)"},
	{"otlp-grpc", "127.0.0.1:4317", "OTLP/gRPC (OpenTelemetry SDK)"},
	{"zipkin-json", "http://127.0.0.1:9411/api/v2/spans", "Zipkin v2 JSON (OpenTelemetry Zipkin exporter)"},
	{"zipkin-proto", "http://127.0.0.1:9411/api/v2/spans", "Zipkin v2 protobuf (zipkin-go HTTP reporter)"},
	{"jaeger-thrift-http", "http://127.0.0.1:14268/api/traces", "Jaeger thrift over HTTP (jaeger-client-go)"},
	{"jaeger-compact", "127.0.0.1:6831", "Jaeger thrift compact over UDP (jaeger-client-go)"},
	{"jaeger-binary", "127.0.0.1:6832", "Jaeger thrift binary over UDP (jaeger-client-go agent client)"},
	{"jaeger-grpc", "127.0.0.1:14250", "Jaeger protobuf model over gRPC (jaeger-idl api_v2 client)"},
}

// options is the parsed command line.
type options struct {
	protocol string
	endpoint string
	service  string
	gzip     bool
	spans    int
	timeout  time.Duration
}

// errUsage marks a command-line mistake (exit 2).
var errUsage = errors.New("bad usage")

func main() {
	opts, err := parseArgs(os.Args[1:])
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "span-sender: %v\n", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.timeout)
	defer cancel()
	traceID, err := send(ctx, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "span-sender: %s to %s failed: %v\n", opts.protocol, opts.endpoint, err)
		os.Exit(1)
	}
	fmt.Println(traceID)
}

func parseArgs(args []string) (options, error) {
	var opts options
	fs := flag.NewFlagSet("span-sender", flag.ContinueOnError)
	fs.StringVar(&opts.protocol, "protocol", "", "wire protocol (required; see below)")
	fs.StringVar(&opts.endpoint, "endpoint", "", "a URL for HTTP protocols, host:port for gRPC and UDP (default: the protocol's port on 127.0.0.1)")
	fs.StringVar(&opts.service, "service", "span-sender", "service name of both spans")
	fs.BoolVar(&opts.gzip, "gzip", false, "gzip the request body (HTTP and gRPC protocols)")
	fs.IntVar(&opts.spans, "spans", 2, "spans in the trace: the server root and N-1 client children")
	fs.DurationVar(&opts.timeout, "timeout", 10*time.Second, "give up on the export after this long (no retries)")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintln(out, "Usage: span-sender --protocol P [--endpoint E] [--service S] [--gzip] [--spans N]")
		fmt.Fprintln(out, "\nSends one trace with an official client library, prints its trace id (32 hex")
		fmt.Fprintln(out, "digits) and exits 0 when the export was accepted, 1 when it failed, 2 on bad usage.")
		fmt.Fprintln(out, "\nFlags:")
		fs.PrintDefaults()
		fmt.Fprintln(out, "\nProtocols (default endpoint):")
		for _, p := range protocols {
			fmt.Fprintf(out, "  %-19s %-36s %s\n", p.name, p.defaultEndpoint, p.about)
		}
	}
	if err := fs.Parse(args); err != nil {
		return opts, err
	}
	if fs.NArg() > 0 {
		return opts, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	known := false
	for _, p := range protocols {
		if p.name == opts.protocol {
			known = true
			if opts.endpoint == "" {
				opts.endpoint = p.defaultEndpoint
			}
		}
	}
	switch {
	case !known:
		return opts, fmt.Errorf("%w: --protocol must be one of %s", errUsage, protocolNames())
	case opts.spans < 1:
		return opts, fmt.Errorf("%w: --spans must be at least 1", errUsage)
	case opts.service == "":
		return opts, fmt.Errorf("%w: --service must not be empty", errUsage)
	case opts.gzip && (opts.protocol == "jaeger-compact" || opts.protocol == "jaeger-binary"):
		return opts, fmt.Errorf("%w: --gzip applies to HTTP and gRPC, not to UDP (%s)", errUsage, opts.protocol)
	case opts.timeout <= 0:
		return opts, fmt.Errorf("%w: --timeout must be positive", errUsage)
	}
	return opts, checkEndpoint(opts)
}

// checkEndpoint: a URL for HTTP protocols, host:port for UDP, either for gRPC.
func checkEndpoint(opts options) error {
	if isHTTP(opts.protocol) || (opts.protocol == "otlp-grpc" && strings.Contains(opts.endpoint, "://")) {
		_, err := httpURL(opts.endpoint, "")
		return err
	}
	if _, _, err := net.SplitHostPort(opts.endpoint); err != nil {
		return fmt.Errorf("%w: --endpoint must be host:port for %s, not %q", errUsage, opts.protocol, opts.endpoint)
	}
	return nil
}

func isHTTP(protocol string) bool {
	switch protocol {
	case "otlp-grpc", "jaeger-grpc", "jaeger-compact", "jaeger-binary":
		return false
	}
	return true
}

func protocolNames() string {
	names := make([]string, len(protocols))
	for i, p := range protocols {
		names[i] = p.name
	}
	return strings.Join(names, ", ")
}

func send(ctx context.Context, opts options) (string, error) {
	plan := planTrace(opts.spans, time.Now())
	switch opts.protocol {
	case "otlp-http", "otlp-http-json", "otlp-grpc", "zipkin-json":
		return sendWithOTel(ctx, opts, plan)
	case "zipkin-proto":
		return sendWithZipkinGo(opts, plan)
	case "jaeger-grpc":
		return sendWithJaegerGRPC(ctx, opts, plan)
	default:
		return sendWithJaegerClient(opts, plan)
	}
}

// plannedSpan is one span of the trace, independent of any library.
type plannedSpan struct {
	name     string
	server   bool // the root is a SERVER span, the children CLIENT spans
	start    time.Time
	duration time.Duration
}

// planTrace lays the trace out in time: the root spans 10 ms ending now-ish,
// each child sits inside it, one after another.
func planTrace(spans int, now time.Time) []plannedSpan {
	rootStart := now.Add(-20 * time.Millisecond)
	plan := []plannedSpan{{name: "root", server: true, start: rootStart, duration: 10 * time.Millisecond}}
	step := 8 * time.Millisecond / time.Duration(spans)
	for i := 1; i < spans; i++ {
		plan = append(plan, plannedSpan{
			name:     fmt.Sprintf("child-%d", i),
			start:    rootStart.Add(time.Millisecond + time.Duration(i-1)*step),
			duration: step / 2,
		})
	}
	return plan
}

// spanTag is one tag every span carries, typed where the wire format has
// types (OTLP, Jaeger thrift); Zipkin's tags are strings, so there the
// values arrive as "42", "true", "2.5".
type spanTag struct {
	key   string
	value any
}

func spanTags(protocol string) []spanTag {
	return []spanTag{
		{"sender.protocol", protocol},
		{"test.string", "span-sender"},
		{"test.int", int64(42)},
		{"test.bool", true},
		{"test.double", 2.5},
	}
}

// traceIDHex formats a 128-bit trace id as 32 lowercase hex digits.
func traceIDHex(high, low uint64) string {
	return fmt.Sprintf("%016x%016x", high, low)
}
