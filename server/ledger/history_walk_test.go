package ledger_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// The walk of every history hands each customer exactly its own history,
// in order, whatever the page sizes: pages of customers that end inside a
// customer's events, pages of events that end inside a customer's, and
// customers with no events at all between them.
func TestHistoryWalkMatchesEachHistory(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	svc := ledger.NewService(st, ledger.Options{Logger: quietLog(), TrendEvery: -1})
	ctx := t.Context()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	var ids []string
	for i := range 23 {
		id := fmt.Sprintf("c%02d", i)
		ids = append(ids, id)
		if i%4 == 3 { // a customer without events
			if _, _, err := svc.UpsertCustomer(ctx, ledger.DefaultTenant, id, ledger.Profile{Segment: "gold"}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		for n := range i%5 + 1 {
			m := float64(n + 1)
			if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: id, Kind: ledger.KindCredit,
				Magnitude: &m, OccurredAt: t0.Add(time.Duration(n) * time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := map[string][]string{}
	if err := st.View(ctx, func(r ledger.Reader) error {
		for _, id := range ids {
			hist, err := r.History(ctx, ledger.DefaultTenant, id)
			if err != nil {
				return err
			}
			want[id] = eventIDsOf(hist)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, pages := range [][2]int{{1, 1}, {2, 3}, {3, 2}, {5, 7}, {23, 1}, {1000, 5000}} {
		t.Run(fmt.Sprintf("%d customers, %d events a page", pages[0], pages[1]), func(t *testing.T) {
			var seen []string
			err := st.View(ctx, func(r ledger.Reader) error {
				seen = nil
				return ledger.EachHistoryPaged(ctx, r, ledger.DefaultTenant, pages[0], pages[1], func(c ledger.Customer, hist []ledger.Event) error {
					seen = append(seen, c.ID)
					if got := eventIDsOf(hist); !slices.Equal(got, want[c.ID]) {
						t.Errorf("customer %s: history %v, want %v", c.ID, got, want[c.ID])
					}
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(seen, ids) {
				t.Errorf("customers walked %v, want %v", seen, ids)
			}
		})
	}
}

func eventIDsOf(evs []ledger.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}
