package client

import (
	"testing"

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
