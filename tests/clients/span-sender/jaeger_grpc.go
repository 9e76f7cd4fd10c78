package main

// Jaeger's protobuf model over gRPC (api_v2.CollectorService/PostSpans, the
// collector's port 14250), through jaeger-idl's generated client and model
// types: what jaeger-agent forwarded with. No Jaeger client library speaks
// this itself, so the spans are built here from the plan, as the agent
// built them from the thrift it received.

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"

	gogoproto "github.com/gogo/protobuf/proto"
	model "github.com/jaegertracing/jaeger-idl/model/v1"
	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
)

func sendWithJaegerGRPC(ctx context.Context, opts options, plan []plannedSpan) (string, error) {
	callOptions := []grpc.CallOption{grpc.ForceCodec(gogoCodec{})}
	if opts.gzip {
		callOptions = append(callOptions, grpc.UseCompressor(gzip.Name))
	}
	conn, err := grpc.NewClient(opts.endpoint,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(callOptions...))
	if err != nil {
		return "", err
	}
	defer conn.Close()

	traceID := model.NewTraceID(randomID(), randomID())
	rootID := model.NewSpanID(randomID())
	tags := jaegerModelTags(spanTags(opts.protocol))
	spans := make([]*model.Span, 0, len(plan))
	for i, planned := range plan {
		span := &model.Span{
			TraceID:       traceID,
			SpanID:        rootID,
			OperationName: planned.name,
			Flags:         model.SampledFlag,
			StartTime:     planned.start,
			Duration:      planned.duration,
			Tags:          append([]model.KeyValue{model.String("span.kind", "server")}, tags...),
		}
		if i > 0 {
			span.SpanID = model.NewSpanID(randomID())
			span.References = []model.SpanRef{model.NewChildOfRef(traceID, rootID)}
			span.Tags[0] = model.String("span.kind", "client")
		}
		spans = append(spans, span)
	}
	request := &api_v2.PostSpansRequest{Batch: model.Batch{
		Process: model.NewProcess(opts.service, nil),
		Spans:   spans,
	}}
	if _, err := api_v2.NewCollectorServiceClient(conn).PostSpans(ctx, request); err != nil {
		return traceIDHex(traceID.High, traceID.Low), err
	}
	return traceIDHex(traceID.High, traceID.Low), nil
}

func jaegerModelTags(tags []spanTag) []model.KeyValue {
	values := make([]model.KeyValue, 0, len(tags))
	for _, tag := range tags {
		switch v := tag.value.(type) {
		case string:
			values = append(values, model.String(tag.key, v))
		case int64:
			values = append(values, model.Int64(tag.key, v))
		case bool:
			values = append(values, model.Bool(tag.key, v))
		case float64:
			values = append(values, model.Float64(tag.key, v))
		}
	}
	return values
}

// randomID is a random non-zero 64-bit id.
func randomID() uint64 {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(fmt.Sprintf("no randomness: %v", err))
		}
		if id := binary.BigEndian.Uint64(b[:]); id != 0 {
			return id
		}
	}
}

// gogoCodec marshals jaeger-idl's gogo-generated messages with gogo itself
// (their custom id and time types are beyond the standard proto codec), as
// Jaeger's own gRPC clients do.
type gogoCodec struct{}

func (gogoCodec) Marshal(v any) ([]byte, error) { return gogoproto.Marshal(v.(gogoproto.Message)) }

func (gogoCodec) Unmarshal(data []byte, v any) error {
	return gogoproto.Unmarshal(data, v.(gogoproto.Message))
}

func (gogoCodec) Name() string { return "proto" }
