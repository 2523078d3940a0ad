package ledger_test

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// Every tenant starts on version 1, the numbers the README explains.
func TestVersionOneIsTheDefaultPolicy(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		p, active, err := svc.GetPolicy(t.Context(), ledger.DefaultTenant, 0)
		if err != nil {
			t.Fatal(err)
		}
		wantWeights := map[ledger.Kind]float64{
			ledger.KindCredit: 2, ledger.KindReliableDelivery: 1, ledger.KindOutage: -12, ledger.KindResponse: 5,
			ledger.KindProactiveNotice: 1, ledger.KindComplaint: -8, ledger.KindSuggestionAdopted: 10, ledger.KindEngagement: 2,
			ledger.KindServiceChange: -1, ledger.KindBrokenPromise: -20,
		}
		r := p.Relationship
		if active != 1 || p.Version != 1 || !reflect.DeepEqual(p.Weights, wantWeights) || p.HalfLife != halfLife ||
			p.Notice.Window != 72*time.Hour || p.Notice.Factor != 0.5 ||
			p.ChangeNotice.Window != 30*day || p.ChangeNotice.Factor != 0.5 ||
			r.Scale != 50 || r.HollowBelow != 0 || r.MinFactor != 0.25 || r.MaxFactor != 2 ||
			!slices.Equal(r.Kinds, []ledger.Kind{ledger.KindCredit, ledger.KindResponse}) ||
			p.DefaultOverdraftLimit != 0 || p.TrendHalfLife != 30*day || p.DustThreshold != 0.5 {
			t.Errorf("version 1 (active %d): %+v", active, p)
		}
		if _, _, err := svc.GetPolicy(t.Context(), ledger.DefaultTenant, 2); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("version 2 before any install: %v, want not found", err)
		}
	})
}

// A policy that breaks an invariant is refused naming the field, and
// nothing is installed.
func TestSetPolicyRefusesABadPolicy(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		ctx := t.Context()
		for _, tc := range []struct {
			name  string
			edit  func(p *ledger.Policy)
			field string
		}{
			{name: "no half-life", edit: func(p *ledger.Policy) { p.HalfLife = 0 }, field: "policy.half_life"},
			{name: "half-life 1h", edit: func(p *ledger.Policy) { p.HalfLife = time.Hour }, field: "policy.half_life"},
			{name: "missing weight", edit: func(p *ledger.Policy) { delete(p.Weights, ledger.KindCredit) }, field: "policy.weights[EVENT_KIND_CREDIT]"},
			{name: "NaN weight", edit: func(p *ledger.Policy) { p.Weights[ledger.KindOutage] = math.NaN() }, field: "policy.weights[EVENT_KIND_OUTAGE]"},
			{name: "weight for REVERSAL", edit: func(p *ledger.Policy) { p.Weights[ledger.KindReversal] = 1 }, field: "policy.weights[EVENT_KIND_REVERSAL]"},
			{name: "weight for an unknown kind", edit: func(p *ledger.Policy) { p.Weights[ledger.Kind(99)] = 1 }, field: "policy.weights[99]"},
			{name: "no relationship", edit: func(p *ledger.Policy) { p.Relationship = ledger.RelationshipEffect{} }, field: "policy.relationship.scale"},
			{name: "min factor 2", edit: func(p *ledger.Policy) { p.Relationship.MinFactor = 2 }, field: "policy.relationship.min_factor"},
			{name: "relationship kind REVERSAL", edit: func(p *ledger.Policy) {
				p.Relationship.Kinds = append(slices.Clone(p.Relationship.Kinds), ledger.KindReversal)
			}, field: "policy.relationship.kinds"},
			{name: "notice factor 1.5", edit: func(p *ledger.Policy) { p.Notice.Factor = 1.5 }, field: "policy.notice.factor"},
			{name: "positive default overdraft limit", edit: func(p *ledger.Policy) { p.DefaultOverdraftLimit = 5 }, field: "policy.default_overdraft_limit"},
			{name: "no trend half-life", edit: func(p *ledger.Policy) { p.TrendHalfLife = 0 }, field: "policy.trend_half_life"},
		} {
			p := *ledger.DefaultPolicy()
			tc.edit(&p)
			_, _, err := svc.SetPolicy(ctx, ledger.DefaultTenant, p)
			if !errors.Is(err, ledger.ErrInvalidArgument) || ledger.FieldOf(err) != tc.field {
				t.Errorf("%s: %v, want INVALID_ARGUMENT on %s", tc.name, err, tc.field)
			}
			if g, active, err := svc.GetPolicy(ctx, ledger.DefaultTenant, 0); err != nil || active != 1 || g.Version != 1 {
				t.Errorf("%s: after the refusal version %d is active (%v), want 1", tc.name, active, err)
			}
		}
		if _, _, err := svc.GetPolicy(ctx, ledger.DefaultTenant, 2); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("version 2 after only refusals: %v, want not found", err)
		}
	})
}

// Installing a version re-weighs every balance, past events included: a
// heavier outage overdraws a customer it used to leave positive, which
// turns a later response hollow. Lists and rankings follow, the job
// records its progress, and the old version stays readable.
func TestNewPolicyVersionReweighsEveryBalance(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{RecomputePoll: 10 * time.Millisecond, Logger: quietLog(), Now: newClock(t0).Now})
		ctx := t.Context()
		recordAll(t, svc,
			nev("p-outage", ledger.KindOutage, 1, t0.Add(-10*day)),
			nev("p-complaint", ledger.KindComplaint, 2, t0.Add(-10*day)),
			nev("p-delivery", ledger.KindReliableDelivery, 3, t0.Add(-10*day)),
			// Under version 1 the outage leaves the balance positive and the
			// response counts in the relationship; under version 2 it
			// overdraws: hollow.
			nev("p-mixed", ledger.KindReliableDelivery, 20, t0.Add(-30*day)),
			nev("p-mixed", ledger.KindOutage, 1, t0.Add(-20*day)),
			nev("p-mixed", ledger.KindResponse, 1, t0.Add(-19*day)),
		)
		ids := []string{"p-complaint", "p-delivery", "p-mixed", "p-outage"}
		old := map[string]float64{}
		for _, id := range ids {
			old[id] = balanceAt(t, svc, id, time.Time{}).Value
		}
		if want := -12 * fade(10*day); !relEq(old["p-outage"], want, relTol) {
			t.Errorf("p-outage under version 1: %v, want %v", old["p-outage"], want)
		}
		if got := outreachIDs(outreachAll(t, svc, ledger.PurposeRecovery, 0)); !slices.Equal(got, []string{"p-complaint", "p-outage"}) {
			t.Errorf("RECOVERY under version 1: %v, want [p-complaint p-outage]", got)
		}
		if ec := topOf(t, explainAt(t, svc, "p-mixed", time.Time{}, 100), ledger.KindResponse, time.Time{}); ec.Effect.Rule != "relationship" {
			t.Errorf("p-mixed's response under version 1: rule %q, want relationship", ec.Effect.Rule)
		}

		// Version 2: outages weigh double.
		v1, _, err := svc.GetPolicy(ctx, ledger.DefaultTenant, 0)
		if err != nil {
			t.Fatal(err)
		}
		next := *v1
		next.Weights = maps(v1.Weights)
		next.Weights[ledger.KindOutage] *= 2
		installed, job, err := svc.SetPolicy(ctx, ledger.DefaultTenant, next)
		if err != nil {
			t.Fatal(err)
		}
		if installed.Version != 2 || installed.Weights[ledger.KindOutage] != -24 || !installed.CreatedAt.Equal(t0) ||
			job.ID == "" || job.PolicyVersion != 2 || job.State != ledger.JobRunning || job.Total != int64(len(ids)) {
			t.Fatalf("SetPolicy: %+v, job %+v", installed, job)
		}
		if v1.Weights[ledger.KindOutage] != -12 {
			t.Errorf("installing version 2 changed version 1's weights: %v", v1.Weights)
		}
		job = runJob(t, svc, job, ledger.JobSucceeded)
		if job.State != ledger.JobSucceeded || job.Done != job.Total || job.Total != int64(len(ids)) || job.FinishedAt.IsZero() || job.Error != "" {
			t.Fatalf("job: %+v", job)
		}

		for _, id := range ids {
			b := balanceAt(t, svc, id, time.Time{})
			want := old[id]
			switch id {
			case "p-outage":
				want = -24 * fade(10*day)
			case "p-mixed":
				// Delivery 20 at -30d, outage -24 at -20d, a hollow response
				// at -19d.
				v := 20*fade(10*day) - 24
				v = v*fade(day) + 5*0.25
				want = v * fade(19*day)
			}
			if b.PolicyVersion != 2 || !relEq(b.Value, want, 1e-9) {
				t.Errorf("%s under version 2: %v (version %d), want %v (version 1: %v)", id, b.Value, b.PolicyVersion, want, old[id])
			}
		}
		if ec := topOf(t, explainAt(t, svc, "p-mixed", time.Time{}, 100), ledger.KindResponse, time.Time{}); ec.Effect.Rule != "hollow" {
			t.Errorf("p-mixed's response under version 2: rule %q, want hollow", ec.Effect.Rule)
		}
		page, err := svc.ListBalances(ctx, ledger.DefaultTenant, ledger.BalanceQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if page.PolicyVersion != 2 || page.ApproximateOrder {
			t.Errorf("ListBalances: version %d, approximate order %v; want 2, exact", page.PolicyVersion, page.ApproximateOrder)
		}
		for _, e := range page.Entries {
			if e.Balance.PolicyVersion != 2 {
				t.Errorf("ListBalances entry %s at version %d", e.Customer.ID, e.Balance.PolicyVersion)
			}
		}
		if got := balanceIDs(page.Entries); !slices.Equal(got, []string{"p-outage", "p-complaint", "p-mixed", "p-delivery"}) {
			t.Errorf("ListBalances order under version 2: %v", got)
		}
		rec, err := svc.ListOutreach(ctx, ledger.DefaultTenant, ledger.PurposeRecovery, "", 0, "", false)
		if err != nil {
			t.Fatal(err)
		}
		if got := outreachIDs(rec.Entries); rec.PolicyVersion != 2 || !slices.Equal(got, []string{"p-outage", "p-complaint", "p-mixed"}) {
			t.Errorf("RECOVERY under version 2 (v%d): %v, want [p-outage p-complaint p-mixed]", rec.PolicyVersion, got)
		}

		// The old version stays readable; the active one is 2.
		g1, active, err := svc.GetPolicy(ctx, ledger.DefaultTenant, 1)
		if err != nil || active != 2 || g1.Version != 1 || !reflect.DeepEqual(g1.Weights, ledger.DefaultPolicy().Weights) {
			t.Errorf("version 1 after installing 2: %+v (active %d), %v", g1, active, err)
		}
		if g2, _, err := svc.GetPolicy(ctx, ledger.DefaultTenant, 0); err != nil || g2.Version != 2 || g2.Weights[ledger.KindOutage] != -24 {
			t.Errorf("active policy: %+v, %v", g2, err)
		}
		if _, err := svc.GetJob(ctx, ledger.DefaultTenant, "no-such-job"); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("unknown job: %v, want not found", err)
		}

		// Version 3: complaints weigh half.
		job3 := installPolicy(t, svc, func(p *ledger.Policy) { p.Weights[ledger.KindComplaint] = -4 })
		if job3 = runJob(t, svc, job3, ledger.JobSucceeded); job3.State != ledger.JobSucceeded || job3.PolicyVersion != 3 || job3.Done != job3.Total {
			t.Fatalf("version 3's job: %+v", job3)
		}
		if b := balanceAt(t, svc, "p-complaint", time.Time{}); b.PolicyVersion != 3 || !relEq(b.Value, old["p-complaint"]/2, 1e-9) {
			t.Errorf("p-complaint under version 3: %+v, want %v", b, old["p-complaint"]/2)
		}
		if _, active, err := svc.GetPolicy(ctx, ledger.DefaultTenant, 0); err != nil || active != 3 {
			t.Errorf("active version %d, %v; want 3", active, err)
		}
	})
}

// Under the longest half-life a policy may have, 100 years, a balance
// still halves every century, also beyond the 292 years a time.Duration
// holds.
func TestLongestHalfLifeFadesForCenturies(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{RecomputePoll: 10 * time.Millisecond, Logger: quietLog(), Now: newClock(t0).Now})
		century := 100 * 365 * day
		job := installPolicy(t, svc, func(p *ledger.Policy) { p.HalfLife = century })
		if j := runJob(t, svc, job, ledger.JobSucceeded); j.State != ledger.JobSucceeded {
			t.Fatalf("job: %+v", j)
		}
		base := t0.Add(-time.Hour)
		record(t, svc, nev("c", ledger.KindReliableDelivery, 64, base))
		record(t, svc, nev("d", ledger.KindReliableDelivery, 32, base))
		for _, tc := range []struct {
			centuries int
			want      float64
		}{
			{0, 64}, {1, 32}, {2, 16},
			// Regression: decay once used time.Time.Sub, which saturates
			// at about 292 years, so balances stopped fading.
			{3, 8}, {4, 4}, {6, 1},
		} {
			at := base.AddDate(0, 0, tc.centuries*36500)
			b := balanceAt(t, svc, "c", at)
			if !relEq(b.Value, tc.want, 1e-9) || b.PolicyVersion != 2 {
				t.Errorf("as of %v: %v (policy %d), want %v under version 2", at.Format(time.DateOnly), b.Value, b.PolicyVersion, tc.want)
			}
			// A customer with half the points keeps half the balance.
			if d := balanceAt(t, svc, "d", at).Value; !relEq(d, b.Value/2, 1e-9) {
				t.Errorf("as of %v: d %v, c %v", at.Format(time.DateOnly), d, b.Value)
			}
		}
	})
}

// A policy written before SERVICE_CHANGE and BROKEN_PROMISE existed (an
// older client's) installs, and weighs them by the built-in weights; a
// policy that names them keeps its own.
func TestLaterKindsMayBeLeftOutOfAPolicy(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		p := *ledger.DefaultPolicy()
		delete(p.Weights, ledger.KindServiceChange)
		p.Weights[ledger.KindBrokenPromise] = -25
		installed, _, err := svc.SetPolicy(t.Context(), ledger.DefaultTenant, p)
		if err != nil {
			t.Fatal(err)
		}
		if installed.Weights[ledger.KindServiceChange] != -1 || installed.Weights[ledger.KindBrokenPromise] != -25 {
			t.Errorf("installed weights %v; want SERVICE_CHANGE at the built-in -1 and BROKEN_PROMISE at -25", installed.Weights)
		}
		// The original kinds stay required.
		delete(p.Weights, ledger.KindOutage)
		if _, _, err := svc.SetPolicy(t.Context(), ledger.DefaultTenant, p); ledger.FieldOf(err) != "policy.weights[EVENT_KIND_OUTAGE]" {
			t.Errorf("a policy without OUTAGE: %v", err)
		}
	})
}

// An install with an idempotency key happens once: a retry (the same key
// and policy) returns it, replayed, with its job as it stands; the same key
// with another policy is a conflict naming the key; other keys install
// their own versions. Keys are per tenant.
func TestKeyedPolicyInstallHappensOnce(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		ctx := t.Context()
		recordAll(t, svc, nev("k1", ledger.KindOutage, 1, t0.Add(-day)))
		v1, _, err := svc.GetPolicy(ctx, ledger.DefaultTenant, 0)
		if err != nil {
			t.Fatal(err)
		}
		next := *v1
		next.Weights = maps(v1.Weights)
		next.Weights[ledger.KindOutage] *= 2

		first, err := svc.InstallPolicy(ctx, ledger.DefaultTenant, next, "install-1")
		if err != nil || first.Replayed || first.Policy.Version != 2 {
			t.Fatalf("first install: %+v, %v", first, err)
		}
		runJob(t, svc, first.Job, ledger.JobSucceeded)
		again, err := svc.InstallPolicy(ctx, ledger.DefaultTenant, next, "install-1")
		if err != nil || !again.Replayed || again.Policy.Version != 2 || again.Job.ID != first.Job.ID || again.Job.State != ledger.JobSucceeded {
			t.Fatalf("the same install again: %+v, %v; want version 2 replayed with its finished job", again, err)
		}
		if _, active, err := svc.GetPolicy(ctx, ledger.DefaultTenant, 0); err != nil || active != 2 {
			t.Errorf("after a replay the active version is %d (%v), want 2", active, err)
		}

		other := next
		other.Weights = maps(next.Weights)
		other.Weights[ledger.KindComplaint] *= 3
		_, err = svc.InstallPolicy(ctx, ledger.DefaultTenant, other, "install-1")
		if !errors.Is(err, ledger.ErrConflict) || ledger.FieldOf(err) != "idempotency_key" {
			t.Errorf("the key with another policy: %v, want a conflict on idempotency_key", err)
		}
		third, err := svc.InstallPolicy(ctx, ledger.DefaultTenant, other, "install-2")
		if err != nil || third.Replayed || third.Policy.Version != 3 {
			t.Errorf("a new key: %+v, %v; want version 3", third, err)
		}
		// Another tenant's key of the same name is its own.
		b, err := svc.InstallPolicy(ctx, "tenant-b", other, "install-1")
		if err != nil || b.Replayed || b.Policy.Version != 2 {
			t.Errorf("tenant-b with the same key: %+v, %v; want its own version 2", b, err)
		}
		if _, err := svc.InstallPolicy(ctx, ledger.DefaultTenant, other, "has space"); ledger.FieldOf(err) != "idempotency_key" {
			t.Errorf("a key with a space: %v, want INVALID_ARGUMENT on idempotency_key", err)
		}
	})
}
