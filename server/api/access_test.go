package api

import (
	"testing"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/auth"
)

// Every RPC of the service has a role (its required_role option), and the
// table names no RPC that does not exist: adding a method without deciding
// who may call it fails here (and the method stays closed to every key
// meanwhile).
func TestEveryMethodHasARole(t *testing.T) {
	sd := goodwillv1.GoodwillService_ServiceDesc
	exists := map[string]bool{}
	for _, m := range sd.Methods {
		full := "/" + sd.ServiceName + "/" + m.MethodName
		exists[full] = true
		if RequiredRole(full) == auth.RoleUnspecified {
			t.Errorf("%s has no required_role option", full)
		}
	}
	for _, s := range sd.Streams {
		full := "/" + sd.ServiceName + "/" + s.StreamName
		exists[full] = true
		if RequiredRole(full) == auth.RoleUnspecified {
			t.Errorf("%s has no required_role option", full)
		}
	}
	for m := range methodRoles {
		if !exists[m] {
			t.Errorf("methodRoles names %s, which the service does not have", m)
		}
	}
}

// The roles as the proto declares them, spot-checked against what the
// README's table promises.
func TestRolesFromTheProto(t *testing.T) {
	for method, want := range map[string]auth.Role{
		goodwillv1.GoodwillService_RecordEvent_FullMethodName:        auth.Writer,
		goodwillv1.GoodwillService_GetBalance_FullMethodName:         auth.Reader,
		goodwillv1.GoodwillService_SetPolicy_FullMethodName:          auth.Admin,
		goodwillv1.GoodwillService_ResumeRecomputeJob_FullMethodName: auth.Admin,
	} {
		if got := RequiredRole(method); got != want {
			t.Errorf("%s needs %v, want %v", method, got, want)
		}
	}
}
