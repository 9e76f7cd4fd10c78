package main

// Jaeger thrift, through jaeger-client-go: its HTTP transport (thrift binary
// POSTed to a collector's /api/traces), its UDP transport (thrift compact to
// an agent port, 6831), and for 6832 its agent client over the library's
// thrift binary protocol (the library itself only speaks compact over UDP).

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"

	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	jaeger "github.com/uber/jaeger-client-go"
	"github.com/uber/jaeger-client-go/thrift"
	"github.com/uber/jaeger-client-go/thrift-gen/agent"
	j "github.com/uber/jaeger-client-go/thrift-gen/jaeger"
	"github.com/uber/jaeger-client-go/transport"
	"github.com/uber/jaeger-client-go/utils"
)

func sendWithJaegerClient(opts options, plan []plannedSpan) (string, error) {
	sender, wire, err := newJaegerTransport(opts, len(plan))
	if err != nil {
		return "", err
	}
	defer sender.Close()

	// Spans are collected, then handed to the transport here, so a failed
	// send is an error rather than a log line of the async RemoteReporter.
	collected := &collectingReporter{}
	tracer, closer := jaeger.NewTracer(opts.service, jaeger.NewConstSampler(true), collected,
		jaeger.TracerOptions.Gen128Bit(true),
		jaeger.TracerOptions.Logger(jaegerLogger{}))
	defer closer.Close()
	tags := spanTags(opts.protocol)

	rootPlan := plan[0]
	root := tracer.StartSpan(rootPlan.name, ext.SpanKindRPCServer, opentracing.StartTime(rootPlan.start))
	tagJaegerSpan(root, tags)
	for _, child := range plan[1:] {
		span := tracer.StartSpan(child.name,
			opentracing.ChildOf(root.Context()),
			ext.SpanKindRPCClient,
			opentracing.StartTime(child.start))
		tagJaegerSpan(span, tags)
		span.FinishWithOptions(opentracing.FinishOptions{FinishTime: child.start.Add(child.duration)})
	}
	root.FinishWithOptions(opentracing.FinishOptions{FinishTime: rootPlan.start.Add(rootPlan.duration)})
	id := root.Context().(jaeger.SpanContext).TraceID()
	traceID := traceIDHex(id.High, id.Low)

	if len(collected.spans) != len(plan) {
		return traceID, fmt.Errorf("the tracer reported %d of %d spans", len(collected.spans), len(plan))
	}
	for _, span := range collected.spans {
		if _, err := sender.Append(span); err != nil {
			return traceID, err
		}
	}
	if _, err := sender.Flush(); err != nil {
		return traceID, err
	}
	if wire != nil {
		return traceID, wire.result()
	}
	return traceID, nil
}

func newJaegerTransport(opts options, spans int) (jaeger.Transport, *wireLog, error) {
	switch opts.protocol {
	case "jaeger-thrift-http":
		endpoint, err := httpURL(opts.endpoint, "/api/traces")
		if err != nil {
			return nil, nil, err
		}
		_, wire := newHTTPClient(opts.gzip, opts.timeout)
		return transport.NewHTTPTransport(endpoint,
			transport.HTTPRoundTripper(wire),
			transport.HTTPTimeout(opts.timeout),
			transport.HTTPBatchSize(spans)), wire, nil
	case "jaeger-compact":
		sender, err := jaeger.NewUDPTransportWithParams(jaeger.UDPTransportParams{
			AgentClientUDPParams: utils.AgentClientUDPParams{
				HostPort:                   opts.endpoint,
				Logger:                     jaegerLogger{},
				DisableAttemptReconnecting: true,
			},
		})
		return sender, nil, err
	default:
		sender, err := newBinaryUDPTransport(opts.endpoint)
		return sender, nil, err
	}
}

func tagJaegerSpan(span opentracing.Span, tags []spanTag) {
	for _, tag := range tags {
		span.SetTag(tag.key, tag.value)
	}
}

// collectingReporter keeps every finished span for the transport.
type collectingReporter struct {
	spans []*jaeger.Span
}

func (r *collectingReporter) Report(span *jaeger.Span) {
	r.spans = append(r.spans, span.Retain())
}

func (r *collectingReporter) Close() {}

// binaryUDPTransport sends jaeger.Batch as the agent's emitBatch call in
// thrift binary, one datagram per batch that fits UDP's 65000 bytes.
type binaryUDPTransport struct {
	conn    *net.UDPConn
	process *j.Process
	spans   []*j.Span
}

func newBinaryUDPTransport(hostPort string) (*binaryUDPTransport, error) {
	addr, err := net.ResolveUDPAddr("udp", hostPort)
	if err != nil {
		return nil, fmt.Errorf("%w: --endpoint must be host:port for UDP: %v", errUsage, err)
	}
	conn, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		return nil, err
	}
	return &binaryUDPTransport{conn: conn}, nil
}

func (t *binaryUDPTransport) Append(span *jaeger.Span) (int, error) {
	if t.process == nil {
		t.process = jaeger.BuildJaegerProcessThrift(span)
	}
	t.spans = append(t.spans, jaeger.BuildJaegerThrift(span))
	return 0, nil
}

func (t *binaryUDPTransport) Flush() (int, error) {
	spans := t.spans
	t.spans = nil
	return len(spans), t.emit(spans)
}

func (t *binaryUDPTransport) emit(spans []*j.Span) error {
	if len(spans) == 0 {
		return nil
	}
	buffer := thrift.NewTMemoryBufferLen(utils.UDPPacketMaxLength)
	client := agent.NewAgentClientFactory(buffer, thrift.NewTBinaryProtocolFactoryConf(nil))
	if err := client.EmitBatch(context.Background(), &j.Batch{Process: t.process, Spans: spans}); err != nil {
		return err
	}
	if buffer.Len() > utils.UDPPacketMaxLength {
		if len(spans) == 1 {
			return fmt.Errorf("one span takes %d bytes, more than a UDP datagram's %d", buffer.Len(), utils.UDPPacketMaxLength)
		}
		half := len(spans) / 2
		if err := t.emit(spans[:half]); err != nil {
			return err
		}
		return t.emit(spans[half:])
	}
	_, err := t.conn.Write(buffer.Bytes())
	return err
}

func (t *binaryUDPTransport) Close() error {
	return t.conn.Close()
}

// jaegerLogger sends the library's log lines to stderr, marked as ours.
type jaegerLogger struct{}

func (jaegerLogger) Error(msg string) {
	log.New(os.Stderr, "", 0).Printf("span-sender: jaeger-client: %s", msg)
}

func (jaegerLogger) Infof(msg string, args ...interface{}) {
	log.New(os.Stderr, "", 0).Printf("span-sender: jaeger-client: "+msg, args...)
}

func (jaegerLogger) Debugf(string, ...interface{}) {}
