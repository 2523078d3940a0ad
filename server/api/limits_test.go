package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// bound is one numeric limit an annotation declares, named by where it
// sits: "<field name>.<rule>", for example "note.max_len" or
// "attributes.keys.max_len".
type bound struct {
	where string
	value float64
}

// boundsOf lists the limits a field's protovalidate rules declare.
func boundsOf(fd protoreflect.FieldDescriptor) []bound {
	rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
	if rules == nil {
		return nil
	}
	return ruleBounds(string(fd.Name()), rules)
}

func ruleBounds(name string, r *validate.FieldRules) []bound {
	var out []bound
	add := func(rule string, v float64) { out = append(out, bound{name + "." + rule, v}) }
	if s := r.GetString(); s != nil {
		if s.MaxLen != nil {
			add("max_len", float64(s.GetMaxLen()))
		}
		if s.MaxBytes != nil {
			add("max_bytes", float64(s.GetMaxBytes()))
		}
	}
	if d := r.GetDouble(); d != nil {
		if d.HasLte() {
			add("lte", d.GetLte())
		}
		if d.HasGte() {
			add("gte", d.GetGte())
		}
	}
	if i := r.GetInt32(); i != nil && i.HasLte() {
		add("lte", float64(i.GetLte()))
	}
	if rp := r.GetRepeated(); rp != nil {
		if rp.MaxItems != nil {
			add("max_items", float64(rp.GetMaxItems()))
		}
		if rp.GetItems() != nil {
			out = append(out, ruleBounds(name+".items", rp.GetItems())...)
		}
	}
	if m := r.GetMap(); m != nil {
		if m.MaxPairs != nil {
			add("max_pairs", float64(m.GetMaxPairs()))
		}
		if m.GetKeys() != nil {
			out = append(out, ruleBounds(name+".keys", m.GetKeys())...)
		}
		if m.GetValues() != nil {
			out = append(out, ruleBounds(name+".values", m.GetValues())...)
		}
	}
	return out
}

// TestAnnotationsMatchLedgerLimits fails when a limit declared in the protos
// (protovalidate annotations) and the ledger's default Limits disagree, or
// when an annotation declares a bound this table does not know: the limits
// are declared once and cannot drift apart.
func TestAnnotationsMatchLedgerLimits(t *testing.T) {
	l := ledger.Limits{}.WithDefaults()
	want := map[string]float64{
		"customer_id.max_bytes":        float64(l.MaxIDLength),
		"event_id.max_bytes":           float64(l.MaxIDLength),
		"incident_id.max_bytes":        float64(l.MaxIDLength),
		"job_id.max_bytes":             float64(l.MaxIDLength),
		"customer_ids.items.max_bytes": float64(l.MaxIDLength),
		"idempotency_key.max_len":      float64(l.MaxKeyLength),
		"display_name.max_len":         float64(l.MaxNameLength),
		"segment.max_len":              float64(l.MaxSegmentLength),
		"source.max_len":               float64(l.MaxSourceLength),
		"note.max_len":                 float64(l.MaxNoteLength),
		"attributes.max_pairs":         float64(l.MaxAttributes),
		"attributes.keys.max_len":      float64(l.MaxAttributeKey),
		"attributes.values.max_len":    float64(l.MaxAttributeValue),
		"magnitude.lte":                l.MaxMagnitude,
		"credit.lte":                   l.MaxMagnitude,
		"value.lte":                    l.MaxValue,
		"value.gte":                    0,
		"overdraft_limit.lte":          0,
		"overdraft_limit.gte":          -1e9,
		"duration_hours.lte":           l.MaxIncidentHours,
		"severity.lte":                 l.MaxSeverity,
		"events.max_items":             float64(l.MaxBatch),
		"customer_ids.max_items":       float64(l.MaxIncidentCustomers),
		"page_size.lte":                float64(l.MaxPageSize),
		"top.lte":                      float64(l.MaxExplainTop),
		"kinds.max_items":              float64(l.MaxKindFilters),
		// A cursor is a decimal int64 (at most 19 digits), and a filter
		// names each notification type at most once.
		"after.max_len":        20,
		"webhook_id.max_bytes": float64(l.MaxIDLength),
		// A day, YYYY-MM-DD: parseDay reads nothing longer.
		"start.max_len":           float64(len(time.DateOnly)),
		"end.max_len":             float64(len(time.DateOnly)),
		"simulation_id.max_bytes": float64(l.MaxIDLength),
		"url.max_len":             ledger.MaxWebhookURL,
		"description.max_len":     float64(l.MaxNameLength),
		"types.max_items":         float64(len(ledger.NotificationTypes())),
		"assume.max_items":        ledger.MaxAssumedGestures,
	}
	seen := map[string]bool{}
	files := []protoreflect.FileDescriptor{
		goodwillv1.File_goodwill_v1_goodwill_service_proto,
		goodwillv1.File_goodwill_v1_event_proto,
		goodwillv1.File_goodwill_v1_customer_proto,
	}
	for _, f := range files {
		msgs := f.Messages()
		for i := range msgs.Len() {
			md := msgs.Get(i)
			fields := md.Fields()
			for j := range fields.Len() {
				for _, b := range boundsOf(fields.Get(j)) {
					at := fmt.Sprintf("%s.%s", md.FullName(), b.where)
					w, ok := want[b.where]
					switch {
					case !ok:
						t.Errorf("%s = %g: a limit with no ledger.Limits counterpart in this test; add one", at, b.value)
					case w != b.value:
						t.Errorf("%s = %g in the proto, but the ledger's default is %g", at, b.value, w)
					}
					seen[b.where] = true
				}
			}
		}
	}
	for w := range want {
		if !seen[w] {
			t.Errorf("no annotation declares %s (ledger default %g)", w, want[w])
		}
	}
}

// idPattern is the ledger's id rule as a standard protovalidate rule
// (rules.proto).
const idPattern = "^[A-Za-z0-9][A-Za-z0-9._:@-]*$"

// TestRequestIDsAreAnnotated checks that every id a request message takes is
// bounded by an annotation, so a new RPC cannot forget the limit.
func TestRequestIDsAreAnnotated(t *testing.T) {
	msgs := goodwillv1.File_goodwill_v1_goodwill_service_proto.Messages()
	checked := 0
	for i := range msgs.Len() {
		md := msgs.Get(i)
		if !strings.HasSuffix(string(md.Name()), "Request") {
			continue
		}
		fields := md.Fields()
		for j := range fields.Len() {
			fd := fields.Get(j)
			if !strings.HasSuffix(string(fd.Name()), "_id") || fd.IsList() {
				continue
			}
			checked++
			rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
			if !rules.GetRequired() || rules.GetString().MaxBytes == nil || rules.GetString().GetPattern() != idPattern {
				t.Errorf("%s.%s: want (buf.validate.field).required, string.max_bytes and string.pattern %q", md.FullName(), fd.Name(), idPattern)
			}
		}
	}
	if checked < 8 {
		t.Errorf("checked only %d id fields; the walk is broken", checked)
	}
}
