package main

// The HTTP client every HTTP protocol's library is given: it logs each
// request to stderr, remembers a failed one (some libraries only log a
// refused export), and gzips bodies for libraries that have no option of
// their own for it (Zipkin, Jaeger thrift).

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

type wireLog struct {
	gzipBodies bool // compress bodies the library sent uncompressed
	next       http.RoundTripper

	mu       sync.Mutex
	requests int
	failure  error
}

func newHTTPClient(gzipBodies bool, timeout time.Duration) (*http.Client, *wireLog) {
	log := &wireLog{gzipBodies: gzipBodies, next: http.DefaultTransport}
	return &http.Client{Transport: log, Timeout: timeout}, log
}

func (w *wireLog) RoundTrip(req *http.Request) (*http.Response, error) {
	if w.gzipBodies && req.Body != nil && req.Header.Get("Content-Encoding") == "" {
		req = req.Clone(req.Context()) // a RoundTripper must not change the caller's request
		if err := gzipBody(req); err != nil {
			return nil, err
		}
	}
	encoding := req.Header.Get("Content-Encoding")
	if encoding == "" {
		encoding = "identity"
	}
	resp, err := w.next.RoundTrip(req)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.requests++
	if err != nil {
		w.failure = err
		return nil, err
	}
	size := "streamed"
	if req.ContentLength >= 0 {
		size = fmt.Sprintf("%d bytes", req.ContentLength)
	}
	fmt.Fprintf(os.Stderr, "span-sender: %s %s (%s, %s, %s) -> %s\n",
		req.Method, req.URL, req.Header.Get("Content-Type"), encoding, size, resp.Status)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body = io.NopCloser(bytes.NewReader(body))
		w.failure = fmt.Errorf("%s %s answered %s: %s", req.Method, req.URL, resp.Status, bytes.TrimSpace(body))
	}
	return resp, nil
}

// result is the first failed request, or an error when none was made.
func (w *wireLog) result() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failure != nil {
		return w.failure
	}
	if w.requests == 0 {
		return fmt.Errorf("the library sent no request")
	}
	return nil
}

func gzipBody(req *http.Request) error {
	plain, err := io.ReadAll(req.Body)
	if err != nil {
		return err
	}
	_ = req.Body.Close()
	var packed bytes.Buffer
	zw := gzip.NewWriter(&packed)
	if _, err := zw.Write(plain); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	body := packed.Bytes()
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Encoding", "gzip")
	return nil
}
