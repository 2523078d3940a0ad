package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// tenantEventsFixture stores events of several customers of tenantA, with
// ties in OccurredAt, ids that do not follow their times, customers whose
// ids sort bytewise ("C1" before "a1"), segments, a reversal recorded
// later than the others, and look-alike events of tenantB. It returns
// tenantA's events in export order.
func tenantEventsFixture(t *testing.T, s ledger.Store) []ledger.Event {
	t.Helper()
	var mine []ledger.Event
	add := func(customer, id string, kind ledger.Kind, min int) ledger.Event {
		e := plainEvent(tenantA, customer, id, kind, at(min))
		mine = append(mine, e)
		return e
	}
	for _, c := range []string{"a1", "C1", "b2", "a10"} {
		add(c, "ev-z-"+c, ledger.KindCredit, 2)
		add(c, "ev-a-"+c, ledger.KindOutage, 2)
		add(c, "ev-m-"+c, ledger.KindComplaint, 1)
		add(c, "ev-b-"+c, ledger.KindResponse, 5)
	}
	// Insert in an order unrelated to the export's, a few per Update.
	shuffled := slices.Clone(mine)
	slices.SortFunc(shuffled, func(a, b ledger.Event) int { return strings.Compare(b.ID, a.ID) })
	for i := 0; i < len(shuffled); i += 3 {
		mustRecord(t, s, shuffled[i:min(i+3, len(shuffled))]...)
	}
	// A reversal of b2's outage, recorded an hour after everything else.
	rev := reversalOf(mine[slices.IndexFunc(mine, func(e ledger.Event) bool { return e.ID == "ev-a-b2" })], "ev-r-b2", at(6))
	rev.RecordedAt = at(60)
	mine = append(mine, rev)
	mustRecord(t, s, rev)
	// Segments: a1 and b2 are "gold"; a10 "silver"; C1 none.
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for id, seg := range map[string]string{"a1": "gold", "b2": "gold", "a10": "silver"} {
			c, err := tx.Customer(ctx, tenantA, id)
			if err != nil {
				return err
			}
			c.Profile.Segment = seg
			if err := tx.PutCustomer(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	// Noise: another tenant with the same customers, times and ids.
	for _, e := range mine {
		e.TenantID = tenantB
		if e.Kind != ledger.KindReversal {
			mustRecord(t, s, e)
		}
	}
	for i := range mine {
		if mine[i].ID == "ev-a-b2" {
			mine[i].ReversedByEventID = "ev-r-b2"
		}
	}
	slices.SortFunc(mine, exportOrder)
	return mine
}

// exportOrder is the order TenantEvents promises: customer id, OccurredAt,
// id, ascending, ids compared bytewise.
func exportOrder(a, b ledger.Event) int {
	if c := strings.Compare(a.CustomerID, b.CustomerID); c != 0 {
		return c
	}
	if c := a.OccurredAt.Compare(b.OccurredAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

func tenantEvents(t *testing.T, s ledger.Store, q ledger.TenantEventQuery) (events []ledger.Event) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		var err error
		events, err = r.TenantEvents(ctx, tenantA, q)
		return err
	})
	return events
}

// exportAll pages through TenantEvents limit rows at a time, each page
// resuming from the last event of the one before, as the Service does.
func exportAll(t *testing.T, s ledger.Store, q ledger.TenantEventQuery, limit int) (all []ledger.Event, pages int) {
	t.Helper()
	q.Limit = limit
	for {
		page := tenantEvents(t, s, q)
		pages++
		all = append(all, page...)
		if len(page) < limit {
			return all, pages
		}
		last := page[len(page)-1]
		q.After = &ledger.ExportCursor{CustomerID: last.CustomerID, OccurredAt: last.OccurredAt, EventID: last.ID}
		if pages > 100 {
			t.Fatal("the export does not end")
		}
	}
}

func testTenantEventsOrderAndPaging(t *testing.T, s ledger.Store) {
	all := tenantEventsFixture(t, s)
	want := "ev-m-C1 ev-a-C1 ev-z-C1 ev-b-C1 ev-m-a1 ev-a-a1 ev-z-a1 ev-b-a1 ev-m-a10 ev-a-a10 ev-z-a10 ev-b-a10 " +
		"ev-m-b2 ev-a-b2 ev-z-b2 ev-b-b2 ev-r-b2"
	if got := strings.Join(eventIDs(all), " "); got != want {
		t.Fatalf("fixture order = %s", got) // the suite's own model is wrong
	}
	got := tenantEvents(t, s, ledger.TenantEventQuery{Limit: 100})
	equalEventLists(t, "one page", got, all)
	for _, limit := range []int{1, 2, 3, 4, 5, 16, 17, 18} {
		got, pages := exportAll(t, s, ledger.TenantEventQuery{}, limit)
		equalEventLists(t, fmt.Sprintf("paged by %d", limit), got, all)
		if want := len(all)/limit + 1; pages != want {
			t.Errorf("limit %d: %d pages, want %d", limit, pages, want)
		}
	}
	// Resume from a position inside a tie of OccurredAt (a-a10 and z-a10
	// share a minute).
	after := &ledger.ExportCursor{CustomerID: "a10", OccurredAt: at(2), EventID: "ev-a-a10"}
	got = tenantEvents(t, s, ledger.TenantEventQuery{After: after, Limit: 3})
	if ids := strings.Join(eventIDs(got), " "); ids != "ev-z-a10 ev-b-a10 ev-m-b2" {
		t.Errorf("resumed page = %s", ids)
	}
	// A position no event holds resumes at the next one.
	after = &ledger.ExportCursor{CustomerID: "a1", OccurredAt: at(3), EventID: "zzz"}
	got = tenantEvents(t, s, ledger.TenantEventQuery{After: after, Limit: 2})
	if ids := strings.Join(eventIDs(got), " "); ids != "ev-b-a1 ev-m-a10" {
		t.Errorf("page after a missing position = %s", ids)
	}
}

func testTenantEventsFilters(t *testing.T, s ledger.Store) {
	all := tenantEventsFixture(t, s)
	keep := func(f func(e ledger.Event) bool) []ledger.Event {
		var out []ledger.Event
		for _, e := range all {
			if f(e) {
				out = append(out, e)
			}
		}
		return out
	}
	gold := map[string]bool{"a1": true, "b2": true}
	tests := []struct {
		name string
		q    ledger.TenantEventQuery
		want []ledger.Event
	}{
		{name: "segment", q: ledger.TenantEventQuery{Segment: "gold"},
			want: keep(func(e ledger.Event) bool { return gold[e.CustomerID] })},
		{name: "segment nobody is in", q: ledger.TenantEventQuery{Segment: "bronze"}},
		{name: "kinds", q: ledger.TenantEventQuery{Kinds: []ledger.Kind{ledger.KindOutage, ledger.KindReversal}},
			want: keep(func(e ledger.Event) bool { return e.Kind == ledger.KindOutage || e.Kind == ledger.KindReversal })},
		{name: "start inclusive, end exclusive", q: ledger.TenantEventQuery{Start: at(2), End: at(5)},
			want: keep(func(e ledger.Event) bool { return e.OccurredAt.Equal(at(2)) })},
		{name: "recorded through", q: ledger.TenantEventQuery{RecordedThrough: at(59)},
			want: keep(func(e ledger.Event) bool { return e.Kind != ledger.KindReversal })},
		{name: "recorded through, inclusive", q: ledger.TenantEventQuery{RecordedThrough: at(60)}, want: all},
		{name: "through a customer, inclusive", q: ledger.TenantEventQuery{ThroughCustomer: "a10"},
			want: keep(func(e ledger.Event) bool { return e.CustomerID <= "a10" })},
		{name: "every filter", q: ledger.TenantEventQuery{Segment: "gold", Kinds: []ledger.Kind{ledger.KindOutage, ledger.KindCredit},
			Start: at(2), End: at(3), RecordedThrough: at(59)},
			want: keep(func(e ledger.Event) bool {
				return gold[e.CustomerID] && (e.Kind == ledger.KindOutage || e.Kind == ledger.KindCredit)
			})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.Limit = 100
			equalEventLists(t, "one page", tenantEvents(t, s, q), tc.want)
			// Paged by two, each event still comes exactly once.
			got, _ := exportAll(t, s, tc.q, 2)
			equalEventLists(t, "paged", got, tc.want)
		})
	}
	// A segment change moves a customer's events in or out at once: the
	// segment is the customer's now.
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		c, err := tx.Customer(ctx, tenantA, "C1")
		if err != nil {
			return err
		}
		c.Profile.Segment = "gold"
		c.UpdatedAt = base.Add(time.Hour)
		return tx.PutCustomer(ctx, c)
	})
	got := tenantEvents(t, s, ledger.TenantEventQuery{Segment: "gold", Limit: 100})
	if n := len(keep(func(e ledger.Event) bool { return gold[e.CustomerID] || e.CustomerID == "C1" })); len(got) != n {
		t.Errorf("after C1 joined gold: %d events, want %d", len(got), n)
	}
}
