package storetest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

func mustUpdate(t *testing.T, s ledger.Store, fn func(context.Context, ledger.Tx) error) {
	t.Helper()
	ctx := t.Context()
	if err := s.Update(ctx, func(tx ledger.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func mustView(t *testing.T, s ledger.Store, fn func(context.Context, ledger.Reader) error) {
	t.Helper()
	ctx := t.Context()
	if err := s.View(ctx, func(r ledger.Reader) error { return fn(ctx, r) }); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// record appends events the way the Service does: the event first, then
// the customer's row (created with defaults when missing).
func record(ctx context.Context, tx ledger.Tx, events ...ledger.Event) error {
	for _, e := range events {
		if err := tx.AppendEvent(ctx, e); err != nil {
			return fmt.Errorf("append %s: %w", e.ID, err)
		}
		_, err := tx.Customer(ctx, e.TenantID, e.CustomerID)
		if errors.Is(err, ledger.ErrNotFound) {
			err = tx.PutCustomer(ctx, newCustomer(e.TenantID, e.CustomerID))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// mustRecord records events in one Update.
func mustRecord(t *testing.T, s ledger.Store, events ...ledger.Event) {
	t.Helper()
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return record(ctx, tx, events...) })
}

func getCustomer(t *testing.T, s ledger.Store, tenant, id string) (c ledger.Customer, err error) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		c, err = r.Customer(ctx, tenant, id)
		return nil
	})
	return c, err
}

func getEvent(t *testing.T, s ledger.Store, tenant, customer, id string) (e ledger.Event, err error) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		e, err = r.Event(ctx, tenant, customer, id)
		return nil
	})
	return e, err
}

func getEventByKey(t *testing.T, s ledger.Store, tenant, customer, key string) (e ledger.Event, err error) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		e, err = r.EventByKey(ctx, tenant, customer, key)
		return nil
	})
	return e, err
}

func listEvents(t *testing.T, s ledger.Store, tenant, customer string, q ledger.EventQuery) (events []ledger.Event) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		var err error
		events, err = r.Events(ctx, tenant, customer, q)
		return err
	})
	return events
}

func history(t *testing.T, s ledger.Store, tenant, customer string) (events []ledger.Event) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		var err error
		events, err = r.History(ctx, tenant, customer)
		return err
	})
	return events
}

// normEvent and normCustomer make equal values compare equal: times as UTC
// instants, empty attribute maps as nil.
func normEvent(e ledger.Event) ledger.Event {
	e.OccurredAt, e.RecordedAt = e.OccurredAt.UTC(), e.RecordedAt.UTC()
	if len(e.Attributes) == 0 {
		e.Attributes = nil
	}
	return e
}

func normCustomer(c ledger.Customer) ledger.Customer {
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	st := &c.State
	st.Last.At, st.LastNoticeAt = st.Last.At.UTC(), st.LastNoticeAt.UTC()
	st.LastGrievanceAt, st.LastRemedyAt = st.LastGrievanceAt.UTC(), st.LastRemedyAt.UTC()
	c.Watch.DueAt = c.Watch.DueAt.UTC()
	if len(c.Profile.Attributes) == 0 {
		c.Profile.Attributes = nil
	}
	return c
}

func equalEvent(t *testing.T, what string, got, want ledger.Event) {
	t.Helper()
	if g, w := normEvent(got), normEvent(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, g, w)
	}
}

func equalCustomer(t *testing.T, what string, got, want ledger.Customer) {
	t.Helper()
	g, w := normCustomer(got), normCustomer(want)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got  %+v (limit %s)\n want %+v (limit %s)", what, g, fmtLimit(g), w, fmtLimit(w))
	}
}

func fmtLimit(c ledger.Customer) string {
	if c.Profile.OverdraftLimit == nil {
		return "nil"
	}
	return fmt.Sprint(*c.Profile.OverdraftLimit)
}

// equalEventLists compares ordered lists.
func equalEventLists(t *testing.T, what string, got, want []ledger.Event) {
	t.Helper()
	if g, w := eventIDs(got), eventIDs(want); !slices.Equal(g, w) {
		t.Errorf("%s ids:\n got  %v\n want %v", what, g, w)
		return
	}
	for i := range got {
		equalEvent(t, fmt.Sprintf("%s[%d]", what, i), got[i], want[i])
	}
}

// equalEventSets compares lists in any order.
func equalEventSets(t *testing.T, what string, got, want []ledger.Event) {
	t.Helper()
	byID := func(a, b ledger.Event) int { return strings.Compare(a.ID, b.ID) }
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, byID)
	slices.SortFunc(want, byID)
	equalEventLists(t, what, got, want)
}

func findEvent(t *testing.T, what string, events []ledger.Event, id string) *ledger.Event {
	t.Helper()
	for i := range events {
		if events[i].ID == id {
			return &events[i]
		}
	}
	t.Errorf("%s: event %s missing from %v", what, id, eventIDs(events))
	return nil
}

func eventIDs(events []ledger.Event) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

func listCustomers(t *testing.T, s ledger.Store, tenant, after string, limit int) (cs []ledger.Customer) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		var err error
		cs, err = r.Customers(ctx, tenant, after, limit)
		return err
	})
	return cs
}

func countCustomers(t *testing.T, s ledger.Store, tenant string) (n int64) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		var err error
		n, err = r.CountCustomers(ctx, tenant)
		return err
	})
	return n
}

func ranked(t *testing.T, s ledger.Store, tenant string, q ledger.RankQuery) (cs []ledger.Customer) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		var err error
		cs, err = r.Ranked(ctx, tenant, q)
		return err
	})
	return cs
}

func getActivePolicy(t *testing.T, s ledger.Store, tenant string) (p ledger.StoredPolicy, err error) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		p, err = r.ActivePolicy(ctx, tenant)
		return nil
	})
	return p, err
}

func getPolicy(t *testing.T, s ledger.Store, tenant string, version int64) (p ledger.StoredPolicy, err error) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		p, err = r.Policy(ctx, tenant, version)
		return nil
	})
	return p, err
}

// wantActive asserts the tenant's active policy.
func wantActive(t *testing.T, s ledger.Store, tenant string, want ledger.StoredPolicy) {
	t.Helper()
	got, err := getActivePolicy(t, s, tenant)
	if err != nil {
		t.Errorf("ActivePolicy(%s): %v, want version %d", tenant, err, want.Version)
		return
	}
	equalPolicy(t, "ActivePolicy "+tenant, got, want)
}

// wantPolicy asserts that Policy returns want under its version.
func wantPolicy(t *testing.T, s ledger.Store, tenant string, want ledger.StoredPolicy) {
	t.Helper()
	got, err := getPolicy(t, s, tenant, want.Version)
	if err != nil {
		t.Errorf("Policy(%s, %d): %v", tenant, want.Version, err)
		return
	}
	equalPolicy(t, fmt.Sprintf("Policy(%s, %d)", tenant, want.Version), got, want)
}

func equalPolicy(t *testing.T, what string, got, want ledger.StoredPolicy) {
	t.Helper()
	if got.Version != want.Version || !bytes.Equal(got.Body, want.Body) || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("%s:\n got  version %d, created %v, body %.200q\n want version %d, created %v, body %.200q",
			what, got.Version, got.CreatedAt, got.Body, want.Version, want.CreatedAt, want.Body)
	}
}

func getJob(t *testing.T, s ledger.Store, tenant, id string) (j ledger.Job, err error) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		j, err = r.Job(ctx, tenant, id)
		return nil
	})
	return j, err
}

func jobsInState(t *testing.T, s ledger.Store, state ledger.JobState) (jobs []ledger.Job) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		var err error
		jobs, err = r.JobsInState(ctx, state)
		return err
	})
	return jobs
}

func normJob(j ledger.Job) ledger.Job {
	j.StartedAt, j.FinishedAt = j.StartedAt.UTC(), j.FinishedAt.UTC()
	return j
}

func equalJob(t *testing.T, what string, got, want ledger.Job) {
	t.Helper()
	if g, w := normJob(got), normJob(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, g, w)
	}
}

// equalJobSets compares lists of jobs in any order.
func equalJobSets(t *testing.T, what string, got, want []ledger.Job) {
	t.Helper()
	byKey := func(a, b ledger.Job) int {
		return cmp.Or(strings.Compare(a.TenantID, b.TenantID), strings.Compare(a.ID, b.ID))
	}
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, byKey)
	slices.SortFunc(want, byKey)
	if g, w := jobKeys(got), jobKeys(want); !slices.Equal(g, w) {
		t.Errorf("%s:\n got  %v\n want %v", what, g, w)
		return
	}
	for i := range got {
		equalJob(t, fmt.Sprintf("%s %s", what, jobKeys(want)[i]), got[i], want[i])
	}
}

func jobKeys(jobs []ledger.Job) []string {
	keys := make([]string, len(jobs))
	for i, j := range jobs {
		keys[i] = j.TenantID + "/" + j.ID
	}
	return keys
}

// equalCustomerLists compares ordered lists.
func equalCustomerLists(t *testing.T, what string, got, want []ledger.Customer) {
	t.Helper()
	if g, w := customerIDs(got), customerIDs(want); !slices.Equal(g, w) {
		t.Errorf("%s ids:\n got  %v\n want %v", what, g, w)
		return
	}
	for i := range got {
		equalCustomer(t, fmt.Sprintf("%s[%d]", what, i), got[i], want[i])
	}
}

// checkOnce reports a customer that a walk returned more than once.
func checkOnce(t *testing.T, cs []ledger.Customer) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range cs {
		if seen[c.ID] {
			t.Errorf("customer %s returned twice", c.ID)
		}
		seen[c.ID] = true
	}
}

func findCustomer(cs []ledger.Customer, id string) *ledger.Customer {
	for i := range cs {
		if cs[i].ID == id {
			return &cs[i]
		}
	}
	return nil
}

func byCustomerID(a, b ledger.Customer) int { return strings.Compare(a.ID, b.ID) }

func reversed(cs []ledger.Customer) []ledger.Customer {
	out := slices.Clone(cs)
	slices.Reverse(out)
	return out
}

func customerIDs(cs []ledger.Customer) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

// together runs fn(w) for w in [0, n) on n goroutines released at once, so
// their transactions overlap, and returns when all have.
func together(n int, fn func(w int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range n {
		wg.Go(func() {
			<-start
			fn(w)
		})
	}
	close(start)
	wg.Wait()
}
