package main

// OTLP (HTTP protobuf, HTTP JSON, gRPC) and Zipkin v2 JSON, through the
// OpenTelemetry Go SDK and its own exporters.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/zipkin"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func sendWithOTel(ctx context.Context, opts options, plan []plannedSpan) (string, error) {
	// The OTLP exporters gzip by themselves; Zipkin's has no option for it.
	client, wire := newHTTPClient(opts.gzip && opts.protocol == "zipkin-json", opts.timeout)
	exporter, err := newOTelExporter(ctx, opts, client)
	if err != nil {
		return "", err
	}
	checked := &countingExporter{SpanExporter: exporter}
	var handled handledErrors
	otel.SetErrorHandler(&handled)

	// One batch holds the whole trace, so it goes out in one request.
	batch := max(opts.spans, 512)
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", opts.service))),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithBatcher(checked,
			sdktrace.WithMaxQueueSize(batch),
			sdktrace.WithMaxExportBatchSize(batch),
			sdktrace.WithBlocking()),
	)
	tracer := provider.Tracer("tracelab/span-sender")
	attrs := otelAttributes(spanTags(opts.protocol))

	rootPlan := plan[0]
	rootCtx, root := tracer.Start(ctx, rootPlan.name,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(rootPlan.start),
		trace.WithAttributes(attrs...))
	for _, child := range plan[1:] {
		_, span := tracer.Start(rootCtx, child.name,
			trace.WithSpanKind(trace.SpanKindClient),
			trace.WithTimestamp(child.start),
			trace.WithAttributes(attrs...))
		span.End(trace.WithTimestamp(child.start.Add(child.duration)))
	}
	root.End(trace.WithTimestamp(rootPlan.start.Add(rootPlan.duration)))
	traceID := root.SpanContext().TraceID().String()

	// Shutdown flushes the batch and waits for the export.
	if err := provider.Shutdown(ctx); err != nil {
		return traceID, err
	}
	if err := checked.result(len(plan)); err != nil {
		return traceID, err
	}
	if err := handled.first(); err != nil {
		return traceID, err
	}
	if opts.protocol != "otlp-grpc" {
		if err := wire.result(); err != nil {
			return traceID, err
		}
	}
	return traceID, nil
}

func newOTelExporter(ctx context.Context, opts options, client *http.Client) (sdktrace.SpanExporter, error) {
	switch opts.protocol {
	case "otlp-grpc":
		grpcOpts := []otlptracegrpc.Option{
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}),
			otlptracegrpc.WithTimeout(opts.timeout),
		}
		if strings.Contains(opts.endpoint, "://") {
			grpcOpts = append(grpcOpts, otlptracegrpc.WithEndpointURL(opts.endpoint))
		} else {
			grpcOpts = append(grpcOpts, otlptracegrpc.WithEndpoint(opts.endpoint), otlptracegrpc.WithInsecure())
		}
		if opts.gzip {
			grpcOpts = append(grpcOpts, otlptracegrpc.WithCompressor("gzip"))
		}
		return otlptracegrpc.New(ctx, grpcOpts...)
	case "zipkin-json":
		if _, err := httpURL(opts.endpoint, ""); err != nil {
			return nil, err
		}
		return zipkin.New(opts.endpoint, zipkin.WithClient(client))
	default:
		endpoint, err := httpURL(opts.endpoint, "/v1/traces")
		if err != nil {
			return nil, err
		}
		httpOpts := []otlptracehttp.Option{
			otlptracehttp.WithEndpointURL(endpoint),
			otlptracehttp.WithHTTPClient(client),
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}),
			otlptracehttp.WithTimeout(opts.timeout),
		}
		if opts.gzip {
			httpOpts = append(httpOpts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		}
		if opts.protocol == "otlp-http-json" {
			httpOpts = append(httpOpts, otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON))
		}
		return otlptracehttp.New(ctx, httpOpts...)
	}
}

// httpURL checks an HTTP endpoint and gives it defaultPath when it has none.
func httpURL(endpoint, defaultPath string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: --endpoint must be an http:// or https:// URL, not %q", errUsage, endpoint)
	}
	if defaultPath != "" && (u.Path == "" || u.Path == "/") {
		u.Path = defaultPath
	}
	return u.String(), nil
}

func otelAttributes(tags []spanTag) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, len(tags))
	for _, tag := range tags {
		switch v := tag.value.(type) {
		case string:
			attrs = append(attrs, attribute.String(tag.key, v))
		case int64:
			attrs = append(attrs, attribute.Int64(tag.key, v))
		case bool:
			attrs = append(attrs, attribute.Bool(tag.key, v))
		case float64:
			attrs = append(attrs, attribute.Float64(tag.key, v))
		}
	}
	return attrs
}

// countingExporter remembers what the real exporter said and how many
// spans it accepted, since the batch processor only logs a failed export.
type countingExporter struct {
	sdktrace.SpanExporter

	mu       sync.Mutex
	exported int
	failure  error
}

func (c *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := c.SpanExporter.ExportSpans(ctx, spans)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.failure = err
	} else {
		c.exported += len(spans)
	}
	return err
}

func (c *countingExporter) result(want int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failure != nil {
		return c.failure
	}
	if c.exported != want {
		return fmt.Errorf("the exporter accepted %d of %d spans", c.exported, want)
	}
	return nil
}

// handledErrors collects what the SDK reports through otel.Handle.
type handledErrors struct {
	mu     sync.Mutex
	errors []error
}

func (h *handledErrors) Handle(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errors = append(h.errors, err)
}

func (h *handledErrors) first() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.errors) > 0 {
		return h.errors[0]
	}
	return nil
}
