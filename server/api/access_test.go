package api

import (
	"os"
	"strings"
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

// docs/security.md lists the methods of each role; it must say what the
// proto declares, so a new method or a changed role cannot leave the
// operators' page behind.
func TestSecurityDocListsEveryRole(t *testing.T) {
	doc, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]auth.Role{}
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(strings.Trim(line, "| "), "|")
		if len(cells) != 2 {
			continue
		}
		role, ok := map[string]auth.Role{"writer": auth.Writer, "reader": auth.Reader, "admin": auth.Admin, "any key": auth.AnyRole}[strings.TrimSpace(cells[0])]
		if !ok {
			continue
		}
		for _, m := range strings.Split(cells[1], ",") {
			m = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(m), "and every method above"))
			if prev, twice := listed[m]; twice {
				t.Errorf("docs/security.md lists %s under %v and %v", m, prev, role)
			}
			if m != "" {
				listed[m] = role
			}
		}
	}
	sd := goodwillv1.GoodwillService_ServiceDesc
	names := []string{}
	for _, m := range sd.Methods {
		names = append(names, m.MethodName)
	}
	for _, st := range sd.Streams {
		names = append(names, st.StreamName)
	}
	for _, name := range names {
		want := RequiredRole("/" + sd.ServiceName + "/" + name)
		if got, ok := listed[name]; !ok || got != want {
			t.Errorf("docs/security.md lists %s under %v, want %v (its required_role)", name, got, want)
		}
		delete(listed, name)
	}
	for m := range listed {
		t.Errorf("docs/security.md lists %s, which the service does not have", m)
	}
}
