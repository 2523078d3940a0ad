package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// orderFixture stores events whose ids do not follow their times or their
// insertion order, with ties in OccurredAt, plus look-alike events of other
// customers and tenants. It returns c1's events newest first.
func orderFixture(t *testing.T, s ledger.Store) []ledger.Event {
	t.Helper()
	specs := []struct {
		id   string
		min  int
		kind ledger.Kind
	}{
		{"ev-k", 0, ledger.KindCredit},
		{"ev-c", 1, ledger.KindOutage},
		{"ev-m", 1, ledger.KindComplaint},
		{"ev-a", 1, ledger.KindCredit},
		{"ev-f", 2, ledger.KindResponse},
		{"ev-b", 3, ledger.KindOutage},
		{"ev-z", 3, ledger.KindProactiveNotice},
		{"ev-d", 4, ledger.KindEngagement},
		{"ev-q", 5, ledger.KindOutage},
		{"ev-e", 5, ledger.KindCredit},
		{"ev-h", 6, ledger.KindReliableDelivery},
		{"ev-p", 7, ledger.KindSuggestionAdopted},
	}
	var mine []ledger.Event
	for _, sp := range specs {
		mine = append(mine, plainEvent(tenantA, "c1", sp.id, sp.kind, at(sp.min)))
	}
	// Insert in an order unrelated to time and id, some per Update and
	// some together.
	for _, batch := range [][]int{{6, 0}, {11}, {3, 9, 1}, {4}, {8, 2, 10}, {5, 7}} {
		var events []ledger.Event
		for _, i := range batch {
			events = append(events, mine[i])
		}
		mustRecord(t, s, events...)
	}
	// Noise: the same times and kinds for another customer and another
	// tenant's c1, with ids that would interleave.
	for _, sp := range specs {
		mustRecord(t, s,
			plainEvent(tenantA, "c2", sp.id+"-c2", sp.kind, at(sp.min)),
			plainEvent(tenantB, "c1", sp.id+"-b", sp.kind, at(sp.min)),
		)
	}
	want := slices.Clone(mine)
	slices.SortFunc(want, newestFirst)
	if got := strings.Join(eventIDs(want), " "); got != "ev-p ev-h ev-q ev-e ev-d ev-z ev-b ev-f ev-m ev-c ev-a ev-k" {
		t.Fatalf("fixture order = %s", got) // the suite's own model is wrong
	}
	return want
}

// newestFirst is the order Events promises: OccurredAt, then ID, both
// descending.
func newestFirst(a, b ledger.Event) int {
	if c := b.OccurredAt.Compare(a.OccurredAt); c != 0 {
		return c
	}
	return strings.Compare(b.ID, a.ID)
}

// expect is the suite's model of Events: it filters and pages events that
// are already newest first.
func expect(events []ledger.Event, q ledger.EventQuery) []ledger.Event {
	var out []ledger.Event
	for _, e := range events {
		if len(q.Kinds) > 0 && !slices.Contains(q.Kinds, e.Kind) {
			continue
		}
		if !q.Start.IsZero() && e.OccurredAt.Before(q.Start) {
			continue
		}
		if !q.End.IsZero() && !e.OccurredAt.Before(q.End) {
			continue
		}
		if c := q.After; c != nil {
			if !(e.OccurredAt.Before(c.OccurredAt) || e.OccurredAt.Equal(c.OccurredAt) && e.ID < c.EventID) {
				continue
			}
		}
		out = append(out, e)
	}
	return out[:min(len(out), q.Limit)]
}

func testEventsOrderAndFilters(t *testing.T, s ledger.Store) {
	all := orderFixture(t, s)
	cur := func(min int, id string) *ledger.Cursor { return &ledger.Cursor{OccurredAt: at(min), EventID: id} }
	tests := []struct {
		name string
		q    ledger.EventQuery
		// want pins the expected ids so that the suite's model cannot drift.
		want string
	}{
		{name: "all, newest first, ties by id", q: ledger.EventQuery{Limit: 100},
			want: "ev-p ev-h ev-q ev-e ev-d ev-z ev-b ev-f ev-m ev-c ev-a ev-k"},
		{name: "limit", q: ledger.EventQuery{Limit: 5}, want: "ev-p ev-h ev-q ev-e ev-d"},
		{name: "limit equal to count", q: ledger.EventQuery{Limit: 12},
			want: "ev-p ev-h ev-q ev-e ev-d ev-z ev-b ev-f ev-m ev-c ev-a ev-k"},
		{name: "one kind", q: ledger.EventQuery{Kinds: []ledger.Kind{ledger.KindOutage}, Limit: 100},
			want: "ev-q ev-b ev-c"},
		{name: "two kinds", q: ledger.EventQuery{Kinds: []ledger.Kind{ledger.KindComplaint, ledger.KindOutage}, Limit: 100},
			want: "ev-q ev-b ev-m ev-c"},
		{name: "kind with no events", q: ledger.EventQuery{Kinds: []ledger.Kind{ledger.KindReversal}, Limit: 100}},
		{name: "kinds and limit", q: ledger.EventQuery{Kinds: []ledger.Kind{ledger.KindCredit, ledger.KindOutage}, Limit: 3},
			want: "ev-q ev-e ev-b"},
		{name: "start is inclusive", q: ledger.EventQuery{Start: at(3), Limit: 100},
			want: "ev-p ev-h ev-q ev-e ev-d ev-z ev-b"},
		{name: "end is exclusive", q: ledger.EventQuery{End: at(3), Limit: 100},
			want: "ev-f ev-m ev-c ev-a ev-k"},
		{name: "start and end", q: ledger.EventQuery{Start: at(1), End: at(5), Limit: 100},
			want: "ev-d ev-z ev-b ev-f ev-m ev-c ev-a"},
		{name: "start one microsecond after events", q: ledger.EventQuery{Start: at(5).Add(time.Microsecond), End: at(7), Limit: 100},
			want: "ev-h"},
		{name: "empty window", q: ledger.EventQuery{Start: at(3), End: at(3), Limit: 100}},
		{name: "after a cursor inside a tie", q: ledger.EventQuery{After: cur(1, "ev-m"), Limit: 100},
			want: "ev-c ev-a ev-k"},
		{name: "after the last of a tie", q: ledger.EventQuery{After: cur(3, "ev-b"), Limit: 100},
			want: "ev-f ev-m ev-c ev-a ev-k"},
		{name: "after the first of a tie", q: ledger.EventQuery{After: cur(3, "ev-z"), Limit: 100},
			want: "ev-b ev-f ev-m ev-c ev-a ev-k"},
		{name: "after a position between events", q: ledger.EventQuery{After: cur(3, "ev-c"), Limit: 100},
			want: "ev-b ev-f ev-m ev-c ev-a ev-k"},
		{name: "after a position before a tie", q: ledger.EventQuery{After: cur(3, "ev-a"), Limit: 100},
			want: "ev-f ev-m ev-c ev-a ev-k"},
		{name: "after the newest event", q: ledger.EventQuery{After: cur(7, "ev-p"), Limit: 2},
			want: "ev-h ev-q"},
		{name: "after the oldest event", q: ledger.EventQuery{After: cur(0, "ev-k"), Limit: 100}},
		{name: "after, kinds, limit", q: ledger.EventQuery{After: cur(5, "ev-q"), Kinds: []ledger.Kind{ledger.KindCredit, ledger.KindOutage}, Limit: 2},
			want: "ev-e ev-b"},
		{name: "after, start, end", q: ledger.EventQuery{After: cur(5, "ev-e"), Start: at(1), End: at(9), Limit: 100},
			want: "ev-d ev-z ev-b ev-f ev-m ev-c ev-a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			model := expect(all, tc.q)
			if got := strings.Join(eventIDs(model), " "); got != tc.want {
				t.Fatalf("suite model gives %q, case wants %q", got, tc.want)
			}
			got := listEvents(t, s, tenantA, "c1", tc.q)
			equalEventLists(t, "Events", got, model)
		})
	}
	t.Run("unknown customer", func(t *testing.T) {
		t.Parallel()
		if got := listEvents(t, s, tenantA, "c9", ledger.EventQuery{Limit: 100}); len(got) != 0 {
			t.Fatalf("Events of an unknown customer = %v, want none", eventIDs(got))
		}
	})
}

// walk pages through Events with cursors made from each page's last event,
// calling between(pageNumber) after every page.
func walk(t *testing.T, s ledger.Store, tenant, customer string, q ledger.EventQuery, between func(page int, cursor ledger.Cursor)) []ledger.Event {
	t.Helper()
	var out []ledger.Event
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatalf("paging did not end after 1000 pages; last cursor %+v", q.After)
		}
		got := listEvents(t, s, tenant, customer, q)
		if len(got) > q.Limit {
			t.Fatalf("page %d holds %d events, limit %d", page, len(got), q.Limit)
		}
		out = append(out, got...)
		if len(got) < q.Limit {
			return out
		}
		last := got[len(got)-1]
		q.After = &ledger.Cursor{OccurredAt: last.OccurredAt, EventID: last.ID}
		if between != nil {
			between(page, *q.After)
		}
	}
}

func testEventsPaging(t *testing.T, s ledger.Store) {
	all := orderFixture(t, s)
	tests := []struct {
		name  string
		q     ledger.EventQuery
		limit int
	}{
		{name: "limit 1", limit: 1},
		{name: "limit 2", limit: 2},
		{name: "limit 3", limit: 3},
		{name: "limit 5", limit: 5},
		{name: "limit 12", limit: 12},
		{name: "limit 13", limit: 13},
		{name: "kinds, limit 2", limit: 2, q: ledger.EventQuery{Kinds: []ledger.Kind{ledger.KindCredit, ledger.KindOutage}}},
		{name: "window, limit 2", limit: 2, q: ledger.EventQuery{Start: at(1), End: at(5)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := tc.q
			q.Limit = tc.limit
			got := walk(t, s, tenantA, "c1", q, nil)
			q.Limit = 100
			want := expect(all, q)
			if len(want) == 0 {
				t.Fatal("case selects no events")
			}
			equalEventLists(t, "walk", got, want)
		})
	}
}

// testEventsPagingStable inserts events between pages: newer than the
// cursor (they must not appear), older than it (they must appear in their
// place), and at the cursor's own time on both sides of its id.
func testEventsPagingStable(t *testing.T, s ledger.Store) {
	original := orderFixture(t, s)
	var newer, older []string
	between := func(page int, c ledger.Cursor) {
		n := fmt.Sprintf("%02d", page)
		before := []ledger.Event{
			plainEvent(tenantA, "c1", "new-"+n+"-newest", ledger.KindCredit, at(100+page)),
			// Same time as the cursor, larger id: sorts before the cursor.
			plainEvent(tenantA, "c1", c.EventID+"~"+n, ledger.KindCredit, c.OccurredAt),
		}
		after := []ledger.Event{
			plainEvent(tenantA, "c1", "new-"+n+"-oldest", ledger.KindCredit, at(-100-page)),
			// Same time as the cursor, smaller id: sorts after the cursor.
			plainEvent(tenantA, "c1", c.EventID[:len(c.EventID)-1]+"-"+n, ledger.KindCredit, c.OccurredAt),
		}
		mustRecord(t, s, append(slices.Clone(before), after...)...)
		for _, e := range before {
			newer = append(newer, e.ID)
		}
		for _, e := range after {
			older = append(older, e.ID)
		}
	}
	got := walk(t, s, tenantA, "c1", ledger.EventQuery{Limit: 3}, between)

	seen := map[string]bool{}
	for i, e := range got {
		if seen[e.ID] {
			t.Errorf("event %s returned twice", e.ID)
		}
		seen[e.ID] = true
		if i > 0 && newestFirst(got[i-1], e) >= 0 {
			t.Errorf("walk out of order: %s (%v) before %s (%v)", got[i-1].ID, got[i-1].OccurredAt, e.ID, e.OccurredAt)
		}
	}
	var orig []ledger.Event
	for _, e := range got {
		if slices.ContainsFunc(original, func(o ledger.Event) bool { return o.ID == e.ID }) {
			orig = append(orig, e)
		}
	}
	equalEventLists(t, "original events in the walk", orig, original)
	for _, id := range newer {
		if seen[id] {
			t.Errorf("event %s, inserted before the cursor, appeared in a later page", id)
		}
	}
	if len(older) == 0 {
		t.Fatal("no events were inserted between pages")
	}
	for _, id := range older {
		if !seen[id] {
			t.Errorf("event %s, inserted after the cursor before its page was read, is missing", id)
		}
	}
}

func testHistory(t *testing.T, s ledger.Store) {
	e1 := fullEvent(tenantA, "c1", "ev-1")
	e2 := plainEvent(tenantA, "c1", "ev-2", ledger.KindComplaint, at(-30))
	e3 := plainEvent(tenantA, "c1", "ev-3", ledger.KindCredit, at(0)) // ties with e1
	r2 := reversalOf(e2, "ev-r2", at(10))
	mustRecord(t, s, e3, e1)
	mustRecord(t, s, e2)
	mustRecord(t, s, r2)
	// Noise: another customer of the tenant, the same id in another tenant.
	mustRecord(t, s,
		plainEvent(tenantA, "c2", "ev-c2", ledger.KindCredit, at(0)),
		plainEvent(tenantA, "c10", "ev-c10", ledger.KindCredit, at(0)),
		plainEvent(tenantB, "c1", "ev-b1", ledger.KindCredit, at(0)),
	)
	wantE2 := e2
	wantE2.ReversedByEventID = r2.ID
	equalEventSets(t, "History c1", history(t, s, tenantA, "c1"), []ledger.Event{e1, wantE2, e3, r2})
	if h := history(t, s, tenantA, "c9"); len(h) != 0 {
		t.Errorf("History of an unknown customer = %v, want none", eventIDs(h))
	}
	if h := history(t, s, "tenant-c", "c1"); len(h) != 0 {
		t.Errorf("History in an unknown tenant = %v, want none", eventIDs(h))
	}
}

func testTenantIsolation(t *testing.T, s ledger.Store) {
	ca := fullCustomer(tenantA, "c1")
	cb := newCustomer(tenantB, "c1")
	cb.Profile.DisplayName = "tenant b's c1"
	cb.State.Count = 1
	ea := fullEvent(tenantA, "c1", "ev-a")
	eb := plainEvent(tenantB, "c1", "ev-b", ledger.KindComplaint, at(1))
	eb.IdempotencyKey = ea.IdempotencyKey
	rb := reversalOf(eb, "ev-rb", at(2))
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.AppendEvent(ctx, ea); err != nil {
			return err
		}
		return tx.PutCustomer(ctx, ca)
	})
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for _, e := range []ledger.Event{eb, rb} {
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
		}
		return tx.PutCustomer(ctx, cb)
	})
	// Replacing tenant A's row leaves tenant B's alone.
	ca2 := ca
	ca2.State.Count++
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutCustomer(ctx, ca2) })

	wantEB := eb
	wantEB.ReversedByEventID = rb.ID
	for _, tc := range []struct {
		tenant string
		c      ledger.Customer
		events []ledger.Event // newest first
		key    ledger.Event
	}{
		{tenant: tenantA, c: ca2, events: []ledger.Event{ea}, key: ea},
		{tenant: tenantB, c: cb, events: []ledger.Event{rb, wantEB}, key: wantEB},
	} {
		got, err := getCustomer(t, s, tc.tenant, "c1")
		if err != nil {
			t.Fatalf("Customer(%s): %v", tc.tenant, err)
		}
		equalCustomer(t, "Customer "+tc.tenant, got, tc.c)
		equalEventLists(t, "Events "+tc.tenant, listEvents(t, s, tc.tenant, "c1", ledger.EventQuery{Limit: 10}), tc.events)
		equalEventSets(t, "History "+tc.tenant, history(t, s, tc.tenant, "c1"), tc.events)
		byKey, err := getEventByKey(t, s, tc.tenant, "c1", ea.IdempotencyKey)
		if err != nil {
			t.Fatalf("EventByKey(%s): %v", tc.tenant, err)
		}
		equalEvent(t, "EventByKey "+tc.tenant, byKey, tc.key)
	}
	if _, err := getEvent(t, s, tenantA, "c1", eb.ID); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("tenant A reads tenant B's event: error = %v, want ErrNotFound", err)
	}
	if _, err := getCustomer(t, s, "tenant-c", "c1"); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Customer in a third tenant: error = %v, want ErrNotFound", err)
	}
}
