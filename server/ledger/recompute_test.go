package ledger_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// installPolicy installs a copy of the active policy changed by edit, and
// returns its recompute job.
func installPolicy(t *testing.T, svc *ledger.Service, edit func(p *ledger.Policy)) ledger.Job {
	t.Helper()
	cur, _, err := svc.GetPolicy(t.Context(), ledger.DefaultTenant, 0)
	if err != nil {
		t.Fatal(err)
	}
	next := *cur
	next.Weights = maps(cur.Weights)
	edit(&next)
	_, job, err := svc.SetPolicy(t.Context(), ledger.DefaultTenant, next)
	if err != nil {
		t.Fatal(err)
	}
	return job
}

func maps(m map[ledger.Kind]float64) map[ledger.Kind]float64 {
	out := make(map[ledger.Kind]float64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// While a recompute job has not reached every customer, the stored ranks
// and list keys of the rest are an older version's. Filters must still be
// exact: a review saw a customer at -5, whose balance the new version did
// not change, vanish from maxBalance=-1, and a customer the new version
// puts on RECOVERY was missing from it.
func TestListsDuringARecomputeKeepEveryMember(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		// No recompute worker runs: the job stays where it starts.
		svc := ledger.NewService(st, ledger.Options{RecomputePoll: 10 * time.Millisecond, Logger: quietLog(), Now: newClock(t0).Now})
		ctx := t.Context()
		record := func(id string, kind ledger.Kind, m float64) {
			t.Helper()
			if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: id, Kind: kind, Magnitude: &m}); err != nil {
				t.Fatal(err)
			}
		}
		record("minus-5", ledger.KindComplaint, 5.0/8) // -5 now, under any half-life
		record("plus-4", ledger.KindEngagement, 2)     // +4; -4 once engagement weighs -2
		record("plus-20", ledger.KindReliableDelivery, 20)

		job := installPolicy(t, svc, func(p *ledger.Policy) {
			p.HalfLife = 30 * 24 * time.Hour
			p.Weights[ledger.KindEngagement] = -2
		})
		page, err := svc.ListBalances(ctx, ledger.DefaultTenant, ledger.BalanceQuery{Max: ptrTo(-1.0)})
		if err != nil {
			t.Fatal(err)
		}
		if ids := balanceIDs(page.Entries); !sameSet(ids, "minus-5", "plus-4") || !page.ApproximateOrder {
			t.Errorf("max -1 during the job: %v (approximate order %v), want minus-5 and plus-4, approximate", ids, page.ApproximateOrder)
		}
		over, err := svc.ListBalances(ctx, ledger.DefaultTenant, ledger.BalanceQuery{Status: ledger.StatusOverdrawn})
		if err != nil {
			t.Fatal(err)
		}
		if ids := balanceIDs(over.Entries); !sameSet(ids, "minus-5", "plus-4") {
			t.Errorf("overdrawn during the job: %v, want minus-5 and plus-4", ids)
		}
		rec, err := svc.ListOutreach(ctx, ledger.DefaultTenant, ledger.PurposeRecovery, "", 10, "", false)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range rec.Entries {
			ids = append(ids, e.Customer.ID)
		}
		// In balance order while approximate: -5 before -4.
		if !slices.Equal(ids, []string{"minus-5", "plus-4"}) || !rec.ApproximateOrder {
			t.Errorf("recovery during the job: %v (approximate %v), want [minus-5 plus-4] in balance order", ids, rec.ApproximateOrder)
		}

		// Once the job succeeds, lists come from their own indexes again.
		runJob(t, svc, job, ledger.JobSucceeded)
		page, err = svc.ListBalances(ctx, ledger.DefaultTenant, ledger.BalanceQuery{Max: ptrTo(-1.0)})
		if err != nil {
			t.Fatal(err)
		}
		if ids := balanceIDs(page.Entries); !slices.Equal(ids, []string{"minus-5", "plus-4"}) || page.ApproximateOrder {
			t.Errorf("max -1 after the job: %v (approximate %v)", ids, page.ApproximateOrder)
		}
		rec, err = svc.ListOutreach(ctx, ledger.DefaultTenant, ledger.PurposeRecovery, "", 10, "", false)
		if err != nil || len(rec.Entries) != 2 || rec.ApproximateOrder {
			t.Errorf("recovery after the job: %+v, %v", rec, err)
		}
	})
}

func sameSet(got []string, want ...string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

// runJob runs svc (built with a short RecomputePoll) until job is in state
// want (or 20 s have passed), then stops it, and returns the job.
func runJob(t *testing.T, svc *ledger.Service, job ledger.Job, want ledger.JobState) ledger.Job {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = svc.Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		j, err := svc.GetJob(t.Context(), ledger.DefaultTenant, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == want || time.Now().After(deadline) {
			return j
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// failingStore fails recompute steps with err while armed: the write
// transactions that read a job (the Service's other background work, the
// notifications' sequencer and scheduler, writes too, and must not take the
// failures meant for the job).
type failingStore struct {
	ledger.Store
	armed atomic.Int64 // how many more steps fail
	err   error
}

func (f *failingStore) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	return f.Store.Update(ctx, func(tx ledger.Tx) error { return fn(failingTx{tx, f}) })
}

func (f *failingStore) UpdateCustomers(ctx context.Context, fn func(ledger.Tx) error) error {
	return f.Store.UpdateCustomers(ctx, func(tx ledger.Tx) error { return fn(failingTx{tx, f}) })
}

type failingTx struct {
	ledger.Tx
	f *failingStore
}

func (t failingTx) Job(ctx context.Context, tenant, id string) (ledger.Job, error) {
	if t.f.armed.Add(-1) >= 0 {
		return ledger.Job{}, t.f.err
	}
	return t.Tx.Job(ctx, tenant, id)
}

// A store that is unreachable for a while (more steps than would fail a
// job) delays the job; it does not fail it (a review found a job failed for
// good after five UNAVAILABLE steps, and nothing resumed it).
func TestRecomputeSurvivesAStoreOutage(t *testing.T) {
	t.Parallel()
	st := &failingStore{Store: openStore(t), err: &ledger.UnavailableError{Message: "the database is down"}}
	svc := ledger.NewService(st, ledger.Options{RecomputePoll: 10 * time.Millisecond, Logger: quietLog(), RecomputeBackoff: [2]time.Duration{time.Millisecond, 5 * time.Millisecond}})
	for _, id := range []string{"a", "b", "c"} {
		if _, err := svc.RecordEvent(t.Context(), ledger.DefaultTenant, ledger.NewEvent{CustomerID: id, Kind: ledger.KindOutage}); err != nil {
			t.Fatal(err)
		}
	}
	job := installPolicy(t, svc, func(p *ledger.Policy) { p.Weights[ledger.KindOutage] = -20 })
	st.armed.Store(12)
	if got := runJob(t, svc, job, ledger.JobSucceeded); got.State != ledger.JobSucceeded || got.Done != 3 {
		t.Fatalf("job after the outage: %+v, want succeeded with 3 customers", got)
	}
	if st.armed.Load() >= 0 {
		t.Fatalf("the outage was not reached (%d failures left)", st.armed.Load())
	}
}

// A job that failed for another reason is resumed from where it stopped,
// by the RPC or by the worker when it starts; a job whose version was
// replaced is not.
func TestResumeAFailedJob(t *testing.T) {
	t.Parallel()
	st := &failingStore{Store: openStore(t), err: errors.New("a stored event the code cannot read")}
	svc := ledger.NewService(st, ledger.Options{RecomputePoll: 10 * time.Millisecond, Logger: quietLog()})
	ctx := t.Context()
	for _, id := range []string{"a", "b"} {
		if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: id, Kind: ledger.KindOutage}); err != nil {
			t.Fatal(err)
		}
	}
	job := installPolicy(t, svc, func(p *ledger.Policy) { p.Weights[ledger.KindOutage] = -20 })
	st.armed.Store(5)
	if got := runJob(t, svc, job, ledger.JobFailed); got.State != ledger.JobFailed {
		t.Fatalf("job after five failed steps: %+v, want failed", got)
	}
	page, err := svc.ListBalances(ctx, ledger.DefaultTenant, ledger.BalanceQuery{})
	if err != nil || !page.ApproximateOrder || len(page.Entries) != 2 {
		t.Errorf("lists after a failed job: %+v, %v; want both customers, approximate order", page, err)
	}

	// The RPC's path: resuming sets it running; the worker finishes it.
	resumed, err := svc.ResumeJob(ctx, ledger.DefaultTenant, job.ID)
	if err != nil || resumed.State != ledger.JobRunning || resumed.Error != "" {
		t.Fatalf("ResumeJob: %+v, %v", resumed, err)
	}
	if got := runJob(t, svc, job, ledger.JobSucceeded); got.State != ledger.JobSucceeded || got.Done != 2 {
		t.Fatalf("resumed job: %+v, want succeeded", got)
	}
	if again, err := svc.ResumeJob(ctx, ledger.DefaultTenant, job.ID); err != nil || again.State != ledger.JobSucceeded {
		t.Errorf("resuming a succeeded job: %+v, %v; want it unchanged", again, err)
	}

	// At start: a failed job of the active version is picked up by itself.
	job3 := installPolicy(t, svc, func(p *ledger.Policy) { p.Weights[ledger.KindOutage] = -30 })
	st.armed.Store(5)
	if got := runJob(t, svc, job3, ledger.JobFailed); got.State != ledger.JobFailed {
		t.Fatalf("third job: %+v, want failed", got)
	}
	if got := runJob(t, svc, job3, ledger.JobSucceeded); got.State != ledger.JobSucceeded {
		t.Errorf("a restarted worker left the failed job: %+v", got)
	}

	// A replaced version's job cannot resume.
	job4 := installPolicy(t, svc, func(p *ledger.Policy) { p.Weights[ledger.KindOutage] = -40 })
	st.armed.Store(5)
	if got := runJob(t, svc, job4, ledger.JobFailed); got.State != ledger.JobFailed {
		t.Fatalf("fourth job: %+v, want failed", got)
	}
	installPolicy(t, svc, func(p *ledger.Policy) { p.Weights[ledger.KindOutage] = -50 })
	if _, err := svc.ResumeJob(ctx, ledger.DefaultTenant, job4.ID); !errors.Is(err, ledger.ErrFailedPrecondition) {
		t.Errorf("resuming a replaced version's job: %v, want FAILED_PRECONDITION", err)
	}
	if _, err := svc.ResumeJob(ctx, ledger.DefaultTenant, "no-such-job"); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("resuming an unknown job: %v, want NOT_FOUND", err)
	}
}

// Installing a policy re-ranks every customer, so a page token from before
// it would skip or repeat customers (a review saw one whose balance did not
// change skipped, and an outreach pagination miss a customer the new
// version puts on it): such a token is refused, and a list's token is not
// another list's.
func TestPageTokensDoNotCrossAPolicyChange(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{RecomputePoll: 10 * time.Millisecond, Logger: quietLog(), Now: newClock(t0).Now})
		ctx := t.Context()
		for _, id := range []string{"a", "b", "c"} {
			m := 1.0
			if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: id, Kind: ledger.KindComplaint, Magnitude: &m}); err != nil {
				t.Fatal(err)
			}
		}
		bal, err := svc.ListBalances(ctx, ledger.DefaultTenant, ledger.BalanceQuery{PageSize: 1})
		if err != nil || bal.NextPageToken == "" {
			t.Fatalf("first page: %+v, %v", bal, err)
		}
		rec, err := svc.ListOutreach(ctx, ledger.DefaultTenant, ledger.PurposeRecovery, "", 1, "", false)
		if err != nil || rec.NextPageToken == "" {
			t.Fatalf("first outreach page: %+v, %v", rec, err)
		}
		if _, err := svc.ListOutreach(ctx, ledger.DefaultTenant, ledger.PurposeRecovery, "", 1, bal.NextPageToken, false); ledger.FieldOf(err) != "page_token" {
			t.Errorf("a balance list's token on the outreach list: %v, want page_token refused", err)
		}
		if _, err := svc.ListOutreach(ctx, ledger.DefaultTenant, ledger.PurposeAdvocacy, "", 1, rec.NextPageToken, false); ledger.FieldOf(err) != "page_token" {
			t.Errorf("a RECOVERY token on ADVOCACY: %v, want page_token refused", err)
		}
		installPolicy(t, svc, func(p *ledger.Policy) { p.HalfLife = 30 * 24 * time.Hour })
		_, err = svc.ListBalances(ctx, ledger.DefaultTenant, ledger.BalanceQuery{PageSize: 1, PageToken: bal.NextPageToken})
		if ledger.FieldOf(err) != "page_token" || !strings.Contains(err.Error(), "start again") {
			t.Errorf("a balance token from before the policy change: %v, want page_token refused", err)
		}
		_, err = svc.ListOutreach(ctx, ledger.DefaultTenant, ledger.PurposeRecovery, "", 1, rec.NextPageToken, false)
		if ledger.FieldOf(err) != "page_token" {
			t.Errorf("an outreach token from before the policy change: %v, want page_token refused", err)
		}
		// Started again, the pagination sees every customer once.
		seen := map[string]int{}
		tok := ""
		for range 10 {
			page, err := svc.ListOutreach(ctx, ledger.DefaultTenant, ledger.PurposeRecovery, "", 1, tok, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Entries {
				seen[e.Customer.ID]++
			}
			if tok = page.NextPageToken; tok == "" {
				break
			}
		}
		if len(seen) != 3 || seen["a"] != 1 || seen["b"] != 1 || seen["c"] != 1 {
			t.Errorf("pagination after the change saw %v, want a, b and c once each", seen)
		}
	})
}
