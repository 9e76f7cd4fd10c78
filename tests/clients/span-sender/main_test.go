package main

import (
	"errors"
	"testing"
	"time"
)

func TestEveryProtocolHasADefaultEndpointThatParses(t *testing.T) {
	for _, p := range protocols {
		opts, err := parseArgs([]string{"--protocol", p.name})
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		if opts.endpoint != p.defaultEndpoint || opts.spans != 2 || opts.service != "span-sender" {
			t.Fatalf("%s: unexpected defaults %+v", p.name, opts)
		}
	}
}

func TestBadUsageIsRefusedBeforeAnythingIsSent(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--protocol", "jaeger-http"},
		{"--protocol", "jaeger-grpc", "--endpoint", "http://127.0.0.1:14250"},
		{"--protocol", "otlp-http", "--spans", "0"},
		{"--protocol", "otlp-http", "--endpoint", "127.0.0.1:4318"},
		{"--protocol", "zipkin-json", "--endpoint", "ftp://host/api/v2/spans"},
		{"--protocol", "jaeger-compact", "--endpoint", "http://127.0.0.1:6831"},
		{"--protocol", "jaeger-binary", "--gzip"},
		{"--protocol", "otlp-grpc", "--timeout", "0s"},
	} {
		if _, err := parseArgs(args); !errors.Is(err, errUsage) {
			t.Errorf("%v: want a usage error, got %v", args, err)
		}
	}
}

func TestOTLPHTTPEndpointGetsTheTracesPathWhenItHasNone(t *testing.T) {
	got, err := httpURL("http://collector:4318", "/v1/traces")
	if err != nil || got != "http://collector:4318/v1/traces" {
		t.Fatalf("got %q, %v", got, err)
	}
	got, err = httpURL("http://collector:4318/custom", "/v1/traces")
	if err != nil || got != "http://collector:4318/custom" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestTheTraceIsARootWithItsChildrenInsideIt(t *testing.T) {
	now := time.Now()
	plan := planTrace(5, now)
	if len(plan) != 5 || !plan[0].server || plan[0].name != "root" {
		t.Fatalf("unexpected plan %+v", plan)
	}
	rootEnd := plan[0].start.Add(plan[0].duration)
	for _, child := range plan[1:] {
		if child.server || child.start.Before(plan[0].start) || child.start.Add(child.duration).After(rootEnd) {
			t.Fatalf("child %+v is not inside the root %+v", child, plan[0])
		}
	}
}

func TestTraceIDsAre32LowercaseHexDigits(t *testing.T) {
	if got := traceIDHex(0, 0xabc); got != "00000000000000000000000000000abc" {
		t.Fatalf("got %q", got)
	}
}
