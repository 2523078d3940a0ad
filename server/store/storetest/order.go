package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// mixedIDs differ in case and punctuation, which byte order and a
// linguistic collation (en-US: "_x a A a-b a.b ab B") sort differently.
var mixedIDs = []string{"ab", "B", "a.b", "A", "a-b", "a", "Z9", "a:b", "a@b", "a_b", "0", "aB"}

// testIDsSortBytewise: every list orders ids byte by byte, as Go, SQLite
// and CockroachDB compare strings, whatever the database's collation, so a
// list reads the same on every store and a page token continues exactly
// where its page ended.
func testIDsSortBytewise(t *testing.T, s ledger.Store) {
	want := slices.Sorted(slices.Values(mixedIDs)) // bytewise
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for _, id := range mixedIDs {
			c := newCustomer(tenantA, id)
			c.Keys.Rank = 7 // one rank for all: the id breaks the tie
			if err := tx.PutCustomer(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	for _, limit := range []int{1, 3, 100} {
		got := customerIDs(walkCustomers(t, s, tenantA, limit, nil))
		if !slices.Equal(got, want) {
			t.Errorf("Customers, pages of %d: %s\nwant bytewise %s", limit, strings.Join(got, " "), strings.Join(want, " "))
		}
	}
	for _, desc := range []bool{false, true} {
		got := customerIDs(walkRanked(t, s, tenantA, ledger.RankQuery{Index: ledger.ByBalance, Desc: desc, Limit: 2}))
		w := slices.Clone(want)
		if desc {
			slices.Reverse(w)
		}
		if !slices.Equal(got, w) {
			t.Errorf("Ranked ties (desc %v), pages of 2: %s\nwant %s", desc, strings.Join(got, " "), strings.Join(w, " "))
		}
	}

	// Events of one instant come newest first by id, descending.
	var events []ledger.Event
	for _, id := range mixedIDs {
		events = append(events, plainEvent(tenantA, "a", "ev-"+id, ledger.KindCredit, at(1)))
	}
	mustRecord(t, s, events...)
	var got []string
	for _, e := range walk(t, s, tenantA, "a", ledger.EventQuery{Limit: 5}, nil) {
		got = append(got, strings.TrimPrefix(e.ID, "ev-"))
	}
	w := slices.Clone(want)
	slices.Reverse(w)
	if !slices.Equal(got, w) {
		t.Errorf("Events of one instant, pages of 5: %s\nwant %s", strings.Join(got, " "), strings.Join(w, " "))
	}
}
