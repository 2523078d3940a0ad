package sqlstore

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Tenant isolation rests on every statement naming its tenant. This
// package writes the predicate itself (onTenant); a backend writing SQL
// on the ledger's tables by hand could forget it, so none may.
func TestBackendsWriteNoTenantSQL(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "*", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	tables := regexp.MustCompile(`(?i)\b(FROM|INTO|UPDATE|JOIN)\s+(customers|events|policies|active_policies|recompute_jobs|api_keys)\b|tenant_id`)
	checked := 0
	for _, f := range files {
		// The backends, and whatever backend is added beside them; test
		// support packages are not stores.
		switch filepath.Base(filepath.Dir(f)) {
		case "sqlstore", "pgtest", "storetest":
			continue
		}
		// Migrations write DDL, which names columns, never a predicate.
		if strings.HasSuffix(f, "_test.go") || strings.HasPrefix(filepath.Base(f), "migrat") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for i, line := range strings.Split(string(src), "\n") {
			if tables.MatchString(line) {
				t.Errorf("%s:%d: SQL on the ledger's tables outside server/store/sqlstore: %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
	if checked < 5 {
		t.Fatalf("checked %d files; the glob is broken", checked)
	}
}

// Every statement of the layer that reads or changes a tenant's rows
// starts its WHERE clause with the tenant.
func TestReadsStartWithTheTenant(t *testing.T) {
	t.Parallel()
	for _, d := range []*Dialect{{Name: "q"}, {Name: "n", Numbered: true, Arrays: true}} {
		for name, sh := range NewStatements(d).ReadShapes() {
			if !regexp.MustCompile(`WHERE (e\.|a\.)?tenant_id = (\?|\$\d+)`).MatchString(sh.SQL) {
				t.Errorf("%s (%s): no tenant predicate: %s", name, d.Name, sh.SQL)
			}
			// The batch probes send their keys as arrays first.
			first := slices.IndexFunc(sh.Args, func(a any) bool { _, isArray := a.([]string); return !isArray })
			if sh.Args[first] != "t" && !strings.Contains(sh.SQL, "coalesce((SELECT version FROM active_policies WHERE tenant_id") {
				t.Errorf("%s (%s): the first parameter is %v, not the tenant", name, d.Name, sh.Args[first])
			}
		}
	}
}
