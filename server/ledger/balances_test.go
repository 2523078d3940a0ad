package ledger_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// seeded is one customer of the seeded population.
type seeded struct {
	id, segment string
	value       float64
	limit       *float64
	// target is the balance when its single event occurred (0: no event).
	target  float64
	daysAgo float64
}

// want is the customer's balance at the seeding time: its one event, faded.
func (c seeded) want() float64 {
	return c.target * fade(time.Duration(c.daysAgo*float64(day)))
}

// seedPopulation creates 33 customers in segments gold, silver and "",
// with varied balances, value weights and event times before now: one with
// overdraft limit -50 and a balance near -10, two with no events (balance
// exactly 0).
func seedPopulation(t *testing.T, svc *ledger.Service, now time.Time) []seeded {
	t.Helper()
	targets := map[string][]float64{
		// The smallest ones (0.75, -0.6) stay above the default dust
		// threshold (0.5) over the days they are backdated.
		"gold":   {-1, -2.5, -4, -7, -20, 3, 12, 40, 0.75, -0.6},
		"silver": {-3, -9, -15, 1, 2, 5, 8, 25, -30, 60},
		"":       {-0.7, -6, -11, 4, 6.5, 9, 18, 33, -45, 100},
	}
	var pop []seeded
	n := 0
	for _, seg := range []string{"gold", "silver", ""} {
		for j, v := range targets[seg] {
			pop = append(pop, seeded{
				id:      fmt.Sprintf("cust-%02d", n),
				segment: seg,
				value:   float64(1 + n%4),
				target:  v,
				daysAgo: float64((n*7)%30) + 0.25*float64(j%3),
			})
			n++
		}
	}
	pop = append(pop,
		seeded{id: "limit-50", value: 2, limit: ptrTo(-50.0), target: -10, daysAgo: 0.1},
		seeded{id: "zero-a", segment: "silver", value: 1},
		seeded{id: "zero-b", segment: "gold", value: 5},
	)
	var evs []ledger.NewEvent
	for _, c := range pop {
		upsert(t, svc, c.id, ledger.Profile{DisplayName: "Customer " + c.id, Segment: c.segment, Value: c.value, OverdraftLimit: c.limit})
		at := now.Add(-time.Duration(c.daysAgo * float64(day)))
		switch {
		case c.target > 0:
			evs = append(evs, nev(c.id, ledger.KindReliableDelivery, c.target, at))
		case c.target < 0:
			evs = append(evs, nev(c.id, ledger.KindComplaint, -c.target/8, at))
		}
	}
	recordAll(t, svc, evs...)
	return pop
}

// balancesNow reads every seeded customer's balance now, checking it is
// the one its event should leave.
func balancesNow(t *testing.T, svc *ledger.Service, pop []seeded) map[string]ledger.Balance {
	t.Helper()
	out := map[string]ledger.Balance{}
	for _, c := range pop {
		b := balanceAt(t, svc, c.id, time.Time{})
		if !relEq(b.Value, c.want(), relTol) {
			t.Fatalf("setup: %s has balance %v, want %v", c.id, b.Value, c.want())
		}
		out[c.id] = b
	}
	return out
}

// listAllBalances pages through ListBalances, checking page sizes, and
// returns the entries in order.
func listAllBalances(t *testing.T, svc *ledger.Service, q ledger.BalanceQuery) []ledger.BalanceEntry {
	t.Helper()
	var out []ledger.BalanceEntry
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("more than 100 pages")
		}
		page, err := svc.ListBalances(t.Context(), ledger.DefaultTenant, q)
		if err != nil {
			t.Fatalf("list balances %+v: %v", q, err)
		}
		size := q.PageSize
		if size == 0 {
			size = 50
		}
		if len(page.Entries) > size || (page.NextPageToken != "" && len(page.Entries) != size) {
			t.Errorf("page %d holds %d entries (page size %d, next %q)", pages, len(page.Entries), size, page.NextPageToken)
		}
		if page.PolicyVersion != 1 || page.ApproximateOrder {
			t.Errorf("page %d: policy version %d, approximate order %v; want 1, exact", pages, page.PolicyVersion, page.ApproximateOrder)
		}
		out = append(out, page.Entries...)
		if page.NextPageToken == "" {
			return out
		}
		q.PageToken = page.NextPageToken
	}
}

// ListBalances lists customers by balance, ties by id, and its filters
// (segment, status under each customer's own limit, inclusive bounds) keep
// exactly the customers they name, across pages.
func TestListBalancesFiltersAndOrders(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		pop := seedPopulation(t, svc, t0)
		bals := balancesNow(t, svc, pop)
		byID := map[string]seeded{}
		asc := make([]string, 0, len(pop))
		for _, c := range pop {
			byID[c.id] = c
			asc = append(asc, c.id)
		}
		slices.SortFunc(asc, func(a, b string) int { return cmp.Or(cmp.Compare(bals[a].Value, bals[b].Value), cmp.Compare(a, b)) })
		if b := bals["limit-50"]; b.Status != ledger.StatusHealthy || b.Value > -9 || b.Value < -10 {
			t.Fatalf("setup: limit-50 is %+v", b)
		}
		// No balance sits near a bound used below, so dust widening the
		// index bounds cannot decide a case.
		for id, b := range bals {
			for _, bound := range []float64{-5, 10, 1000, 2000} {
				if relEq(b.Value, bound, 1e-4) {
					t.Fatalf("setup: balance %v of %s is too close to bound %v", b.Value, id, bound)
				}
			}
		}

		type filter func(id string, b ledger.Balance, c seeded) bool
		all := func(string, ledger.Balance, seeded) bool { return true }
		inRange := func(lo, hi *float64) filter {
			return func(_ string, b ledger.Balance, _ seeded) bool {
				return (lo == nil || b.Value >= *lo) && (hi == nil || b.Value <= *hi)
			}
		}
		f := ptrTo[float64]
		for _, tc := range []struct {
			name    string
			q       ledger.BalanceQuery
			keep    filter
			wantLen int // checked when not zero
		}{
			{name: "ascending by default", q: ledger.BalanceQuery{PageSize: 1000}, keep: all, wantLen: 33},
			{name: "descending", q: ledger.BalanceQuery{Desc: true, PageSize: 1000}, keep: all},
			{name: "pages of 7 ascending", q: ledger.BalanceQuery{PageSize: 7}, keep: all},
			{name: "pages of 7 descending", q: ledger.BalanceQuery{Desc: true, PageSize: 7}, keep: all},
			{name: "segment gold", q: ledger.BalanceQuery{Segment: "gold"},
				keep: func(_ string, _ ledger.Balance, c seeded) bool { return c.segment == "gold" }, wantLen: 11},
			{name: "segment silver descending in pages of 3", q: ledger.BalanceQuery{Segment: "silver", Desc: true, PageSize: 3},
				keep: func(_ string, _ ledger.Balance, c seeded) bool { return c.segment == "silver" }, wantLen: 11},
			{name: "unknown segment", q: ledger.BalanceQuery{Segment: "platinum"},
				keep: func(string, ledger.Balance, seeded) bool { return false }},
			{name: "overdrawn", q: ledger.BalanceQuery{Status: ledger.StatusOverdrawn},
				keep: func(id string, b ledger.Balance, _ seeded) bool { return b.Value < 0 && id != "limit-50" }, wantLen: 14},
			{name: "healthy includes the customer within its limit", q: ledger.BalanceQuery{Status: ledger.StatusHealthy, PageSize: 7},
				keep: func(id string, b ledger.Balance, _ seeded) bool { return b.Value >= 0 || id == "limit-50" }, wantLen: 19},
			{name: "overdrawn gold descending", q: ledger.BalanceQuery{Status: ledger.StatusOverdrawn, Segment: "gold", Desc: true, PageSize: 2},
				keep: func(_ string, b ledger.Balance, c seeded) bool { return c.segment == "gold" && b.Value < 0 }},
			{name: "overdrawn gold with min -5 descending in pages of 2",
				q: ledger.BalanceQuery{Status: ledger.StatusOverdrawn, Segment: "gold", Min: f(-5), Desc: true, PageSize: 2},
				keep: func(_ string, b ledger.Balance, c seeded) bool {
					return c.segment == "gold" && b.Value < 0 && b.Value >= -5
				}, wantLen: 4},
			{name: "min -5", q: ledger.BalanceQuery{Min: f(-5)}, keep: inRange(f(-5), nil)},
			{name: "max 10", q: ledger.BalanceQuery{Max: f(10), Desc: true}, keep: inRange(nil, f(10))},
			{name: "between -5 and 10 in pages of 7", q: ledger.BalanceQuery{Min: f(-5), Max: f(10), PageSize: 7}, keep: inRange(f(-5), f(10))},
			{name: "min 0 includes zero balances", q: ledger.BalanceQuery{Min: f(0)}, keep: inRange(f(0), nil)},
			{name: "max 0 includes zero balances", q: ledger.BalanceQuery{Max: f(0)}, keep: inRange(nil, f(0))},
			{name: "min 0 max 0 is the zero balances", q: ledger.BalanceQuery{Min: f(0), Max: f(0)}, keep: inRange(f(0), f(0)), wantLen: 2},
			{name: "empty range", q: ledger.BalanceQuery{Min: f(1000), Max: f(2000)}, keep: inRange(f(1000), f(2000))},
			{name: "overdrawn with min -5 descending", q: ledger.BalanceQuery{Status: ledger.StatusOverdrawn, Min: f(-5), Desc: true},
				keep: func(id string, b ledger.Balance, c seeded) bool {
					return b.Status == ledger.StatusOverdrawn && inRange(f(-5), nil)(id, b, c)
				}},
			{name: "healthy with max -5", q: ledger.BalanceQuery{Status: ledger.StatusHealthy, Max: f(-5)},
				keep: func(id string, _ ledger.Balance, _ seeded) bool { return id == "limit-50" }, wantLen: 1},
		} {
			var want []string
			for _, id := range asc {
				if tc.keep(id, bals[id], byID[id]) {
					want = append(want, id)
				}
			}
			if tc.q.Desc {
				slices.Reverse(want)
			}
			got := listAllBalances(t, svc, tc.q)
			if !slices.Equal(balanceIDs(got), want) {
				t.Errorf("%s:\ngot  %v\nwant %v", tc.name, balanceIDs(got), want)
			}
			if tc.wantLen != 0 && len(want) != tc.wantLen {
				t.Errorf("%s: setup: %d expected entries, meant %d", tc.name, len(want), tc.wantLen)
			}
			for _, e := range got {
				b, c := e.Balance, byID[e.Customer.ID]
				if p := e.Customer.Profile; p.Segment != c.segment || p.Value != c.value || p.DisplayName != "Customer "+c.id {
					t.Errorf("%s: entry %s: profile %+v", tc.name, c.id, p)
				}
				if b.CustomerID != c.id || b.Status != bals[c.id].Status || b.PolicyVersion != 1 || b.EventCount != bals[c.id].EventCount ||
					!relEq(b.Value, bals[c.id].Value, relTol) {
					t.Errorf("%s: entry %s: %+v, GetBalance %+v", tc.name, c.id, b, bals[c.id])
				}
			}
		}
	})
}

// A pagination started before customers arrive keeps its order: it lists
// every original customer once, in the order it had, and a new customer
// exactly when it sorts after the page already read.
func TestListBalancesPagesStayStableWhileCustomersArrive(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		ctx := t.Context()
		put := func(id string, v float64, at time.Time) {
			t.Helper()
			if v > 0 {
				record(t, svc, nev(id, ledger.KindReliableDelivery, v, at))
			} else {
				record(t, svc, nev(id, ledger.KindComplaint, -v/8, at))
			}
		}
		for _, desc := range []bool{false, true} {
			// A segment of its own per pass, so nothing else interferes.
			seg := fmt.Sprintf("stable-%v", desc)
			q := ledger.BalanceQuery{Desc: desc, PageSize: 7, Segment: seg}
			originals := 0
			for i, v := range []float64{-40, -12, -3, -1, 2, 5, 9, 14, 22, 35, 50, 70, 90, 120} {
				id := fmt.Sprintf("%s-%02d", seg, i)
				upsert(t, svc, id, ledger.Profile{Segment: seg, Value: 1})
				put(id, v, t0.Add(-time.Duration(i)*day))
				originals++
			}
			want := listAllBalances(t, svc, q)
			if len(want) != originals {
				t.Fatalf("setup: %d originals listed, want %d", len(want), originals)
			}
			first, err := svc.ListBalances(ctx, ledger.DefaultTenant, q)
			if err != nil {
				t.Fatal(err)
			}
			// New customers land before, inside and after the first page.
			for i, v := range []float64{-100, -2, 0.5, 3, 60, 500} {
				id := fmt.Sprintf("%s-new-%d", seg, i)
				put(id, v, t0)
				upsert(t, svc, id, ledger.Profile{Segment: seg, Value: 1})
			}
			q.PageToken = first.NextPageToken
			got := append(slices.Clone(first.Entries), listAllBalances(t, svc, q)...)
			var old []string
			seen := map[string]bool{}
			for _, id := range balanceIDs(got) {
				if seen[id] {
					t.Errorf("%s: %s listed twice", seg, id)
				}
				seen[id] = true
				if !strings.Contains(id, "-new-") {
					old = append(old, id)
				}
			}
			if !slices.Equal(old, balanceIDs(want)) {
				t.Errorf("%s: originals %v\nwant %v", seg, old, balanceIDs(want))
			}
			cursor := balanceAt(t, svc, first.Entries[len(first.Entries)-1].Customer.ID, time.Time{}).Value
			for i := range 6 {
				id := fmt.Sprintf("%s-new-%d", seg, i)
				v := balanceAt(t, svc, id, time.Time{}).Value
				after := v > cursor
				if desc {
					after = v < cursor
				}
				if seen[id] != after {
					t.Errorf("%s: new %s (balance %.3f, cursor %.3f) listed=%v, want %v", seg, id, v, cursor, seen[id], after)
				}
			}
		}
	})
}

func TestListBalancesRefusesABadQuery(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		record(t, svc, nev("c", ledger.KindReliableDelivery, 1, t0))
		f := ptrTo[float64]
		for _, tc := range []struct {
			name  string
			q     ledger.BalanceQuery
			field string
		}{
			{name: "garbage page token", q: ledger.BalanceQuery{PageToken: "not a token!"}, field: "page_token"},
			{name: "base64 page token without a cursor", q: ledger.BalanceQuery{PageToken: "Zm9v"}, field: "page_token"},
			{name: "min above max", q: ledger.BalanceQuery{Min: f(5), Max: f(4)}, field: "max_balance"},
			{name: "NaN min", q: ledger.BalanceQuery{Min: f(math.NaN())}, field: "min_balance"},
			{name: "page size over 1000", q: ledger.BalanceQuery{PageSize: 1001}, field: "page_size"},
			{name: "unknown status", q: ledger.BalanceQuery{Status: 7}, field: "status"},
		} {
			_, err := svc.ListBalances(t.Context(), ledger.DefaultTenant, tc.q)
			if !errors.Is(err, ledger.ErrInvalidArgument) || ledger.FieldOf(err) != tc.field {
				t.Errorf("%s: %v, want INVALID_ARGUMENT on %s", tc.name, err, tc.field)
			}
		}
	})
}

// allow_stale may read an older snapshot (a follower read on CockroachDB);
// on these stores it is the same snapshot, so the answers are the same.
func TestAnalystReadsAllowStale(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		counted := &staleReads{Store: st}
		svc := ledger.NewService(counted, ledger.Options{Now: newClock(t0).Now})
		ctx := t.Context()
		record(t, svc, nev("stale-c1", ledger.KindOutage, 1, t0))
		record(t, svc, nev("stale-c2", ledger.KindReliableDelivery, 1, t0))
		for _, stale := range []bool{false, true} {
			before := counted.n.Load()
			page, err := svc.ListBalances(ctx, ledger.DefaultTenant, ledger.BalanceQuery{AllowStale: stale})
			if err != nil || !slices.Equal(balanceIDs(page.Entries), []string{"stale-c1", "stale-c2"}) {
				t.Errorf("ListBalances (allow stale %v): %+v, %v", stale, page, err)
			}
			stats, _, _, err := svc.SummarizeBalances(ctx, ledger.DefaultTenant, "", stale)
			if err != nil || stats[len(stats)-1].Customers != 2 || stats[len(stats)-1].Overdrawn != 1 {
				t.Errorf("SummarizeBalances (allow stale %v): %+v, %v", stale, stats, err)
			}
			rec, err := svc.ListOutreach(ctx, ledger.DefaultTenant, ledger.PurposeRecovery, "", 10, "", stale)
			if err != nil || len(rec.Entries) != 1 || rec.Entries[0].Customer.ID != "stale-c1" {
				t.Errorf("ListOutreach (allow stale %v): %+v, %v", stale, rec, err)
			}
			// Each of the three reads asked the store for a stale snapshot
			// exactly when the caller allowed it.
			want := int64(0)
			if stale {
				want = 3
			}
			if got := counted.n.Load() - before; got != want {
				t.Errorf("allow stale %v: %d stale reads, want %d", stale, got, want)
			}
		}
	})
}

// staleReads counts the store's ViewStale calls: on SQLite and PostgreSQL a
// stale read returns what View does, so only the count shows the Service
// asked for one.
type staleReads struct {
	ledger.Store
	n atomic.Int64
}

func (s *staleReads) ViewStale(ctx context.Context, fn func(ledger.Reader) error) error {
	s.n.Add(1)
	return s.Store.ViewStale(ctx, fn)
}
