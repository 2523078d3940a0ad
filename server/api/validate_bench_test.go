package api

import (
	"testing"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// BenchmarkValidateRecordEvent is the cost of checking one single-event
// request, the call every ingest pays.
func BenchmarkValidateRecordEvent(b *testing.B) {
	v, err := newValidator()
	if err != nil {
		b.Fatal(err)
	}
	mag := 2.0
	req := &goodwillv1.RecordEventRequest{CustomerId: "u4242", Event: &goodwillv1.Event{
		Kind: goodwillv1.EventKind_EVENT_KIND_RELIABLE_DELIVERY, Magnitude: &mag,
		IdempotencyKey: "order-1234567-delivered", Source: "crm", Note: "delivered on time",
	}}
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Validate(req); err != nil {
			b.Fatal(err)
		}
	}
}
