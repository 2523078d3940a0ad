package ledger_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// outreachAll pages through an outreach list with page size size.
func outreachAll(t *testing.T, svc *ledger.Service, purpose ledger.Purpose, size int) []ledger.OutreachEntry {
	t.Helper()
	var out []ledger.OutreachEntry
	tok := ""
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("more than 100 pages")
		}
		page, err := svc.ListOutreach(t.Context(), ledger.DefaultTenant, purpose, "", size, tok, false)
		if err != nil {
			t.Fatalf("outreach %v: %v", purpose, err)
		}
		if size > 0 && len(page.Entries) > size {
			t.Errorf("page of %d entries, page size %d", len(page.Entries), size)
		}
		out = append(out, page.Entries...)
		if tok = page.NextPageToken; tok == "" {
			return out
		}
	}
}

func outreachIDs(es []ledger.OutreachEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Customer.ID
	}
	return out
}

func entryOf(es []ledger.OutreachEntry, id string) (*ledger.OutreachEntry, int) {
	for i := range es {
		if es[i].Customer.ID == id {
			return &es[i], i
		}
	}
	return nil, -1
}

// checkRecovery checks what holds of every RECOVERY list: negative
// balances only, most urgent first, each with its reasons.
func checkRecovery(t *testing.T, es []ledger.OutreachEntry) {
	t.Helper()
	for i, e := range es {
		if e.Balance.Value >= 0 {
			t.Errorf("RECOVERY lists %s with balance %v", e.Customer.ID, e.Balance.Value)
		}
		if i > 0 && e.Priority > es[i-1].Priority*(1+1e-9) {
			t.Errorf("RECOVERY priority rises at %d: %v after %v", i, e.Priority, es[i-1].Priority)
		}
		if len(e.Reasons) == 0 {
			t.Errorf("%s has no reasons", e.Customer.ID)
		}
	}
}

// seedOutreach records customers for both lists, 10 days before t0:
// deficits of different value weights, an unanswered and an answered
// outage at the same balance, rising advocates, and a high balance that is
// falling lately.
func seedOutreach(t *testing.T, svc *ledger.Service) {
	t.Helper()
	at := t0.Add(-10 * day)
	recordAll(t, svc,
		// Value 3 at -10 against value 1 at -20.
		nev("v3", ledger.KindComplaint, 1.25, at),
		nev("v1", ledger.KindComplaint, 2.5, at),
		// The same balance; one outage unanswered, one answered.
		nev("noresp", ledger.KindOutage, 1, at),
		nev("noresp", ledger.KindEngagement, 0.625, at.Add(time.Hour)),
		nev("answered", ledger.KindOutage, 1, at),
		nev("answered", ledger.KindResponse, 1, at.Add(time.Hour)),
		// Healthy and rising.
		nev("happy", ledger.KindReliableDelivery, 1, t0.Add(-6*day)),
		nev("happy", ledger.KindReliableDelivery, 1, t0.Add(-4*day)),
		nev("happy", ledger.KindReliableDelivery, 1, t0.Add(-2*day)),
		nev("adv-big", ledger.KindReliableDelivery, 10, t0.Add(-5*day)),
		nev("adv-big", ledger.KindReliableDelivery, 10, t0.Add(-3*day)),
		nev("adv-big", ledger.KindReliableDelivery, 10, t0.Add(-day)),
		nev("adv-mid", ledger.KindEngagement, 5, t0.Add(-2*day)),
		// A high balance from long ago, losing lately: positive, not rising.
		nev("adv-falling", ledger.KindReliableDelivery, 100, t0.Add(-150*day)),
		nev("adv-falling", ledger.KindComplaint, 1, t0.Add(-day)),
	)
	// A value weight set after the events still counts.
	upsert(t, svc, "v3", ledger.Profile{DisplayName: "Val Three", Segment: "gold", Value: 3})
	if b := balanceAt(t, svc, "adv-falling", time.Time{}); b.Value <= 10 {
		t.Fatalf("setup: adv-falling balance %v, want well above zero", b.Value)
	}
	if a, b := balanceAt(t, svc, "noresp", time.Time{}).Value, balanceAt(t, svc, "answered", time.Time{}).Value; !relEq(a, b, 1e-9) || a >= 0 {
		t.Fatalf("setup: noresp %v and answered %v should be equal and negative", a, b)
	}
}

// RECOVERY ranks deficits by urgency: the deficit times the value weight,
// doubled while the latest outage or complaint is unanswered, and says why.
func TestRecoveryRanksByUrgency(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		seedOutreach(t, svc)
		es := outreachAll(t, svc, ledger.PurposeRecovery, 0)
		checkRecovery(t, es)
		v3, i3 := entryOf(es, "v3")
		v1, i1 := entryOf(es, "v1")
		if v3 == nil || v1 == nil || i3 > i1 {
			t.Fatalf("v3 (value 3, balance -10) at %d, v1 (value 1, balance -20) at %d: want v3 first", i3, i1)
		}
		if want := 10 * fade(10*day) * 3 * 2; !relEq(v3.Balance.Value, -10*fade(10*day), relTol) || !relEq(v3.Priority, want, 1e-9) {
			t.Errorf("v3: balance %v priority %v, want %v and %v (deficit x value 3 x 2 unanswered)",
				v3.Balance.Value, v3.Priority, -10*fade(10*day), want)
		}
		if p := v3.Customer.Profile; p.Value != 3 || p.Segment != "gold" || p.DisplayName != "Val Three" ||
			!slices.ContainsFunc(v3.Reasons, func(r string) bool { return strings.Contains(r, "value weight 3") }) {
			t.Errorf("v3 entry: %+v", v3)
		}
		if want := 20 * fade(10*day) * 2; !relEq(v1.Priority, want, 1e-9) {
			t.Errorf("v1 priority %v, want %v", v1.Priority, want)
		}
		nr, inr := entryOf(es, "noresp")
		an, ian := entryOf(es, "answered")
		if nr == nil || an == nil || inr > ian {
			t.Fatalf("noresp at %d, answered at %d: want the unanswered outage first", inr, ian)
		}
		join := func(e *ledger.OutreachEntry) string { return strings.Join(e.Reasons, "; ") }
		if r := join(nr); !strings.Contains(r, "no response") || !strings.Contains(r, "balance") || !strings.Contains(r, "outage") {
			t.Errorf("noresp reasons %q: want the unanswered outage and the balance", r)
		}
		if r := join(an); strings.Contains(r, "no response") || !strings.Contains(r, "answered") || !strings.Contains(r, "balance") {
			t.Errorf("answered reasons %q: want the answered outage and the balance", r)
		}
		if !relEq(nr.Priority, 2*an.Priority, 1e-6) {
			t.Errorf("noresp priority %v, answered %v: want double", nr.Priority, an.Priority)
		}
		for _, id := range []string{"happy", "adv-big", "adv-mid", "adv-falling"} {
			if e, _ := entryOf(es, id); e != nil {
				t.Errorf("healthy %s is on the RECOVERY list", id)
			}
		}
	})
}

// ADVOCACY lists positive, rising balances, highest first: a high balance
// that is falling lately is not an advocate.
func TestAdvocacyListsRisingBalances(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		seedOutreach(t, svc)
		es := outreachAll(t, svc, ledger.PurposeAdvocacy, 0)
		if got := outreachIDs(es); !slices.Equal(got, []string{"adv-big", "adv-mid", "happy"}) {
			t.Errorf("advocates %v, want [adv-big adv-mid happy]", got)
		}
		for i, e := range es {
			if e.Balance.Value <= 0 {
				t.Errorf("ADVOCACY lists %s with balance %v", e.Customer.ID, e.Balance.Value)
			}
			if i > 0 && e.Balance.Value > es[i-1].Balance.Value {
				t.Errorf("ADVOCACY not highest balance first at %d", i)
			}
			if !relEq(e.Priority, e.Balance.Value, 1e-9) || len(e.Reasons) == 0 || !strings.Contains(e.Reasons[0], "rising") {
				t.Errorf("advocate %s: priority %v reasons %q", e.Customer.ID, e.Priority, e.Reasons)
			}
		}
		for _, id := range []string{"adv-falling", "v1", "v3", "noresp", "answered"} {
			if e, _ := entryOf(es, id); e != nil {
				t.Errorf("%s is on the ADVOCACY list", id)
			}
		}
	})
}

// Both lists page without losing or repeating anyone, and refuse a bad
// request naming the field.
func TestOutreachPagesAndRefusesABadRequest(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		ctx := t.Context()
		seedOutreach(t, svc)
		for _, p := range []ledger.Purpose{ledger.PurposeRecovery, ledger.PurposeAdvocacy} {
			all := outreachIDs(outreachAll(t, svc, p, 1000))
			paged := outreachIDs(outreachAll(t, svc, p, 2))
			if len(all) < 3 || !slices.Equal(all, paged) {
				t.Errorf("%v: pages of 2 %v, one page %v", p, paged, all)
			}
		}
		// A segment keeps the list's order and only that segment's
		// customers (v3 is the one "gold" customer), page size or not.
		for _, size := range []int{1, 1000} {
			page, err := svc.ListOutreach(ctx, ledger.DefaultTenant, ledger.PurposeRecovery, "gold", size, "", false)
			if err != nil {
				t.Fatal(err)
			}
			if ids := outreachIDs(page.Entries); !slices.Equal(ids, []string{"v3"}) {
				t.Errorf("RECOVERY of segment gold, page size %d: %v, want [v3]", size, ids)
			}
		}
		if page, err := svc.ListOutreach(ctx, ledger.DefaultTenant, ledger.PurposeRecovery, "none such", 10, "", false); err != nil || len(page.Entries) != 0 {
			t.Errorf("RECOVERY of an unknown segment: %v, %v", outreachIDs(page.Entries), err)
		}
		for _, tc := range []struct {
			name    string
			purpose ledger.Purpose
			size    int
			token   string
			field   string
		}{
			{name: "no purpose", field: "purpose"},
			{name: "garbage page token", purpose: ledger.PurposeRecovery, token: "nope", field: "page_token"},
			{name: "negative page size", purpose: ledger.PurposeRecovery, size: -1, field: "page_size"},
		} {
			_, err := svc.ListOutreach(ctx, ledger.DefaultTenant, tc.purpose, "", tc.size, tc.token, false)
			if !errors.Is(err, ledger.ErrInvalidArgument) || ledger.FieldOf(err) != tc.field {
				t.Errorf("%s: %v, want INVALID_ARGUMENT on %s", tc.name, err, tc.field)
			}
		}
	})
}

// The README's worked example: Dana builds goodwill, an unannounced outage
// puts her on the RECOVERY list, a hollow credit and response lower her
// urgency without lifting her off it, and weeks of good service make her
// an advocate.
func TestTheWorkedExample(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		upsert(t, svc, "dana", ledger.Profile{DisplayName: "Dana", Segment: "family", Value: 2})
		onRecovery := func() *ledger.OutreachEntry {
			e, _ := entryOf(outreachAll(t, svc, ledger.PurposeRecovery, 0), "dana")
			return e
		}
		// 1. Twenty reliable deliveries over two months.
		var evs []ledger.NewEvent
		want := 0.0
		for i := 60; i >= 3; i -= 3 {
			evs = append(evs, nev("dana", ledger.KindReliableDelivery, 1, t0.Add(-time.Duration(i+20)*day)))
			want += fade(time.Duration(i) * day)
		}
		recordAll(t, svc, evs...)
		if b := balanceAt(t, svc, "dana", t0.Add(-20*day)); !relEq(b.Value, want, relTol) || b.Status != ledger.StatusHealthy {
			t.Errorf("after the deliveries: %v, want %v healthy", b.Value, want)
		}
		if e := onRecovery(); e != nil {
			t.Errorf("healthy dana is on the RECOVERY list: %+v", e)
		}
		// 2. A three-hour outage, 20 days ago, without warning.
		if b := record(t, svc, nev("dana", ledger.KindOutage, 3, t0.Add(-20*day))).Balance; b.Status != ledger.StatusOverdrawn {
			t.Errorf("after the outage: %+v, want overdrawn", b)
		}
		es := outreachAll(t, svc, ledger.PurposeRecovery, 0)
		checkRecovery(t, es)
		e2, _ := entryOf(es, "dana")
		if e2 == nil {
			t.Fatalf("dana is not on the RECOVERY list after the outage: %v", outreachIDs(es))
		}
		if r := strings.Join(e2.Reasons, "; "); !strings.Contains(r, "no response") || !strings.Contains(r, "value weight 2") {
			t.Errorf("reasons after the outage: %q", r)
		}
		// 3. The next day: a bill credit of 5 and a personal response.
		record(t, svc, nev("dana", ledger.KindCredit, 5, t0.Add(-19*day)))
		if b := record(t, svc, nev("dana", ledger.KindResponse, 1, t0.Add(-19*day))).Balance; b.Status != ledger.StatusOverdrawn {
			t.Errorf("after the hollow credit and response: %+v, want still overdrawn", b)
		}
		e3 := onRecovery()
		if e3 == nil {
			t.Fatal("dana left the RECOVERY list after a hollow credit and response")
		}
		if r := strings.Join(e3.Reasons, "; "); !strings.Contains(r, "answered") || strings.Contains(r, "no response") {
			t.Errorf("reasons after the response: %q", r)
		}
		if e3.Priority >= e2.Priority/2 {
			t.Errorf("priority %v after the response, %v before: want less than half", e3.Priority, e2.Priority)
		}
		// 4. Two weeks of reliable service, then her suggestion is adopted.
		evs = nil
		for i := 16; i >= 3; i-- {
			evs = append(evs, nev("dana", ledger.KindReliableDelivery, 1, t0.Add(-time.Duration(i)*day)))
		}
		evs = append(evs, nev("dana", ledger.KindSuggestionAdopted, 1, t0.Add(-2*day)))
		recordAll(t, svc, evs...)
		if b := balanceAt(t, svc, "dana", time.Time{}); b.Status != ledger.StatusHealthy || b.Value <= 0 {
			t.Errorf("after climbing back: %+v", b)
		}
		if e := onRecovery(); e != nil {
			t.Errorf("dana is still on the RECOVERY list after climbing back: %+v", e)
		}
		if e, _ := entryOf(outreachAll(t, svc, ledger.PurposeAdvocacy, 0), "dana"); e == nil {
			t.Errorf("dana, healthy and rising, is not on the ADVOCACY list")
		}
	})
}
