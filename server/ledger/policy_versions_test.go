package ledger_test

import (
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// Version 1 is built in: its creation time is the day its numbers were
// set, before and after a tenant installs version 2 (a review found it
// null, then showing version 2's install time).
func TestPolicyVersionsKeepTheirCreationTimes(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		ctx := t.Context()
		v1, active, err := svc.GetPolicy(ctx, ledger.DefaultTenant, 0)
		if err != nil || active != 1 || !v1.CreatedAt.Equal(ledger.BuiltinPolicyDate) {
			t.Fatalf("built-in policy: version %d created %v, %v; want 1 created %v", active, v1.CreatedAt, err, ledger.BuiltinPolicyDate)
		}
		installPolicy(t, svc, func(p *ledger.Policy) { p.Weights[ledger.KindOutage] = -20 })
		for _, tc := range []struct {
			version int64
			created time.Time
		}{{1, ledger.BuiltinPolicyDate}, {2, t0}, {0, t0}} {
			p, _, err := svc.GetPolicy(ctx, ledger.DefaultTenant, tc.version)
			if err != nil {
				t.Fatal(err)
			}
			if !p.CreatedAt.Equal(tc.created) {
				t.Errorf("version %d (asked %d) created %v, want %v", p.Version, tc.version, p.CreatedAt, tc.created)
			}
		}
	})
}

// A store written by an earlier build holds version 1 with the time
// version 2 was installed as its creation time: it reads as built-in.
func TestUpgradedStoreShowsVersionOnesDate(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	body := ledger.EncodePolicy(ledger.DefaultPolicy())
	if err := st.Update(t.Context(), func(tx ledger.Tx) error {
		return tx.PutPolicy(t.Context(), ledger.DefaultTenant, ledger.StoredPolicy{Version: 1, Body: body, CreatedAt: t0})
	}); err != nil {
		t.Fatal(err)
	}
	svc := ledger.NewService(st, ledger.Options{})
	p, _, err := svc.GetPolicy(t.Context(), ledger.DefaultTenant, 1)
	if err != nil || !p.CreatedAt.Equal(ledger.BuiltinPolicyDate) {
		t.Errorf("version 1 from an earlier build: created %v, %v; want %v", p.CreatedAt, err, ledger.BuiltinPolicyDate)
	}
}
