package api

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"pgregory.net/rapid"
)

// The hand-written encoder and protojson write the same document, byte for
// byte once protojson's deliberately unstable spacing is compacted away.
func TestNotificationJSONMatchesProtojson(t *testing.T) {
	t.Parallel()
	text := rapid.OneOf(rapid.Just(""), rapid.StringMatching(`[a-z0-9_-]{1,12}`), rapid.String())
	float := rapid.OneOf(rapid.Float64(), rapid.Just(0.0), rapid.Just(1e-7), rapid.Just(-2.5e21), rapid.Just(1e21),
		rapid.Just(123456789.125), rapid.Just(math.Inf(1)), rapid.Just(math.NaN()), rapid.Float64Range(-100, 100))
	when := rapid.Custom(func(t *rapid.T) time.Time {
		if rapid.Bool().Draw(t, "zero") {
			return time.Time{}
		}
		ns := rapid.OneOf(rapid.Just(0), rapid.Just(5_000_000), rapid.Just(120_000), rapid.IntRange(0, 999_999_999)).Draw(t, "ns")
		return time.Unix(rapid.Int64Range(0, 4e9).Draw(t, "s"), int64(ns)).In(time.FixedZone("x", 3600*rapid.IntRange(-12, 12).Draw(t, "tz")))
	})
	rapid.Check(t, func(t *rapid.T) {
		n := ledger.Notification{
			TenantID: text.Draw(t, "tenant"), ID: text.Draw(t, "id"), Seq: rapid.Int64Range(0, math.MaxInt64).Draw(t, "seq"),
			Type:       rapid.SampledFrom(ledger.NotificationTypes()).Draw(t, "type"),
			CustomerID: text.Draw(t, "customer"), CustomerSeq: rapid.Int64().Draw(t, "cseq"), OccurredAt: when.Draw(t, "at"),
			EventID: text.Draw(t, "event"), PolicyVersion: rapid.Int64().Draw(t, "policy"),
			Before: ledger.Snapshot{Value: float.Draw(t, "before"), Status: rapid.SampledFrom([]ledger.Status{ledger.StatusHealthy, ledger.StatusOverdrawn}).Draw(t, "bs")},
			After:  ledger.Snapshot{Value: float.Draw(t, "after"), Status: rapid.SampledFrom([]ledger.Status{ledger.StatusHealthy, ledger.StatusOverdrawn}).Draw(t, "as")},
		}
		if rapid.Bool().Draw(t, "has event") {
			e := ledger.Event{ID: text.Draw(t, "eid"), CustomerID: text.Draw(t, "ecustomer"),
				Kind:      rapid.SampledFrom(ledger.AllKinds()).Draw(t, "kind"),
				Magnitude: float.Draw(t, "magnitude"), OccurredAt: when.Draw(t, "eat"), RecordedAt: when.Draw(t, "rat"),
				IdempotencyKey: text.Draw(t, "key"), Source: text.Draw(t, "source"), Note: text.Draw(t, "note"),
				Attributes: rapid.MapOf(rapid.String(), rapid.String()).Draw(t, "attrs"),
				IncidentID: text.Draw(t, "incident"), ReversesEventID: text.Draw(t, "reverses"),
				ReversedByEventID: text.Draw(t, "reversedBy")}
			n.Event = &e
		}
		want, err := protojson.Marshal(NotificationToProto(n))
		if err != nil {
			t.Skip("protojson refuses it:", err) // invalid UTF-8; the API stores none
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, want); err != nil {
			t.Fatal(err)
		}
		got := appendNotificationJSON(nil, n)
		if !bytes.Equal(got, compact.Bytes()) {
			t.Fatalf("hand-written:\n%s\nprotojson:\n%s", got, compact.Bytes())
		}
	})
}

// A notification with every field set writes every field of the messages:
// a field added to the proto and to NotificationToProto but not to the
// hand-written encoder fails here.
func TestNotificationJSONWritesEveryField(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 30, 0, 5, time.UTC)
	n := ledger.Notification{TenantID: "t", ID: "ntf_1", Seq: 9, Type: ledger.NotifyEventRecorded, CustomerID: "c", CustomerSeq: 2,
		OccurredAt: at, EventID: "e", PolicyVersion: 3,
		Before: ledger.Snapshot{Value: 1, Status: ledger.StatusOverdrawn}, After: ledger.Snapshot{Value: 2, Status: ledger.StatusOverdrawn},
		Event: &ledger.Event{ID: "e", CustomerID: "c", Kind: ledger.KindOutage, Magnitude: 2, OccurredAt: at, RecordedAt: at,
			IdempotencyKey: "k", Source: "s", Note: "n", Attributes: map[string]string{"a": "b"}, IncidentID: "i",
			ReversesEventID: "r", ReversedByEventID: "rb"}}
	var doc map[string]any
	if err := json.Unmarshal(appendNotificationJSON(nil, n), &doc); err != nil {
		t.Fatal(err)
	}
	var check func(path string, md protoreflect.MessageDescriptor, obj map[string]any)
	check = func(path string, md protoreflect.MessageDescriptor, obj map[string]any) {
		fields := md.Fields()
		for i := range fields.Len() {
			f := fields.Get(i)
			v, ok := obj[f.JSONName()]
			if !ok {
				t.Errorf("%s%s is not written", path, f.JSONName())
				continue
			}
			if f.Kind() == protoreflect.MessageKind && !f.IsMap() && f.Message().FullName() != "google.protobuf.Timestamp" {
				check(path+f.JSONName()+".", f.Message(), v.(map[string]any))
			}
		}
		if len(obj) != fields.Len() {
			t.Errorf("%s: %d members written, the message has %d fields", path, len(obj), fields.Len())
		}
	}
	check("", (&goodwillv1.Notification{}).ProtoReflect().Descriptor(), doc)
}
