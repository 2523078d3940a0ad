package api

import (
	"testing"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/auth"
)

// Every RPC of the service has a role, and the table names no RPC that
// does not exist: adding a method without deciding who may call it fails
// here (and the method stays closed to every key meanwhile).
func TestEveryMethodHasARole(t *testing.T) {
	sd := goodwillv1.GoodwillService_ServiceDesc
	exists := map[string]bool{}
	for _, m := range sd.Methods {
		full := "/" + sd.ServiceName + "/" + m.MethodName
		exists[full] = true
		if RequiredRole(full) == auth.RoleUnspecified {
			t.Errorf("%s has no entry in methodRoles", full)
		}
	}
	for _, s := range sd.Streams {
		full := "/" + sd.ServiceName + "/" + s.StreamName
		exists[full] = true
		if RequiredRole(full) == auth.RoleUnspecified {
			t.Errorf("%s has no entry in methodRoles", full)
		}
	}
	for m := range methodRoles {
		if !exists[m] {
			t.Errorf("methodRoles names %s, which the service does not have", m)
		}
	}
}
