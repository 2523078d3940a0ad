package ledger_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// rerunReads runs every read closure twice, as a backend does when the
// server aborts the first run (or a stale read falls back to an exact one).
type rerunReads struct{ ledger.Store }

func (s rerunReads) View(ctx context.Context, fn func(ledger.Reader) error) error {
	if err := s.Store.View(ctx, fn); err != nil {
		return err
	}
	return s.Store.View(ctx, fn)
}

func (s rerunReads) ViewStale(ctx context.Context, fn func(ledger.Reader) error) error {
	if err := s.Store.ViewStale(ctx, fn); err != nil {
		return err
	}
	return s.Store.View(ctx, fn)
}

// Every read answers the same whether its closure ran once or twice: no
// closure keeps what an earlier run gathered.
func TestReadsSurviveARerun(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	clock := newClock(t0)
	once := ledger.NewService(st, ledger.Options{Now: clock.Now})
	twice := ledger.NewService(rerunReads{st}, ledger.Options{Now: clock.Now})
	ctx := t.Context()
	for i, e := range []ledger.NewEvent{
		nev("r1", ledger.KindOutage, 2, t0.Add(-3*day)),
		nev("r1", ledger.KindProactiveNotice, 1, t0.Add(-4*day)),
		nev("r2", ledger.KindReliableDelivery, 5, t0.Add(-2*day)),
		nev("r3", ledger.KindComplaint, 1, t0.Add(-day)),
		nev("r3", ledger.KindSuggestionAdopted, 1, t0.Add(-20*day)),
	} {
		e.IdempotencyKey = "rerun-" + string(rune('a'+i))
		record(t, once, e)
	}
	same := func(name string, read func(svc *ledger.Service) (any, error)) {
		t.Helper()
		a, errA := read(once)
		b, errB := read(twice)
		if errA != nil || errB != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("%s: once %+v (%v), twice %+v (%v)", name, a, errA, b, errB)
		}
	}
	tenant := ledger.DefaultTenant
	same("SummarizeBalances", func(svc *ledger.Service) (any, error) {
		rows, _, v, err := svc.SummarizeBalances(ctx, tenant, "", false)
		return []any{rows, v}, err
	})
	for _, stale := range []bool{false, true} {
		same("ListBalances", func(svc *ledger.Service) (any, error) {
			return svc.ListBalances(ctx, tenant, ledger.BalanceQuery{AllowStale: stale})
		})
		for _, p := range []ledger.Purpose{ledger.PurposeRecovery, ledger.PurposeAdvocacy} {
			same("ListOutreach", func(svc *ledger.Service) (any, error) {
				return svc.ListOutreach(ctx, tenant, p, "", 10, "", stale)
			})
		}
	}
	same("BalanceHistory", func(svc *ledger.Service) (any, error) {
		pts, v, err := svc.BalanceHistory(ctx, tenant, "r1", t0.Add(-5*day), t0, day)
		return []any{pts, v}, err
	})
	same("ExplainBalance", func(svc *ledger.Service) (any, error) {
		return svc.ExplainBalance(ctx, tenant, "r1", time.Time{}, 10)
	})
	same("ListEvents", func(svc *ledger.Service) (any, error) {
		evs, tok, err := svc.ListEvents(ctx, tenant, ledger.ListQuery{CustomerID: "r3"})
		return []any{evs, tok}, err
	})
	same("GetBalance in the past", func(svc *ledger.Service) (any, error) {
		return svc.GetBalance(ctx, tenant, "r3", t0.Add(-12*time.Hour))
	})
}
