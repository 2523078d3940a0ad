package client

import (
	"os"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// Whether the client retries a method comes from its idempotency_level in
// the proto: reads and idempotent writes are retried, a method with no
// level (CreateWebhook) is not, and every method of the service has an entry.
func TestRetriesFollowTheProto(t *testing.T) {
	sd := goodwillv1.GoodwillService_ServiceDesc
	for _, m := range sd.Methods {
		full := "/" + sd.ServiceName + "/" + m.MethodName
		if _, ok := levels[full]; !ok {
			t.Errorf("%s has no idempotency level entry", full)
		}
	}
	for method, want := range map[string]struct{ retried, write bool }{
		goodwillv1.GoodwillService_GetBalance_FullMethodName:         {true, false},
		goodwillv1.GoodwillService_RecordEvent_FullMethodName:        {true, true},
		goodwillv1.GoodwillService_RecordIncident_FullMethodName:     {true, true},
		goodwillv1.GoodwillService_SetPolicy_FullMethodName:          {true, true},
		goodwillv1.GoodwillService_CreateWebhook_FullMethodName:      {false, false},
		goodwillv1.GoodwillService_ResumeRecomputeJob_FullMethodName: {true, true},
		"/goodwill.v1.GoodwillService/NoSuchMethod":                  {false, false},
	} {
		if retried(method) != want.retried || isWrite(method) != want.write {
			t.Errorf("%s: retried %v, write %v; want %v, %v", method, retried(method), isWrite(method), want.retried, want.write)
		}
	}
}

// A method may become safer to retry than the released API said, never
// less safe: a client built against the release retries what it was told
// it may. (buf breaking's RPC_SAME_IDEMPOTENCY_LEVEL, which refuses both
// directions, is switched off for this in buf.yaml.)
func TestIdempotencyLevelsNeverWeaken(t *testing.T) {
	b, err := os.ReadFile("../proto/released/goodwill-v1.binpb")
	if err != nil {
		t.Fatal(err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	safety := map[descriptorpb.MethodOptions_IdempotencyLevel]int{
		descriptorpb.MethodOptions_IDEMPOTENCY_UNKNOWN: 0,
		descriptorpb.MethodOptions_IDEMPOTENT:          1,
		descriptorpb.MethodOptions_NO_SIDE_EFFECTS:     2,
	}
	checked := 0
	for _, f := range set.GetFile() {
		for _, sd := range f.GetService() {
			for _, m := range sd.GetMethod() {
				full := "/" + f.GetPackage() + "." + sd.GetName() + "/" + m.GetName()
				now, ok := levels[full]
				if !ok {
					continue // removed: buf breaking's business
				}
				checked++
				if was := m.GetOptions().GetIdempotencyLevel(); safety[now] < safety[was] {
					t.Errorf("%s: idempotency level %v, released as %v: a level may not weaken", full, now, was)
				}
			}
		}
	}
	if checked < 15 { // the release had 17
		t.Errorf("only %d released methods found: is the baseline read right?", checked)
	}
}
