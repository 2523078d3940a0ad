package app

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/sqlite"
)

// Tracing flags that cannot work are refused at start, naming the flag:
// the exporter itself would fall back to localhost:4317 on a URL it cannot
// read, and spans would go nowhere without a word.
func TestCheckTracing(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string // "" accepts
	}{
		{Config{}, ""},
		{Config{TraceSampleRatio: 0.25}, ""},
		{Config{OTLPEndpoint: "otel-collector:4317"}, ""},
		{Config{OTLPEndpoint: "127.0.0.1:4317", OTLPInsecure: true}, ""},
		{Config{OTLPEndpoint: "http://otel-collector:4317"}, ""},
		{Config{OTLPEndpoint: "https://otel-collector:4317/"}, ""},
		{Config{OTLPEndpoint: "[::1]:4317"}, ""},
		{Config{TraceSampleRatio: -0.1}, "--trace-sample-ratio"},
		{Config{TraceSampleRatio: 1.5}, "--trace-sample-ratio"},
		{Config{TraceSampleRatio: math.NaN()}, "--trace-sample-ratio"},
		{Config{OTLPInsecure: true}, "--otlp-insecure needs --otlp-endpoint"},
		{Config{OTLPEndpoint: "otel-collector"}, "--otlp-endpoint"},
		{Config{OTLPEndpoint: ":4317"}, "--otlp-endpoint"},
		{Config{OTLPEndpoint: "grpc://otel-collector:4317"}, "--otlp-endpoint"},
		{Config{OTLPEndpoint: "http://otel-collector:4317/v1/traces"}, "--otlp-endpoint"},
		{Config{OTLPEndpoint: "https://otel-collector:4317", OTLPInsecure: true}, "--otlp-insecure"},
	} {
		err := checkTracing(tc.c)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.c, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want one naming %q", tc.c, err, tc.want)
		}
	}
}

func TestValidRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"":                        false,
		"a":                       true,
		"crm-7f3a/call:1":         true,
		strings.Repeat("x", 128):  true,
		strings.Repeat("x", 129):  false,
		"has space":               false,
		"tab\there":               false,
		"line\nbreak":             false,
		"café":                    false,
		"\x7f":                    false,
		"0b7e0e9d-2b4c-4d7e-9c3f": true,
	} {
		if got := validRequestID(id); got != want {
			t.Errorf("validRequestID(%q) = %v, want %v", id, got, want)
		}
	}
	if id := newRequestID(); !validRequestID(id) || id == newRequestID() {
		t.Errorf("newRequestID: %q, invalid or repeated", id)
	}
}

// Without an endpoint or a provider tracing is nil, and nil installs
// nothing on the request path: no stats handler, no HTTP wrapper, no
// interceptor, no store decorator, no group-commit hook. This is what
// makes tracing free when it is off.
func TestTracingOffInstallsNothing(t *testing.T) {
	tr, err := newTracing(context.Background(), Config{TraceSampleRatio: 1})
	if err != nil || tr != nil {
		t.Fatalf("newTracing without an endpoint: %v, %v; want nil, nil", tr, err)
	}
	h := &struct{ http.Handler }{http.NotFoundHandler()}
	st := &struct{ ledger.Store }{}
	if tr.httpHandler(h) != http.Handler(h) || tr.store(st) != ledger.Store(st) ||
		tr.serverOptions() != nil || tr.localUnary() != nil || tr.batchContext() != nil {
		t.Error("tracing off still wraps something")
	}
	if err := tr.close(context.Background()); err != nil {
		t.Error(err)
	}
}

// The traced store keeps the backend's ledger.WriteNumberer, so turning
// tracing on does not send every write's readers through the sequencer.
func TestTracedStoreKeepsWriteNumbering(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "n.db"), sqlite.Options{Migrate: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	traced := (&tracing{tracer: noop.NewTracerProvider().Tracer("test")}).store(st)
	n, ok := traced.(ledger.WriteNumberer)
	if !ok {
		t.Fatal("the traced store is no ledger.WriteNumberer")
	}
	if _, numbers := n.NumberedAtWrite(); !numbers {
		t.Error("the traced SQLite store says it does not number at write")
	}
}
