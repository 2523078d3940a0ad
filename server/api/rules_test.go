package api

import (
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/sqlite"
)

// The ledger's string rules are written twice: as protovalidate rules in
// proto/goodwill/v1/rules.proto, so a request hears of every broken rule at
// once, and in server/ledger, for every caller of the Service. They must
// accept and refuse exactly the same strings.
func TestProtoRulesAgreeWithTheLedger(t *testing.T) {
	t.Parallel()
	v, err := newValidator()
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "rules.db"), sqlite.Options{Migrate: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := ledger.NewService(st, ledger.Options{GroupCommit: ledger.GroupCommit{Disabled: true}})
	ctx := t.Context()
	corpus := []string{
		"", "a", "A", "0", "a-1", "A.b_c:d@e-f", "customer-42", "a b", "-a", ".a", "_a", ":a", "@a", "a/b", "a?b", "a%20b",
		"é", "aé", "a\x00b", "\x00", "tab\there", "line\nbreak", "\x7f", "~", "!", "a~b", "incident:x", "incident:",
		"Incident:x", "xincident:", "ü-ber", strings.Repeat("x", 128), strings.Repeat("x", 129), "key with space", "\"quoted\"",
	}
	violates := func(msg proto.Message, field string) bool {
		err := v.Validate(msg)
		var ve *protovalidate.ValidationError
		if !errors.As(err, &ve) {
			return false
		}
		for _, x := range ve.Violations {
			if protovalidate.FieldPathString(x.Proto.GetField()) == field {
				return true
			}
		}
		return false
	}
	invalid := func(err error, field string) bool {
		var e *ledger.Error
		if !errors.As(err, &e) {
			return false
		}
		for _, x := range e.Violations() {
			if x.Field == field {
				return true
			}
		}
		return false
	}
	for i, s := range corpus {
		// An id.
		idProto := violates(&goodwillv1.GetCustomerRequest{CustomerId: s}, "customer_id")
		_, err := svc.GetCustomer(ctx, "t", s)
		if dom := invalid(err, "customer_id"); idProto != dom {
			t.Errorf("customer id %q: refused by the proto rules %v, by the ledger %v (%v)", s, idProto, dom, err)
		}
		// An idempotency key and a free text, on a real write.
		ev := &goodwillv1.Event{Kind: goodwillv1.EventKind_EVENT_KIND_CREDIT, IdempotencyKey: s, Note: s}
		keyProto := violates(&goodwillv1.RecordEventRequest{CustomerId: "c", Event: ev}, "event.idempotency_key")
		noteProto := violates(&goodwillv1.RecordEventRequest{CustomerId: "c", Event: ev}, "event.note")
		_, err = svc.RecordEvent(ctx, "t", ledger.NewEvent{CustomerID: "c", Kind: ledger.KindCredit, IdempotencyKey: s,
			Note: s, OccurredAt: time.Now().Add(-time.Duration(i) * time.Minute)})
		if dom := invalid(err, "event.idempotency_key"); keyProto != dom {
			t.Errorf("idempotency key %q: refused by the proto rules %v, by the ledger %v (%v)", s, keyProto, dom, err)
		}
		if dom := invalid(err, "event.note"); noteProto != dom {
			t.Errorf("note %q: refused by the proto rules %v, by the ledger %v (%v)", s, noteProto, dom, err)
		}
	}
}
