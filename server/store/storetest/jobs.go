package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// fullJob sets every field to a value that differs from its zero value.
func fullJob(tenant, id string) ledger.Job {
	return ledger.Job{
		TenantID:      tenant,
		ID:            id,
		PolicyVersion: 1<<40 + 3,
		State:         ledger.JobFailed,
		Total:         1<<40 + 11,
		Done:          1 << 39,
		Cursor:        "cust 1/ü'\"%_",
		StartedAt:     at(-30).Add(17 * time.Microsecond),
		FinishedAt:    at(2).Add(7 * time.Microsecond),
		Error:         "superseded by a newer policy version; \"quoted\" ü\nsecond line",
	}
}

// runningJob is a job as the Service starts one.
func runningJob(tenant, id string, started time.Time) ledger.Job {
	return ledger.Job{TenantID: tenant, ID: id, PolicyVersion: 2, State: ledger.JobRunning, Total: 40, StartedAt: started}
}

func testJobRoundTrip(t *testing.T, s ledger.Store) {
	midway := runningJob(tenantA, "job-midway", at(-3))
	midway.Done, midway.Cursor = 17, "cu-q"
	succeeded := runningJob(tenantA, "job-succeeded", at(-2))
	succeeded.State, succeeded.Done, succeeded.Cursor, succeeded.FinishedAt = ledger.JobSucceeded, 40, "cu-z", at(-1)
	empty := runningJob(tenantA, "job-empty", at(-4))
	empty.State, empty.Total, empty.FinishedAt = ledger.JobSucceeded, 0, at(-4)
	tests := []struct {
		name string
		j    ledger.Job
	}{
		{name: "failed, every field set", j: fullJob(tenantA, "job-full")},
		{name: "just started", j: runningJob(tenantA, "job-new", at(0))},
		{name: "running midway", j: midway},
		{name: "succeeded", j: succeeded},
		{name: "succeeded without customers", j: empty},
		{name: "unusual ids", j: fullJob("tenant with spaces/ü", "job 1/ü'\"%_")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutJob(ctx, tc.j) })
			got, err := getJob(t, s, tc.j.TenantID, tc.j.ID)
			if err != nil {
				t.Fatalf("Job: %v", err)
			}
			equalJob(t, "Job", got, tc.j)
			if got.FinishedAt.IsZero() != tc.j.FinishedAt.IsZero() {
				t.Errorf("FinishedAt = %v, want %v (IsZero %v)", got.FinishedAt, tc.j.FinishedAt, tc.j.FinishedAt.IsZero())
			}
		})
	}
}

func testPutJobReplaces(t *testing.T, s ledger.Store) {
	first := fullJob(tenantA, "job-1")
	bystander := fullJob(tenantA, "job-2")
	other := fullJob(tenantB, "job-1")
	other.Error = "tenant b's job"
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for _, j := range []ledger.Job{first, bystander, other} {
			if err := tx.PutJob(ctx, j); err != nil {
				return err
			}
		}
		return nil
	})
	// The replacement clears what the first row set: a store that merges
	// (keeps old non-null columns) fails here.
	second := runningJob(tenantA, "job-1", at(10))
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutJob(ctx, second) })
	got, err := getJob(t, s, tenantA, "job-1")
	if err != nil {
		t.Fatalf("Job: %v", err)
	}
	equalJob(t, "replaced job", got, second)
	if !got.FinishedAt.IsZero() {
		t.Errorf("FinishedAt = %v, want zero after replace", got.FinishedAt)
	}

	// Progress, then the end, each read back in the writing Update too.
	steps := []ledger.Job{second, second, second}
	steps[0].Done, steps[0].Cursor = 20, "cu-m"
	steps[1].Done, steps[1].Cursor = 40, "cu-z"
	steps[2] = steps[1]
	steps[2].State, steps[2].FinishedAt = ledger.JobSucceeded, at(11)
	for i, step := range steps {
		mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
			if err := tx.PutJob(ctx, step); err != nil {
				return err
			}
			got, err := tx.Job(ctx, tenantA, "job-1")
			if err != nil {
				return fmt.Errorf("Job after PutJob: %w", err)
			}
			equalJob(t, fmt.Sprintf("step %d in the writing Update", i), got, step)
			return nil
		})
		got, err := getJob(t, s, tenantA, "job-1")
		if err != nil {
			t.Fatalf("Job after step %d: %v", i, err)
		}
		equalJob(t, fmt.Sprintf("step %d", i), got, step)
	}
	for _, want := range []ledger.Job{bystander, other} {
		got, err := getJob(t, s, want.TenantID, want.ID)
		if err != nil {
			t.Fatalf("Job(%s, %s): %v", want.TenantID, want.ID, err)
		}
		equalJob(t, "bystander "+want.TenantID+"/"+want.ID, got, want)
	}
}

func testJobNotFound(t *testing.T, s ledger.Store) {
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		return tx.PutJob(ctx, runningJob(tenantA, "job-present", at(0)))
	})
	tests := []struct {
		name, tenant, id string
	}{
		{name: "unknown id", tenant: tenantA, id: "job-absent"},
		{name: "present id in another tenant", tenant: tenantB, id: "job-present"},
		{name: "id differs in case", tenant: tenantA, id: "JOB-PRESENT"},
		{name: "prefix of present id", tenant: tenantA, id: "job-"},
		{name: "empty id", tenant: tenantA, id: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := getJob(t, s, tc.tenant, tc.id)
			if !errors.Is(err, ledger.ErrNotFound) {
				t.Fatalf("Job(%q, %q) = %+v, %v; want ErrNotFound", tc.tenant, tc.id, got, err)
			}
		})
	}
}

func testJobsInState(t *testing.T, s ledger.Store) {
	if got := jobsInState(t, s, ledger.JobRunning); len(got) != 0 {
		t.Fatalf("running jobs of a fresh store = %v, want none", jobKeys(got))
	}
	a1 := runningJob(tenantA, "job-1", at(3))
	a1.Done, a1.Cursor = 5, "cu-e"
	a2 := runningJob(tenantA, "job-2", at(1))
	a2.State, a2.FinishedAt = ledger.JobSucceeded, at(2)
	a3 := runningJob(tenantA, "job-3", at(-5))
	b1 := runningJob(tenantB, "job-1", at(0))
	b1.PolicyVersion = 7
	b4 := fullJob(tenantB, "job-4")
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for _, j := range []ledger.Job{a1, a2, a3, b1, b4} {
			if err := tx.PutJob(ctx, j); err != nil {
				return err
			}
		}
		return nil
	})
	equalJobSets(t, "running jobs", jobsInState(t, s, ledger.JobRunning), []ledger.Job{a1, a3, b1})
	if got := jobsInState(t, s, ledger.JobRunning); len(got) == 3 &&
		(got[0].ID != "job-3" || got[1].TenantID != tenantB || got[2].ID != "job-1" || got[2].TenantID != tenantA) {
		t.Errorf("running jobs not oldest first: %v", jobKeys(got))
	}
	equalJobSets(t, "succeeded jobs", jobsInState(t, s, ledger.JobSucceeded), []ledger.Job{a2})

	// A job that ends leaves the list; its replacement by a running row
	// (a resumed job) joins it.
	a1.State, a1.FinishedAt, a1.Error = ledger.JobFailed, at(4), "superseded"
	b4 = runningJob(tenantB, "job-4", at(6))
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.PutJob(ctx, a1); err != nil {
			return err
		}
		return tx.PutJob(ctx, b4)
	})
	equalJobSets(t, "running jobs after a job ended", jobsInState(t, s, ledger.JobRunning), []ledger.Job{a3, b1, b4})
	equalJobSets(t, "failed jobs", jobsInState(t, s, ledger.JobFailed), []ledger.Job{a1})
}

func testLatestJob(t *testing.T, s ledger.Store) {
	latest := func(tenant string) (j ledger.Job, err error) {
		mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
			j, err = r.LatestJob(ctx, tenant)
			return nil
		})
		return j, err
	}
	if _, err := latest(tenantA); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("LatestJob of a fresh store: %v, want ErrNotFound", err)
	}
	old := runningJob(tenantA, "job-z", at(1))
	old.State, old.FinishedAt = ledger.JobFailed, at(2)
	newer := runningJob(tenantA, "job-a", at(5))
	other := runningJob(tenantB, "job-q", at(9))
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for _, j := range []ledger.Job{old, newer, other} {
			if err := tx.PutJob(ctx, j); err != nil {
				return err
			}
		}
		return nil
	})
	if j, err := latest(tenantA); err != nil {
		t.Fatal(err)
	} else {
		equalJob(t, "LatestJob of tenant A", j, newer)
	}
	if j, err := latest(tenantB); err != nil {
		t.Fatal(err)
	} else {
		equalJob(t, "LatestJob of tenant B", j, other)
	}
}
