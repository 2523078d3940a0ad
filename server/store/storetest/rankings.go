package storetest

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// rankSpec is one customer of the ranking fixture.
type rankSpec struct {
	id       string
	rank     float64
	segment  string
	recovery *float64
	advocacy *float64
}

func rankedCustomer(tenant string, sp rankSpec, n int) ledger.Customer {
	c := newCustomer(tenant, sp.id)
	c.Profile.Segment = sp.segment
	c.Keys = ledger.Keys{Rank: sp.rank, Recovery: sp.recovery, Advocacy: sp.advocacy}
	c.State.Count = int64(n)
	c.State.Trend = float64(n) - 0.5
	return c
}

// rankFixture stores tenant A's customers with ties in every key, ids that
// follow neither the keys nor the insertion order, customers without a
// recovery or advocacy key, and keys of zero. Tenant B holds customers
// with the same ids and keys (and keys where tenant A's are nil), which
// would interleave with tenant A's. It returns tenant A's customers.
func rankFixture(t *testing.T, s ledger.Store) []ledger.Customer {
	t.Helper()
	specs := []rankSpec{
		{id: "cu-k", rank: 5, segment: "smb", advocacy: ptr(2.0)},
		{id: "cu-c", rank: -3, segment: "enterprise", recovery: ptr(1.5)},
		{id: "cu-m", rank: 5, segment: "enterprise", recovery: ptr(-2.0), advocacy: ptr(2.0)},
		{id: "cu-a", rank: 0, segment: "", recovery: ptr(1.5)},
		{id: "cu-f", rank: 12.25, segment: "smb", advocacy: ptr(-1.0)},
		{id: "cu-b", rank: -3, segment: "smb", recovery: ptr(1.5), advocacy: ptr(7.0)},
		{id: "cu-z", rank: 5, segment: "smb", recovery: ptr(0.0)},
		{id: "cu-d", rank: -100, segment: "enterprise", advocacy: ptr(2.0)},
		{id: "cu-q", rank: 7, segment: "enterprise", recovery: ptr(-2.0)},
		{id: "cu-e", rank: 0, segment: "smb", advocacy: ptr(0.0)},
		{id: "cu-h", rank: -0.5, segment: "enterprise", recovery: ptr(3.0), advocacy: ptr(0.25)},
	}
	var mine []ledger.Customer
	for i, sp := range specs {
		mine = append(mine, rankedCustomer(tenantA, sp, i+1))
	}
	for _, batch := range [][]int{{6, 0}, {10}, {3, 9, 1}, {4}, {8, 2}, {5, 7}} {
		mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
			for _, i := range batch {
				if err := tx.PutCustomer(ctx, mine[i]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for i, sp := range specs {
			if sp.recovery == nil {
				sp.recovery = ptr(1.5)
			}
			if sp.advocacy == nil {
				sp.advocacy = ptr(2.0)
			}
			if err := tx.PutCustomer(ctx, rankedCustomer(tenantB, sp, 1000+i)); err != nil {
				return err
			}
		}
		return tx.PutCustomer(ctx, rankedCustomer(tenantB, rankSpec{id: "cu-g", rank: 5, segment: "smb",
			recovery: ptr(1.5), advocacy: ptr(2.0)}, 2000))
	})
	return mine
}

// rankKey is a customer's key in an index; ok is false when the customer
// is not in it.
func rankKey(idx ledger.RankIndex, c ledger.Customer) (key float64, ok bool) {
	switch idx {
	case ledger.ByBalance:
		return c.Keys.Rank, true
	case ledger.ByRecovery:
		if c.Keys.Recovery != nil {
			return *c.Keys.Recovery, true
		}
	case ledger.ByAdvocacy:
		if c.Keys.Advocacy != nil {
			return *c.Keys.Advocacy, true
		}
	default:
		panic(fmt.Sprintf("unknown index %d", idx))
	}
	return 0, false
}

// rankCompare orders (key, id) positions the way a walk of q meets them.
func rankCompare(q ledger.RankQuery, ka float64, ida string, kb float64, idb string) int {
	c := cmp.Compare(ka, kb)
	if c == 0 {
		c = strings.Compare(ida, idb)
	}
	if q.Desc {
		c = -c
	}
	return c
}

// expectRanked is the suite's model of Ranked.
func expectRanked(all []ledger.Customer, q ledger.RankQuery) []ledger.Customer {
	var out []ledger.Customer
	for _, c := range all {
		k, ok := rankKey(q.Index, c)
		switch {
		case !ok:
		case q.Segment != "" && c.Profile.Segment != q.Segment:
		case q.Min != nil && k < *q.Min:
		case q.Max != nil && k > *q.Max:
		case q.After != nil && rankCompare(q, k, c.ID, q.After.Key, q.After.CustomerID) <= 0:
		default:
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b ledger.Customer) int {
		ka, _ := rankKey(q.Index, a)
		kb, _ := rankKey(q.Index, b)
		return rankCompare(q, ka, a.ID, kb, b.ID)
	})
	return out[:min(len(out), q.Limit)]
}

func testRankedOrderAndFilters(t *testing.T, s ledger.Store) {
	all := rankFixture(t, s)
	cur := func(key float64, id string) *ledger.RankCursor { return &ledger.RankCursor{Key: key, CustomerID: id} }
	bal := func(q ledger.RankQuery) ledger.RankQuery {
		q.Index = ledger.ByBalance
		return q
	}
	rec := func(q ledger.RankQuery) ledger.RankQuery {
		q.Index = ledger.ByRecovery
		return q
	}
	adv := func(q ledger.RankQuery) ledger.RankQuery {
		q.Index = ledger.ByAdvocacy
		return q
	}
	tests := []struct {
		name string
		q    ledger.RankQuery
		// want pins the expected ids so that the suite's model cannot drift.
		want string
	}{
		// ByBalance
		{name: "balance ascending, ties by id", q: bal(ledger.RankQuery{Limit: 100}),
			want: "cu-d cu-b cu-c cu-h cu-a cu-e cu-k cu-m cu-z cu-q cu-f"},
		{name: "balance descending, ties by id descending", q: bal(ledger.RankQuery{Desc: true, Limit: 100}),
			want: "cu-f cu-q cu-z cu-m cu-k cu-e cu-a cu-h cu-c cu-b cu-d"},
		{name: "balance limit", q: bal(ledger.RankQuery{Limit: 4}), want: "cu-d cu-b cu-c cu-h"},
		{name: "balance limit descending", q: bal(ledger.RankQuery{Desc: true, Limit: 4}), want: "cu-f cu-q cu-z cu-m"},
		{name: "balance limit equal to count", q: bal(ledger.RankQuery{Limit: 11}),
			want: "cu-d cu-b cu-c cu-h cu-a cu-e cu-k cu-m cu-z cu-q cu-f"},
		{name: "segment", q: bal(ledger.RankQuery{Segment: "smb", Limit: 100}),
			want: "cu-b cu-e cu-k cu-z cu-f"},
		{name: "segment descending", q: bal(ledger.RankQuery{Segment: "smb", Desc: true, Limit: 100}),
			want: "cu-f cu-z cu-k cu-e cu-b"},
		{name: "other segment", q: bal(ledger.RankQuery{Segment: "enterprise", Limit: 100}),
			want: "cu-d cu-c cu-h cu-m cu-q"},
		{name: "segment and limit", q: bal(ledger.RankQuery{Segment: "enterprise", Desc: true, Limit: 2}),
			want: "cu-q cu-m"},
		{name: "segment without customers", q: bal(ledger.RankQuery{Segment: "gold", Limit: 100})},
		{name: "min and max are inclusive", q: bal(ledger.RankQuery{Min: ptr(0.0), Max: ptr(5.0), Limit: 100}),
			want: "cu-a cu-e cu-k cu-m cu-z"},
		{name: "min and max descending", q: bal(ledger.RankQuery{Min: ptr(0.0), Max: ptr(5.0), Desc: true, Limit: 100}),
			want: "cu-z cu-m cu-k cu-e cu-a"},
		{name: "min only, limit", q: bal(ledger.RankQuery{Min: ptr(-3.0), Limit: 3}), want: "cu-b cu-c cu-h"},
		{name: "max only, descending", q: bal(ledger.RankQuery{Max: ptr(-3.0), Desc: true, Limit: 100}),
			want: "cu-c cu-b cu-d"},
		{name: "min equal to max", q: bal(ledger.RankQuery{Min: ptr(5.0), Max: ptr(5.0), Limit: 100}),
			want: "cu-k cu-m cu-z"},
		{name: "min just above a tie", q: bal(ledger.RankQuery{Min: ptr(math.Nextafter(5, 6)), Limit: 100}),
			want: "cu-q cu-f"},
		{name: "max just below a tie", q: bal(ledger.RankQuery{Max: ptr(math.Nextafter(5, 4)), Limit: 100}),
			want: "cu-d cu-b cu-c cu-h cu-a cu-e"},
		{name: "empty range", q: bal(ledger.RankQuery{Min: ptr(5.5), Max: ptr(6.5), Limit: 100})},
		{name: "segment, min and max", q: bal(ledger.RankQuery{Segment: "smb", Min: ptr(0.0), Max: ptr(5.0), Limit: 100}),
			want: "cu-e cu-k cu-z"},
		{name: "after a cursor inside a tie", q: bal(ledger.RankQuery{After: cur(5, "cu-k"), Limit: 100}),
			want: "cu-m cu-z cu-q cu-f"},
		{name: "after the middle of a tie", q: bal(ledger.RankQuery{After: cur(5, "cu-m"), Limit: 100}),
			want: "cu-z cu-q cu-f"},
		{name: "after the last of a tie", q: bal(ledger.RankQuery{After: cur(5, "cu-z"), Limit: 100}),
			want: "cu-q cu-f"},
		{name: "after a position before a tie", q: bal(ledger.RankQuery{After: cur(5, "cu-a"), Limit: 100}),
			want: "cu-k cu-m cu-z cu-q cu-f"},
		{name: "after a position between ids of a tie", q: bal(ledger.RankQuery{After: cur(5, "cu-l"), Limit: 100}),
			want: "cu-m cu-z cu-q cu-f"},
		{name: "after a key between keys", q: bal(ledger.RankQuery{After: cur(4.5, "cu-m"), Limit: 100}),
			want: "cu-k cu-m cu-z cu-q cu-f"},
		{name: "after a cursor inside a tie, descending", q: bal(ledger.RankQuery{After: cur(5, "cu-m"), Desc: true, Limit: 100}),
			want: "cu-k cu-e cu-a cu-h cu-c cu-b cu-d"},
		{name: "after the last of a tie, descending", q: bal(ledger.RankQuery{After: cur(5, "cu-k"), Desc: true, Limit: 100}),
			want: "cu-e cu-a cu-h cu-c cu-b cu-d"},
		{name: "after a position before a tie, descending", q: bal(ledger.RankQuery{After: cur(5, "cu-zz"), Desc: true, Limit: 100}),
			want: "cu-z cu-m cu-k cu-e cu-a cu-h cu-c cu-b cu-d"},
		{name: "after a key between keys, descending", q: bal(ledger.RankQuery{After: cur(4.5, "cu-a"), Desc: true, Limit: 100}),
			want: "cu-e cu-a cu-h cu-c cu-b cu-d"},
		{name: "after the last customer", q: bal(ledger.RankQuery{After: cur(12.25, "cu-f"), Limit: 100})},
		{name: "after the last customer, descending", q: bal(ledger.RankQuery{After: cur(-100, "cu-d"), Desc: true, Limit: 100})},
		{name: "after and limit", q: bal(ledger.RankQuery{After: cur(-3, "cu-b"), Limit: 3}),
			want: "cu-c cu-h cu-a"},
		{name: "after and segment", q: bal(ledger.RankQuery{Segment: "smb", After: cur(-3, "cu-c"), Limit: 100}),
			want: "cu-e cu-k cu-z cu-f"},
		{name: "after, segment, min, max, descending", q: bal(ledger.RankQuery{Segment: "enterprise", Min: ptr(-3.0), Max: ptr(5.0),
			After: cur(5, "cu-m"), Desc: true, Limit: 100}),
			want: "cu-h cu-c"},
		{name: "after a cursor below min", q: bal(ledger.RankQuery{Min: ptr(0.0), After: cur(-50, "cu-x"), Limit: 100}),
			want: "cu-a cu-e cu-k cu-m cu-z cu-q cu-f"},
		{name: "after, min, max, limit", q: bal(ledger.RankQuery{Min: ptr(-3.0), Max: ptr(5.0), After: cur(0, "cu-a"), Limit: 3}),
			want: "cu-e cu-k cu-m"},

		// ByRecovery
		{name: "recovery ascending, only customers with a key", q: rec(ledger.RankQuery{Limit: 100}),
			want: "cu-m cu-q cu-z cu-a cu-b cu-c cu-h"},
		{name: "recovery descending", q: rec(ledger.RankQuery{Desc: true, Limit: 100}),
			want: "cu-h cu-c cu-b cu-a cu-z cu-q cu-m"},
		{name: "recovery limit", q: rec(ledger.RankQuery{Limit: 2}), want: "cu-m cu-q"},
		{name: "recovery after a cursor inside a tie", q: rec(ledger.RankQuery{After: cur(1.5, "cu-a"), Limit: 100}),
			want: "cu-b cu-c cu-h"},
		{name: "recovery after a cursor inside a tie, descending", q: rec(ledger.RankQuery{After: cur(1.5, "cu-b"), Desc: true, Limit: 100}),
			want: "cu-a cu-z cu-q cu-m"},
		{name: "recovery after a zero key, limit", q: rec(ledger.RankQuery{After: cur(0, "cu-z"), Limit: 2}),
			want: "cu-a cu-b"},
		{name: "recovery after the last customer", q: rec(ledger.RankQuery{After: cur(3, "cu-h"), Limit: 100})},
		{name: "recovery after the last customer, descending", q: rec(ledger.RankQuery{After: cur(-2, "cu-m"), Desc: true, Limit: 100})},

		// ByAdvocacy
		{name: "advocacy ascending, only customers with a key", q: adv(ledger.RankQuery{Limit: 100}),
			want: "cu-f cu-e cu-h cu-d cu-k cu-m cu-b"},
		{name: "advocacy descending", q: adv(ledger.RankQuery{Desc: true, Limit: 100}),
			want: "cu-b cu-m cu-k cu-d cu-h cu-e cu-f"},
		{name: "advocacy limit, descending", q: adv(ledger.RankQuery{Desc: true, Limit: 3}), want: "cu-b cu-m cu-k"},
		{name: "advocacy after a cursor inside a tie", q: adv(ledger.RankQuery{After: cur(2, "cu-k"), Limit: 100}),
			want: "cu-m cu-b"},
		{name: "advocacy after a cursor inside a tie, descending", q: adv(ledger.RankQuery{After: cur(2, "cu-k"), Desc: true, Limit: 100}),
			want: "cu-d cu-h cu-e cu-f"},
		{name: "advocacy after a key between keys", q: adv(ledger.RankQuery{After: cur(0.1, "cu-a"), Limit: 2}),
			want: "cu-h cu-d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			model := expectRanked(all, tc.q)
			if got := strings.Join(customerIDs(model), " "); got != tc.want {
				t.Fatalf("suite model gives %q, case wants %q", got, tc.want)
			}
			got := ranked(t, s, tenantA, tc.q)
			equalCustomerLists(t, "Ranked", got, model)
		})
	}
	t.Run("other tenant", func(t *testing.T) {
		t.Parallel()
		got := ranked(t, s, tenantB, ledger.RankQuery{Index: ledger.ByRecovery, After: cur(1.5, "cu-f"), Limit: 3})
		if ids := strings.Join(customerIDs(got), " "); ids != "cu-g cu-k cu-h" {
			t.Errorf("Ranked recovery of tenant B = %s, want cu-g cu-k cu-h", ids)
		}
		for _, c := range got {
			if c.TenantID != tenantB || c.State.Count < 1000 {
				t.Errorf("Ranked of tenant B returned %s/%s with Count %d", c.TenantID, c.ID, c.State.Count)
			}
		}
	})
	t.Run("unknown tenant", func(t *testing.T) {
		t.Parallel()
		for _, idx := range []ledger.RankIndex{ledger.ByBalance, ledger.ByRecovery, ledger.ByAdvocacy} {
			if got := ranked(t, s, "tenant-c", ledger.RankQuery{Index: idx, Limit: 100}); len(got) != 0 {
				t.Errorf("Ranked(%d) of an unknown tenant = %v, want none", idx, customerIDs(got))
			}
		}
	})
}

// walkRanked pages through a ranking with cursors made from each page's
// last customer, as ListBalances and the outreach lists do.
func walkRanked(t *testing.T, s ledger.Store, tenant string, q ledger.RankQuery) []ledger.Customer {
	t.Helper()
	var out []ledger.Customer
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatalf("paging did not end after 1000 pages; last cursor %+v", q.After)
		}
		got := ranked(t, s, tenant, q)
		if len(got) > q.Limit {
			t.Fatalf("page %d holds %d customers, limit %d", page, len(got), q.Limit)
		}
		out = append(out, got...)
		if len(got) < q.Limit {
			return out
		}
		last := got[len(got)-1]
		key, ok := rankKey(q.Index, last)
		if !ok {
			t.Fatalf("page %d returned %s, which has no key in index %d", page, last.ID, q.Index)
		}
		q.After = &ledger.RankCursor{Key: key, CustomerID: last.ID}
	}
}

func testRankedWalk(t *testing.T, s ledger.Store) {
	all := rankFixture(t, s)
	type shape struct {
		name string
		q    ledger.RankQuery
	}
	var shapes []shape
	for _, idx := range []struct {
		name string
		idx  ledger.RankIndex
	}{{"balance", ledger.ByBalance}, {"recovery", ledger.ByRecovery}, {"advocacy", ledger.ByAdvocacy}} {
		for _, desc := range []bool{false, true} {
			dir := "ascending"
			if desc {
				dir = "descending"
			}
			shapes = append(shapes, shape{idx.name + " " + dir, ledger.RankQuery{Index: idx.idx, Desc: desc}})
			if idx.idx == ledger.ByBalance {
				shapes = append(shapes,
					shape{"balance segment " + dir, ledger.RankQuery{Index: idx.idx, Desc: desc, Segment: "smb"}},
					shape{"balance min max " + dir, ledger.RankQuery{Index: idx.idx, Desc: desc, Min: ptr(-3.0), Max: ptr(5.0)}},
				)
			}
		}
	}
	for _, sh := range shapes {
		for _, limit := range []int{1, 2, 3} {
			t.Run(fmt.Sprintf("%s, limit %d", sh.name, limit), func(t *testing.T) {
				t.Parallel()
				q := sh.q
				q.Limit = 100
				want := expectRanked(all, q)
				if len(want) < 3 {
					t.Fatalf("shape selects only %v", customerIDs(want))
				}
				q.Limit = limit
				got := walkRanked(t, s, tenantA, q)
				checkOnce(t, got)
				equalCustomerLists(t, "walk", got, want)
			})
		}
	}
}

// testRankedKeyChanges: replacing a customer moves it in every ranking, and
// a key that becomes nil takes it out of that ranking.
func testRankedKeyChanges(t *testing.T, s ledger.Store) {
	a := rankedCustomer(tenantA, rankSpec{id: "cu-a", rank: 1, segment: "smb", recovery: ptr(1.0), advocacy: ptr(1.0)}, 1)
	b := rankedCustomer(tenantA, rankSpec{id: "cu-b", rank: 2, segment: "smb", recovery: ptr(2.0)}, 2)
	c := rankedCustomer(tenantA, rankSpec{id: "cu-c", rank: 3, segment: "enterprise", recovery: ptr(3.0), advocacy: ptr(3.0)}, 3)
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for _, x := range []ledger.Customer{a, b, c} {
			if err := tx.PutCustomer(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	type check struct {
		q    ledger.RankQuery
		want []ledger.Customer
	}
	verify := func(stage string, checks []check) {
		t.Helper()
		for _, ch := range checks {
			ch.q.Limit = 100
			equalCustomerLists(t, fmt.Sprintf("%s: Ranked(%+v)", stage, ch.q), ranked(t, s, tenantA, ch.q), ch.want)
			ch.q.Desc = true
			equalCustomerLists(t, fmt.Sprintf("%s: Ranked(%+v)", stage, ch.q), ranked(t, s, tenantA, ch.q), reversed(ch.want))
		}
	}
	verify("before", []check{
		{ledger.RankQuery{Index: ledger.ByBalance}, []ledger.Customer{a, b, c}},
		{ledger.RankQuery{Index: ledger.ByBalance, Segment: "smb"}, []ledger.Customer{a, b}},
		{ledger.RankQuery{Index: ledger.ByBalance, Segment: "enterprise"}, []ledger.Customer{c}},
		{ledger.RankQuery{Index: ledger.ByRecovery}, []ledger.Customer{a, b, c}},
		{ledger.RankQuery{Index: ledger.ByAdvocacy}, []ledger.Customer{a, c}},
	})

	// b leaves the recovery list and joins the advocacy list, moves to the
	// top of the balance ranking and to another segment; c's recovery key
	// moves it before a and it leaves the advocacy list.
	b2 := b
	b2.Keys = ledger.Keys{Rank: 10, Advocacy: ptr(0.5)}
	b2.Profile.Segment = "enterprise"
	c2 := c
	c2.Keys = ledger.Keys{Rank: 3, Recovery: ptr(0.5)}
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.PutCustomer(ctx, b2); err != nil {
			return err
		}
		return tx.PutCustomer(ctx, c2)
	})
	verify("after", []check{
		{ledger.RankQuery{Index: ledger.ByBalance}, []ledger.Customer{a, c2, b2}},
		{ledger.RankQuery{Index: ledger.ByBalance, Segment: "smb"}, []ledger.Customer{a}},
		{ledger.RankQuery{Index: ledger.ByBalance, Segment: "enterprise"}, []ledger.Customer{c2, b2}},
		{ledger.RankQuery{Index: ledger.ByRecovery}, []ledger.Customer{c2, a}},
		{ledger.RankQuery{Index: ledger.ByAdvocacy}, []ledger.Customer{b2, a}},
	})

	// Every key of a set to nil in one Update, after an intermediate write.
	a2 := a
	a2.Keys = ledger.Keys{Rank: 1}
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		mid := a
		mid.Keys.Recovery = ptr(100.0)
		if err := tx.PutCustomer(ctx, mid); err != nil {
			return err
		}
		return tx.PutCustomer(ctx, a2)
	})
	verify("after clearing a's keys", []check{
		{ledger.RankQuery{Index: ledger.ByBalance}, []ledger.Customer{a2, c2, b2}},
		{ledger.RankQuery{Index: ledger.ByRecovery}, []ledger.Customer{c2}},
		{ledger.RankQuery{Index: ledger.ByAdvocacy}, []ledger.Customer{b2}},
	})
}

// testRankingKeysRoundTrip: Keys (nil and not), Trend and LastGrievanceKind
// come back unchanged from every read that returns customers.
func testRankingKeysRoundTrip(t *testing.T, s ledger.Store) {
	noRecovery := fullCustomer(tenantA, "k-no-recovery")
	noRecovery.Keys.Recovery = nil
	noRecovery.Keys.Rank = math.Nextafter(0.3, 1)
	noRecovery.State.Trend = math.Nextafter(2.5, 3)
	noRecovery.State.LastGrievanceKind = ledger.KindOutage

	noAdvocacy := newCustomer(tenantA, "k-no-advocacy")
	noAdvocacy.Keys = ledger.Keys{Rank: 42.5, Recovery: ptr(math.Nextafter(1, 2))}
	noAdvocacy.State.Trend = -0.125

	zero := newCustomer(tenantA, "k-zero")
	zero.Keys = ledger.Keys{Recovery: ptr(0.0), Advocacy: ptr(0.0)}

	large := newCustomer(tenantA, "k-large")
	large.Keys = ledger.Keys{Rank: 1e300, Recovery: ptr(-1e-300), Advocacy: ptr(123456789.123456789)}
	large.State.Trend = 1e-7
	large.State.LastGrievanceAt = at(-1)
	large.State.LastGrievanceKind = ledger.KindComplaint

	customers := []ledger.Customer{
		fullCustomer(tenantA, "k-full"),
		noRecovery,
		noAdvocacy,
		newCustomer(tenantA, "k-none"),
		zero,
		large,
	}
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for _, c := range customers {
			if err := tx.PutCustomer(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	list := listCustomers(t, s, tenantA, "", 100)
	rankings := map[ledger.RankIndex][]ledger.Customer{}
	for _, idx := range []ledger.RankIndex{ledger.ByBalance, ledger.ByRecovery, ledger.ByAdvocacy} {
		rankings[idx] = ranked(t, s, tenantA, ledger.RankQuery{Index: idx, Limit: 100})
	}
	for _, want := range customers {
		t.Run(want.ID, func(t *testing.T) {
			got, err := getCustomer(t, s, tenantA, want.ID)
			if err != nil {
				t.Fatalf("Customer: %v", err)
			}
			equalCustomer(t, "Customer", got, want)
			if found := findCustomer(list, want.ID); found == nil {
				t.Errorf("Customers: %s missing from %v", want.ID, customerIDs(list))
			} else {
				equalCustomer(t, "Customers", *found, want)
			}
			for idx, cs := range rankings {
				found := findCustomer(cs, want.ID)
				if _, in := rankKey(idx, want); !in {
					if found != nil {
						t.Errorf("Ranked(%d) holds %s, whose key is nil", idx, want.ID)
					}
					continue
				}
				if found == nil {
					t.Errorf("Ranked(%d): %s missing from %v", idx, want.ID, customerIDs(cs))
					continue
				}
				equalCustomer(t, fmt.Sprintf("Ranked(%d)", idx), *found, want)
			}
		})
	}
}
