package gateway

import (
	"testing"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

func TestUndeclaredEnumFindsNestedNumbers(t *testing.T) {
	ok := &goodwillv1.Event{Kind: goodwillv1.EventKind_EVENT_KIND_CREDIT}
	if fd := undeclaredEnum(ok.ProtoReflect()); fd != nil {
		t.Errorf("a declared kind: %s reported", fd.FullName())
	}
	nested := &goodwillv1.RecordEventsRequest{Events: []*goodwillv1.Event{ok, {Kind: 77}}}
	fd := undeclaredEnum(nested.ProtoReflect())
	if fd == nil || fd.JSONName() != "kind" {
		t.Fatalf("kind 77 in the second event: got %v", fd)
	}
	if fd := undeclaredEnum((&goodwillv1.RecordEventsRequest{}).ProtoReflect()); fd != nil {
		t.Errorf("an empty request: %s reported", fd.FullName())
	}
}
