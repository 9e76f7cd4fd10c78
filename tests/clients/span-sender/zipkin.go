package main

// Zipkin v2 protobuf, through zipkin-go's tracer, its HTTP reporter and its
// proto3 serializer (what a Go service instrumented with zipkin-go sends).

import (
	"fmt"
	"log"
	"os"

	zipkingo "github.com/openzipkin/zipkin-go"
	"github.com/openzipkin/zipkin-go/model"
	"github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
	reporterhttp "github.com/openzipkin/zipkin-go/reporter/http"
)

func sendWithZipkinGo(opts options, plan []plannedSpan) (string, error) {
	endpoint, err := httpURL(opts.endpoint, "")
	if err != nil {
		return "", err
	}
	client, wire := newHTTPClient(opts.gzip, opts.timeout)
	reporter := reporterhttp.NewReporter(endpoint,
		reporterhttp.Serializer(zipkin_proto3.SpanSerializer{}),
		reporterhttp.Client(client),
		reporterhttp.Timeout(opts.timeout),
		// The whole trace in one request, nothing dropped.
		reporterhttp.BatchSize(len(plan)),
		reporterhttp.MaxBacklog(max(len(plan), 1000)),
		reporterhttp.Logger(log.New(os.Stderr, "span-sender: zipkin-go: ", 0)))

	local, err := zipkingo.NewEndpoint(opts.service, "")
	if err != nil {
		return "", err
	}
	tracer, err := zipkingo.NewTracer(reporter,
		zipkingo.WithLocalEndpoint(local),
		zipkingo.WithTraceID128Bit(true),
		zipkingo.WithSampler(zipkingo.AlwaysSample))
	if err != nil {
		return "", err
	}
	tags := spanTags(opts.protocol)

	rootPlan := plan[0]
	root := tracer.StartSpan(rootPlan.name, zipkingo.Kind(model.Server), zipkingo.StartTime(rootPlan.start))
	tagZipkinSpan(root, tags)
	for _, child := range plan[1:] {
		span := tracer.StartSpan(child.name,
			zipkingo.Kind(model.Client),
			zipkingo.Parent(root.Context()),
			zipkingo.StartTime(child.start))
		tagZipkinSpan(span, tags)
		span.FinishedWithDuration(child.duration)
	}
	root.FinishedWithDuration(rootPlan.duration)
	id := root.Context().TraceID
	traceID := traceIDHex(id.High, id.Low)

	// Close sends what is left and returns that request's error.
	if err := reporter.Close(); err != nil {
		return traceID, err
	}
	return traceID, wire.result()
}

// Zipkin's tags are strings: typed values are sent as their text.
func tagZipkinSpan(span zipkingo.Span, tags []spanTag) {
	for _, tag := range tags {
		span.Tag(tag.key, fmt.Sprint(tag.value))
	}
}
