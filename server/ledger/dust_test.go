package ledger_test

import (
	"math"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// A deficit that has faded to dust is zero wherever a balance is reported
// or judged: a three-hour outage two years ago (-36, now about -0.13) no
// longer makes a customer overdrawn, at risk or due for outreach. A review
// found it OVERDRAWN for ever, as -3.4e-278 centuries on, and "-0" in JSON.
func TestFadedDeficitIsZero(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		ctx := t.Context()
		three := 3.0
		for id, at := range map[string]time.Time{"faded": t0.AddDate(-2, 0, 0), "fresh": t0.Add(-24 * time.Hour)} {
			if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: id, Kind: ledger.KindOutage,
				Magnitude: &three, OccurredAt: at}); err != nil {
				t.Fatal(err)
			}
		}
		zero := func(what string, b ledger.Balance) {
			t.Helper()
			if b.Value != 0 || math.Signbit(b.Value) || b.Status != ledger.StatusHealthy {
				t.Errorf("%s: %v %v, want +0 and healthy", what, b.Value, b.Status)
			}
		}
		b, err := svc.GetBalance(ctx, ledger.DefaultTenant, "faded", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		zero("GetBalance", b)
		x, err := svc.ExplainBalance(ctx, ledger.DefaultTenant, "faded", time.Time{}, 5)
		if err != nil {
			t.Fatal(err)
		}
		zero("ExplainBalance", x.Balance)
		if len(x.ByKind) != 1 || x.ByKind[0].Points >= 0 {
			t.Errorf("the explanation keeps the exact contributions: %+v", x.ByKind)
		}
		far, err := svc.GetBalance(ctx, ledger.DefaultTenant, "faded", t0.AddDate(300, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		zero("three centuries on", far)
		points, _, err := svc.BalanceHistory(ctx, ledger.DefaultTenant, "faded", t0.AddDate(0, 0, -3), t0, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range points {
			if p.Value != 0 || math.Signbit(p.Value) || p.Status != ledger.StatusHealthy {
				t.Errorf("history point %v: %v %v, want +0 and healthy", p.At, p.Value, p.Status)
			}
		}

		overdrawn, err := svc.ListBalances(ctx, ledger.DefaultTenant, ledger.BalanceQuery{Status: ledger.StatusOverdrawn})
		if err != nil {
			t.Fatal(err)
		}
		if ids := balanceIDs(overdrawn.Entries); len(ids) != 1 || ids[0] != "fresh" {
			t.Errorf("overdrawn: %v, want only fresh", ids)
		}
		// Bounds apply to the reported balance: the faded customer is at 0.
		zeroOnly, err := svc.ListBalances(ctx, ledger.DefaultTenant, ledger.BalanceQuery{Min: ptrTo(0.0), Max: ptrTo(0.0)})
		if err != nil {
			t.Fatal(err)
		}
		if ids := balanceIDs(zeroOnly.Entries); len(ids) != 1 || ids[0] != "faded" {
			t.Errorf("balances in [0, 0]: %v, want only faded", ids)
		}
		below, err := svc.ListBalances(ctx, ledger.DefaultTenant, ledger.BalanceQuery{Max: ptrTo(-0.01)})
		if err != nil {
			t.Fatal(err)
		}
		if ids := balanceIDs(below.Entries); len(ids) != 1 || ids[0] != "fresh" {
			t.Errorf("balances at most -0.01: %v, want only fresh", ids)
		}
		rec, err := svc.ListOutreach(ctx, ledger.DefaultTenant, ledger.PurposeRecovery, "", 10, "", false)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Entries) != 1 || rec.Entries[0].Customer.ID != "fresh" {
			t.Errorf("recovery: %v, want only fresh", rec.Entries)
		}
		stats, _, _, err := svc.SummarizeBalances(ctx, ledger.DefaultTenant, "", false)
		if err != nil {
			t.Fatal(err)
		}
		if all := stats[len(stats)-1]; all.Customers != 2 || all.Overdrawn != 1 || all.ValueAtRisk != 1 {
			t.Errorf("summary %+v, want 2 customers, 1 overdrawn, value at risk 1", all)
		}
	})
}

// The threshold is the policy's: 0 reports every fraction, down to the
// smallest, and keeps the customer overdrawn.
func TestDustThresholdIsAPolicyParameter(t *testing.T) {
	t.Parallel()
	pol := ledger.DefaultPolicy()
	pol.DustThreshold = 0
	svc := ledger.NewService(openStore(t), ledger.Options{Now: newClock(t0).Now, Policy: pol})
	ctx := t.Context()
	if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: "c", Kind: ledger.KindOutage,
		OccurredAt: t0.AddDate(-2, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	b, err := svc.GetBalance(ctx, ledger.DefaultTenant, "c", time.Time{})
	if err != nil || b.Value >= 0 || b.Value < -0.1 || b.Status != ledger.StatusOverdrawn {
		t.Errorf("with no dust rule: %+v, %v; want a small negative balance, overdrawn", b, err)
	}
	bad := *ledger.DefaultPolicy()
	for _, d := range []float64{-1, math.NaN(), math.Inf(1), 2e6} {
		bad.DustThreshold = d
		if err := bad.Validate(); ledger.FieldOf(err) != "policy.dust_threshold" {
			t.Errorf("dust threshold %v: %v, want an error on policy.dust_threshold", d, err)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

func balanceIDs(es []ledger.BalanceEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Customer.ID
	}
	return out
}
