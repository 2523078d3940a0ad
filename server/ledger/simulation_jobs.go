package ledger

import (
	"context"
	"sync"
	"time"
)

// Simulations run in the process that accepted them and are kept in its
// memory: they write nothing to the ledger, and their answer is a report
// to read within the hour. Behind a load balancer, GetSimulation must
// reach the same replica (or the caller retries until it does: another
// replica answers NOT_FOUND). A restart forgets them.
const (
	// MaxRunningSimulations bounds the simulations running at once in one
	// process: each walks every customer of its tenant.
	MaxRunningSimulations = 2
	// simulationTTL is how long a finished simulation stays readable.
	simulationTTL = time.Hour
	// simulationsKept bounds the simulations kept per tenant, oldest
	// finished ones dropped first.
	simulationsKept = 16
	// simulationTimeout bounds one simulation's run.
	simulationTimeout = 30 * time.Minute
)

type simulationKey struct{ tenant, id string }

// simulations is the process's registry of what-if jobs.
type simulations struct {
	mu      sync.Mutex
	jobs    map[simulationKey]*Simulation
	running int
}

// SimulatePolicy starts a what-if job for a draft policy and returns it
// running. It fails with ErrFailedPrecondition while MaxRunningSimulations
// run already, or while one of this tenant's runs. stale allows a snapshot
// a few seconds old (a follower read on CockroachDB).
func (s *Service) SimulatePolicy(ctx context.Context, tenant string, p Policy, stale bool) (Simulation, error) {
	now := s.clock()
	draft, err := s.draft(p, now)
	if err != nil {
		return Simulation{}, err
	}
	sim := &Simulation{TenantID: tenant, ID: s.newID(), State: JobRunning, StartedAt: now, SnapshotAt: now,
		Stale: stale || s.followerReads, Draft: &draft}
	if err := s.sims.start(sim, now); err != nil {
		return Simulation{}, err
	}
	// The job outlives the request that started it, not the process.
	run := context.WithoutCancel(ctx)
	go func() {
		run, cancel := context.WithTimeout(run, simulationTimeout)
		defer cancel()
		res, err := s.simulateWith(run, sim, &draft, now, stale)
		s.sims.finish(sim, res, err, s.clock())
		if err != nil {
			s.log.Warn("simulation failed", "tenant", tenant, "simulation", sim.ID, "err", err)
		}
	}()
	return s.sims.get(tenant, sim.ID)
}

func (s *Service) simulateWith(ctx context.Context, sim *Simulation, draft *Policy, now time.Time, stale bool) (SimulationResult, error) {
	// The draft is numbered as installing it now would number it, which
	// the snapshot tells.
	res, err := s.simulate(ctx, sim.TenantID, draft, now, stale, func(done, total int64) {
		s.sims.progress(sim, done, total)
	})
	if err == nil {
		s.sims.mu.Lock()
		d := *draft
		d.Version = res.ActiveVersion + 1
		sim.Draft = &d
		s.sims.mu.Unlock()
	}
	return res, err
}

// GetSimulation returns a simulation of this process. Errors: ErrNotFound.
func (s *Service) GetSimulation(ctx context.Context, tenant, id string) (Simulation, error) {
	if err := checkID("simulation_id", id, s.limits.MaxIDLength); err != nil {
		return Simulation{}, err
	}
	return s.sims.get(tenant, id)
}

func (r *simulations) start(sim *Simulation, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.jobs == nil {
		r.jobs = map[simulationKey]*Simulation{}
	}
	r.prune(sim.TenantID, now)
	if r.running >= MaxRunningSimulations {
		return precondition("%d simulations are running on this server; try again when one has finished", r.running)
	}
	for k, j := range r.jobs {
		if k.tenant == sim.TenantID && j.State == JobRunning {
			return precondition("simulation %s of this tenant is still running; wait for it (GetSimulation)", j.ID)
		}
	}
	r.jobs[simulationKey{sim.TenantID, sim.ID}] = sim
	r.running++
	return nil
}

// prune drops finished simulations past their time, then the oldest
// finished ones of the tenant beyond simulationsKept.
func (r *simulations) prune(tenant string, now time.Time) {
	var mine []*Simulation
	for k, j := range r.jobs {
		if j.State != JobRunning && now.Sub(j.FinishedAt) > simulationTTL {
			delete(r.jobs, k)
			continue
		}
		if k.tenant == tenant && j.State != JobRunning {
			mine = append(mine, j)
		}
	}
	for len(mine) >= simulationsKept {
		oldest := 0
		for i, j := range mine {
			if j.FinishedAt.Before(mine[oldest].FinishedAt) {
				oldest = i
			}
		}
		delete(r.jobs, simulationKey{tenant, mine[oldest].ID})
		mine = append(mine[:oldest], mine[oldest+1:]...)
	}
}

func (r *simulations) progress(sim *Simulation, done, total int64) {
	r.mu.Lock()
	sim.Done, sim.Total = done, total
	r.mu.Unlock()
}

func (r *simulations) finish(sim *Simulation, res SimulationResult, err error, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running--
	sim.FinishedAt = now
	if err != nil {
		sim.State, sim.Error = JobFailed, err.Error()
		return
	}
	sim.State, sim.Result = JobSucceeded, &res
	sim.Total = max(sim.Total, sim.Done)
}

// get returns a copy, safe to read while the job runs on.
func (r *simulations) get(tenant, id string) (Simulation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	j, ok := r.jobs[simulationKey{tenant, id}]
	if !ok {
		return Simulation{}, notFound("no simulation %s on this server (simulations live an hour on the server that ran them)", id)
	}
	return *j, nil
}
