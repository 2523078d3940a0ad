package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// The domain's kinds are cast to and from the API enum, so their numbers
// and names must agree one for one.
func TestKindsMatchTheAPIEnum(t *testing.T) {
	t.Parallel()
	n := 0
	for num, name := range goodwillv1.EventKind_name {
		k := kindFromProto(goodwillv1.EventKind(num))
		want := strings.ToLower(strings.TrimPrefix(name, "EVENT_KIND_"))
		if k.String() != want {
			t.Errorf("enum %s (%d) is domain kind %q", name, num, k.String())
		}
		if kindToProto(k) != goodwillv1.EventKind(num) {
			t.Errorf("round trip of %s", name)
		}
		n++
	}
	if n != len(ledger.AllKinds())+1 {
		t.Errorf("the API has %d kinds (UNSPECIFIED included), the domain %d", n, len(ledger.AllKinds()))
	}
}

func TestToStatus(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name    string
		err     error
		code    codes.Code
		message string // a substring the message must hold
		field   string // the BadRequest field violation, if any
	}{
		{"invalid names the field", ledger.Invalid("event.magnitude", "must be positive"), codes.InvalidArgument, "event.magnitude: must be positive", "event.magnitude"},
		{"not found", fmt.Errorf("wrapped: %w", ledger.ErrNotFound), codes.NotFound, "not found", ""},
		{"conflict", &ledger.Error{Class: ledger.ErrConflict, Field: "idempotency_key", Message: `key "k1" was used`}, codes.AlreadyExists, `"k1"`, ""},
		{"precondition", &ledger.Error{Class: ledger.ErrFailedPrecondition, Message: "already reversed"}, codes.FailedPrecondition, "already reversed", ""},
		{"unavailable hides the cause", fmt.Errorf("%w: dial tcp: secret-host:5432", ledger.ErrUnavailable), codes.Unavailable, "retry", ""},
		{"duplicate race is retryable", fmt.Errorf("%w: UNIQUE constraint", ledger.ErrDuplicate), codes.Aborted, "retry", ""},
		{"deadline", context.DeadlineExceeded, codes.DeadlineExceeded, "", ""},
		{"unknown errors are hidden", errors.New("pq: relation secret_table does not exist"), codes.Internal, "internal error", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := status.Convert(toStatus(t.Context(), log, tt.err))
			if st.Code() != tt.code {
				t.Fatalf("code %v, want %v", st.Code(), tt.code)
			}
			if !strings.Contains(st.Message(), tt.message) {
				t.Errorf("message %q does not hold %q", st.Message(), tt.message)
			}
			if strings.Contains(st.Message(), "secret") {
				t.Errorf("message leaks the cause: %q", st.Message())
			}
			var got string
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
					got = br.GetFieldViolations()[0].GetField()
				}
			}
			if got != tt.field {
				t.Errorf("field violation %q, want %q", got, tt.field)
			}
		})
	}
}

// A policy sent by a client written before the change notice existed
// installs with the built-in one; one that sends it gets its own.
func TestPolicyWithoutAChangeNotice(t *testing.T) {
	t.Parallel()
	in := policyToProto(ledger.DefaultPolicy())
	in.ChangeNotice = nil
	p, err := policyFromProto(in)
	if err != nil || p.ChangeNotice != ledger.DefaultChangeNotice {
		t.Errorf("without a change notice: %+v, %v; want %+v", p.ChangeNotice, err, ledger.DefaultChangeNotice)
	}
	in.ChangeNotice = &goodwillv1.NoticeEffect{Window: durationpb.New(7 * 24 * time.Hour), Factor: 0.2}
	p, err = policyFromProto(in)
	if err != nil || p.ChangeNotice != (ledger.NoticeEffect{Window: 7 * 24 * time.Hour, Factor: 0.2}) {
		t.Errorf("with a change notice: %+v, %v", p.ChangeNotice, err)
	}
}
