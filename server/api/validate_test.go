package api

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// The standard rules that stand for the ledger's own (rules.proto) are
// reported in the ledger's words, every one at once, each naming its
// field; and a request that breaks none reaches the handler.
func TestValidationSpeaksTheLedgersWords(t *testing.T) {
	t.Parallel()
	check := validateRequests(slog.New(slog.NewTextHandler(io.Discard, nil)))
	reached := false
	handler := func(context.Context, any) (any, error) { reached = true; return nil, nil }
	call := func(req any) error {
		_, err := check(t.Context(), req, &grpc.UnaryServerInfo{FullMethod: "/goodwill.v1.GoodwillService/RecordEvent"}, handler)
		return err
	}
	bad := &goodwillv1.RecordEventRequest{CustomerId: "-starts-with-a-dash", Event: &goodwillv1.Event{
		Kind: goodwillv1.EventKind_EVENT_KIND_CREDIT, CustomerId: "has space", IdempotencyKey: "key with space",
		Source: "crm\x00", Note: "a\x00b", Attributes: map[string]string{"k\x00": "v"},
	}}
	err := call(bad)
	if reached {
		t.Fatal("a bad request reached the handler")
	}
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code %v, want InvalidArgument: %v", st.Code(), err)
	}
	want := map[string]string{
		"customer_id":               "must start with a letter or digit and contain only letters, digits and . _ : @ -",
		"event.customer_id":         "must start with a letter or digit and contain only letters, digits and . _ : @ -",
		"event.idempotency_key":     "must be printable ASCII without spaces",
		"event.source":              "must be valid UTF-8 without NUL characters",
		"event.note":                "must be valid UTF-8 without NUL characters",
		`event.attributes["k\x00"]`: "must be valid UTF-8 without NUL characters",
	}
	got := map[string]string{}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				got[v.GetField()] = v.GetDescription()
			}
		}
	}
	for field, desc := range want {
		if got[field] != desc {
			t.Errorf("%s: %q, want %q (all: %q)", field, got[field], desc, got)
		}
	}
	if strings.Contains(st.Message(), "\x00") || strings.Contains(st.Message(), "regex") {
		t.Errorf("the message quotes a rule rather than saying it: %q", st.Message())
	}
	// The rule only standard rules cannot express is still checked.
	err = call(&goodwillv1.RecordEventRequest{CustomerId: "c", Event: &goodwillv1.Event{
		Kind: goodwillv1.EventKind_EVENT_KIND_CREDIT, IdempotencyKey: "incident:x"}})
	if !strings.Contains(status.Convert(err).Message(), `must not start with "incident:"`) {
		t.Errorf("a key RecordIncident reserves: %v", err)
	}
	// Empty optional ids and keys pass.
	if err := call(&goodwillv1.RecordEventRequest{CustomerId: "c-1", Event: &goodwillv1.Event{
		Kind: goodwillv1.EventKind_EVENT_KIND_CREDIT}}); err != nil || !reached {
		t.Errorf("a good request: %v (reached the handler: %v)", err, reached)
	}
}
