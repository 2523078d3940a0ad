package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// policyCache keeps decoded policy versions. Versions never change once
// installed, so entries never go stale.
type policyCache struct {
	mu sync.Mutex
	m  map[policyKey]*Policy
}

type policyKey struct {
	tenant  string
	version int64
}

func (c *policyCache) get(k policyKey) (*Policy, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[k]
	return p, ok
}

func (c *policyCache) put(k policyKey, p *Policy) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[policyKey]*Policy{}
	}
	c.m[k] = p
}

// active returns the tenant's active policy. It reads the active version in
// the caller's transaction, so every replica agrees on it.
func (s *Service) active(ctx context.Context, r Reader, tenant string) (*Policy, error) {
	sp, err := r.ActivePolicy(ctx, tenant)
	if errors.Is(err, ErrNotFound) {
		return s.builtin, nil
	}
	if err != nil {
		return nil, err
	}
	return s.decode(tenant, sp)
}

// activeVersion maps the version Lookup reports to the one that applies:
// NeverInstalled means the built-in policy.
func (s *Service) activeVersion(v int64) int64 {
	if v == NeverInstalled {
		return s.builtin.Version
	}
	return v
}

// policyAt returns one version of the tenant's policy.
func (s *Service) policyAt(ctx context.Context, r Reader, tenant string, version int64) (*Policy, error) {
	if p, ok := s.policies.get(policyKey{tenant, version}); ok {
		return p, nil
	}
	sp, err := r.Policy(ctx, tenant, version)
	if errors.Is(err, ErrNotFound) && version == s.builtin.Version {
		return s.builtin, nil // never installed: the built-in one
	}
	if errors.Is(err, ErrNotFound) {
		return nil, notFound("policy version %d not found", version)
	}
	if err != nil {
		return nil, err
	}
	return s.decode(tenant, sp)
}

func (s *Service) decode(tenant string, sp StoredPolicy) (*Policy, error) {
	k := policyKey{tenant, sp.Version}
	if p, ok := s.policies.get(k); ok {
		return p, nil
	}
	p, err := DecodePolicy(sp)
	if err != nil {
		return nil, err
	}
	// Version 1 is the built-in one, stored when a tenant installs version
	// 2; builds before BuiltinPolicyDate stored that install's time as its
	// creation time, so the stored time is not trusted.
	if p.Version == s.builtin.Version {
		p.CreatedAt = s.builtin.CreatedAt
	}
	s.policies.put(k, p)
	return p, nil
}

// GetPolicy returns a policy version (the active one when version is 0)
// and the active version.
func (s *Service) GetPolicy(ctx context.Context, tenant string, version int64) (*Policy, int64, error) {
	if version < 0 {
		return nil, 0, Invalid("version", "must not be negative")
	}
	var p *Policy
	var active int64
	err := s.store.View(ctx, func(r Reader) error {
		a, err := s.active(ctx, r, tenant)
		if err != nil {
			return err
		}
		active = a.Version
		if version == 0 || version == a.Version {
			p = a
			return nil
		}
		p, err = s.policyAt(ctx, r, tenant, version)
		return err
	})
	return p, active, err
}

// SetPolicy installs p as the tenant's next version and starts a job that
// recomputes every stored balance under it. Reads and writes use the new
// version at once: until the job reaches a customer, its balance is
// replayed on read.
func (s *Service) SetPolicy(ctx context.Context, tenant string, p Policy) (*Policy, Job, error) {
	in, err := s.InstallPolicy(ctx, tenant, p, "")
	return in.Policy, in.Job, err
}

// PolicyInstall is what InstallPolicy did: the version installed and its
// recompute job, or, on a replay, the earlier install the key names.
type PolicyInstall struct {
	Policy   *Policy
	Job      Job
	Replayed bool
}

// policyJobPrefix starts the id of a keyed install's job: the job's id is
// derived from the key, so the job is where the key is remembered.
const policyJobPrefix = "job-key-"

// policyJobID is the id of the job of the install made with key.
func policyJobID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return policyJobPrefix + hex.EncodeToString(sum[:16])
}

// InstallPolicy is SetPolicy with an optional idempotency key. With a key,
// a retry of an install that committed returns that install (Replayed)
// instead of adding a version; the same key with another policy is
// ErrConflict. The key is remembered as the install's job id, derived from
// it, so keys live as long as jobs do.
func (s *Service) InstallPolicy(ctx context.Context, tenant string, p Policy, key string) (PolicyInstall, error) {
	if err := checkKey("idempotency_key", key, s.limits.MaxKeyLength); err != nil {
		return PolicyInstall{}, err
	}
	now := s.clock()
	p, err := s.draft(p, now)
	if err != nil {
		return PolicyInstall{}, err
	}
	job := Job{TenantID: tenant, ID: s.newID(), State: JobRunning, StartedAt: now}
	if key != "" {
		job.ID = policyJobID(key)
	}
	var installed Policy
	replayed := false
	err = s.update(ctx, func(tx Tx) error {
		replayed = false
		if key != "" {
			earlier, err := tx.Job(ctx, tenant, job.ID)
			switch {
			case err == nil:
				sp, err := tx.Policy(ctx, tenant, earlier.PolicyVersion)
				if err != nil {
					return err
				}
				before, err := s.decode(tenant, sp)
				if err != nil {
					return err
				}
				if !samePolicy(before, &p) {
					return conflict("idempotency_key", "was used for another policy, installed as version %d", before.Version)
				}
				installed, job, replayed = *before, earlier, true
				return nil
			case !errors.Is(err, ErrNotFound):
				return err
			}
		}
		stored, err := tx.ActivePolicy(ctx, tenant)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		cur := s.builtin
		if err == nil {
			if cur, err = s.decode(tenant, stored); err != nil {
				return err
			}
		} else {
			// Store the built-in version so old versions stay readable. It
			// keeps its own creation time: it was not installed now.
			b := *s.builtin
			if err := tx.PutPolicy(ctx, tenant, StoredPolicy{Version: b.Version, Body: EncodePolicy(&b), CreatedAt: b.CreatedAt}); err != nil {
				return err
			}
		}
		installed = p
		installed.Version = cur.Version + 1
		if err := tx.PutPolicy(ctx, tenant, StoredPolicy{Version: installed.Version, Body: EncodePolicy(&installed), CreatedAt: now}); err != nil {
			return err
		}
		j := job
		j.PolicyVersion = installed.Version
		if j.Total, err = tx.CountCustomers(ctx, tenant); err != nil {
			return err
		}
		job = j
		return tx.PutJob(ctx, j)
	})
	if err != nil {
		return PolicyInstall{}, err
	}
	if !replayed {
		s.wake()
	}
	return PolicyInstall{Policy: &installed, Job: job, Replayed: replayed}, nil
}

// draft completes a policy a caller sent, to install or to simulate, and
// validates it: the server's epoch, the creation time, the optional
// weights' defaults.
func (s *Service) draft(p Policy, now time.Time) (Policy, error) {
	// The epoch only anchors ranking keys; the server keeps its own.
	p.Epoch = s.builtin.Epoch
	p.CreatedAt = now
	p.Version = 1 // the caller sets the real number once it is known
	weights := make(map[Kind]float64, len(p.Weights))
	for k, w := range p.Weights {
		if w == 0 {
			w = 0 // a -0 would be echoed as "-0"
		}
		weights[k] = w
	}
	p.Weights = withOptionalWeights(weights)
	return p, p.Validate()
}

// samePolicy reports whether two policies say the same thing, whatever
// their version, creation time and epoch (which the server assigns).
func samePolicy(a, b *Policy) bool {
	x, y := *a, *b
	x.Version, y.Version = 0, 0
	x.CreatedAt, y.CreatedAt = time.Time{}, time.Time{}
	x.Epoch = y.Epoch
	return bytes.Equal(EncodePolicy(&x), EncodePolicy(&y))
}

// GetJob returns a recompute job. Errors: ErrNotFound.
func (s *Service) GetJob(ctx context.Context, tenant, id string) (Job, error) {
	if err := checkID("job_id", id, s.limits.MaxIDLength); err != nil {
		return Job{}, err
	}
	var j Job
	err := s.store.View(ctx, func(r Reader) error {
		var err error
		j, err = r.Job(ctx, tenant, id)
		if errors.Is(err, ErrNotFound) {
			return notFound("job %q not found", id)
		}
		return err
	})
	return j, err
}

func (s *Service) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// recomputeBatch is how many customers one recompute transaction handles.
const recomputeBatch = 200

// maxStepFailures is how many consecutive failures of a job's steps fail
// it, counting only failures that are not transient (say, a stored event
// the code cannot read, which would otherwise be retried forever). A step
// that fails because the store is unreachable is retried after a backoff
// (Options.RecomputeBackoff) for as long as it takes: an outage of the
// store must not fail a job for good.
const maxStepFailures = 5

// runRecompute works through running recompute jobs until ctx ends: at
// start (jobs a restart interrupted, and failed jobs of a version still
// active, which it resumes), whenever a policy is installed or a job
// resumed, and every poll interval (jobs installed through another
// replica).
func (s *Service) runRecompute(ctx context.Context) {
	log, poll := s.log, s.poll
	s.resumeFailedJobs(ctx, log)
	t := time.NewTicker(poll)
	defer t.Stop()
	failures := map[string]int{}        // consecutive non-transient failures per job
	transients := map[string]int{}      // consecutive transient failures per job
	notBefore := map[string]time.Time{} // a backing-off job waits until then
	for {
		var jobs []Job
		err := s.store.View(ctx, func(r Reader) error {
			var err error
			jobs, err = r.JobsInState(ctx, JobRunning)
			return err
		})
		if err != nil && ctx.Err() == nil {
			log.Warn("recompute: list jobs", "err", err)
		}
		for _, j := range jobs {
			if s.clock().Before(notBefore[j.ID]) {
				continue
			}
			for ctx.Err() == nil {
				next, err := s.recomputeStep(ctx, j)
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					if transient(err) {
						transients[j.ID]++
						wait := s.recomputeBackoff(transients[j.ID])
						notBefore[j.ID] = s.clock().Add(wait)
						log.Warn("recompute step failed; retrying", "job", j.ID, "attempt", transients[j.ID],
							"retry_in", wait, "err", err)
						break
					}
					failures[j.ID]++
					log.Error("recompute step failed", "job", j.ID, "attempt", failures[j.ID], "err", err)
					if failures[j.ID] >= maxStepFailures {
						if ferr := s.failJob(ctx, j, err); ferr != nil {
							log.Error("recompute: marking job failed", "job", j.ID, "err", ferr)
						}
						delete(failures, j.ID)
					}
					break
				}
				delete(failures, j.ID)
				delete(transients, j.ID)
				delete(notBefore, j.ID)
				if next.State != JobRunning {
					log.Info("recompute job finished", "job", next.ID, "tenant", next.TenantID,
						"policy_version", next.PolicyVersion, "customers", next.Done, "error", next.Error)
					break
				}
				j = next
			}
		}
		wake := time.NewTimer(poll)
		if next, ok := earliest(notBefore); ok {
			wake.Reset(max(0, next.Sub(s.clock())))
		}
		select {
		case <-ctx.Done():
			wake.Stop()
			return
		case <-s.kick:
		case <-t.C:
		case <-wake.C:
		}
		wake.Stop()
	}
}

// transient reports a failure that says nothing about the job itself: the
// store was unreachable, busy or slow.
func transient(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrDuplicate) || errors.Is(err, context.DeadlineExceeded)
}

// recomputeBackoff is the wait after the n-th consecutive transient failure:
// doubling from the first backoff up to the longest, with jitter so
// replicas retrying the same job spread out.
func (s *Service) recomputeBackoff(n int) time.Duration {
	d := min(s.backoff[0]<<min(n-1, 16), s.backoff[1])
	return d/2 + rand.N(d/2+1)
}

func earliest(m map[string]time.Time) (time.Time, bool) {
	var out time.Time
	for _, t := range m {
		if out.IsZero() || t.Before(out) {
			out = t
		}
	}
	return out, !out.IsZero()
}

func (s *Service) failJob(ctx context.Context, in Job, cause error) error {
	return s.update(ctx, func(tx Tx) error {
		j, err := tx.Job(ctx, in.TenantID, in.ID)
		if err != nil || j.State != JobRunning {
			return err
		}
		j.State, j.FinishedAt = JobFailed, s.clock()
		j.Error = "gave up after repeated failures: " + cause.Error()
		return tx.PutJob(ctx, j)
	})
}

// ResumeJob sets a failed recompute job running again from where it
// stopped, if its policy version is still the active one; a newer version's
// own job recomputes every customer, so a superseded job cannot resume. A
// running or succeeded job is returned as it is. Errors: ErrNotFound,
// ErrFailedPrecondition.
func (s *Service) ResumeJob(ctx context.Context, tenant, id string) (Job, error) {
	if err := checkID("job_id", id, s.limits.MaxIDLength); err != nil {
		return Job{}, err
	}
	var out Job
	err := s.update(ctx, func(tx Tx) error {
		j, err := tx.Job(ctx, tenant, id)
		if errors.Is(err, ErrNotFound) {
			return notFound("job %q not found", id)
		}
		if err != nil {
			return err
		}
		out = j
		if j.State != JobFailed {
			return nil
		}
		pol, err := s.active(ctx, tx, tenant)
		if err != nil {
			return err
		}
		if pol.Version != j.PolicyVersion {
			return precondition("job %q recomputes policy version %d, which version %d has replaced; "+
				"that version's own job recomputes every customer", id, j.PolicyVersion, pol.Version)
		}
		j.State, j.Error, j.FinishedAt = JobRunning, "", time.Time{}
		out = j
		return tx.PutJob(ctx, j)
	})
	if err == nil && out.State == JobRunning {
		s.wake()
	}
	return out, err
}

// resumeFailedJobs resumes, at start, every failed job whose policy version
// is still its tenant's active one, so customers a failed job never reached
// do not stay on an old version (and rankings approximate) for good.
func (s *Service) resumeFailedJobs(ctx context.Context, log *slog.Logger) {
	var failed []Job
	if err := s.store.View(ctx, func(r Reader) error {
		failed = nil // the store may run this again
		all, err := r.JobsInState(ctx, JobFailed)
		if err != nil {
			return err
		}
		// Only a tenant's latest job can be of its active version; older
		// failed jobs were replaced and stay as they are.
		for _, j := range all {
			latest, err := r.LatestJob(ctx, j.TenantID)
			if err != nil {
				return err
			}
			if latest.ID == j.ID {
				failed = append(failed, j)
			}
		}
		return nil
	}); err != nil {
		if ctx.Err() == nil {
			log.Warn("recompute: list failed jobs", "err", err)
		}
		return
	}
	for _, j := range failed {
		got, err := s.ResumeJob(ctx, j.TenantID, j.ID)
		switch {
		case errors.Is(err, ErrFailedPrecondition):
			// superseded: nothing to resume
		case err != nil:
			log.Warn("recompute: resuming a failed job", "job", j.ID, "tenant", j.TenantID, "err", err)
		case got.State == JobRunning:
			log.Info("recompute: resuming a failed job", "job", j.ID, "tenant", j.TenantID,
				"policy_version", j.PolicyVersion, "done", j.Done, "failed_with", j.Error)
		}
	}
}

// recomputeStep recomputes the next batch of a job's customers in one
// transaction, moving the job's cursor with them, so a crash loses nothing
// and repeats nothing that committed.
func (s *Service) recomputeStep(ctx context.Context, in Job) (Job, error) {
	var out Job
	err := s.update(ctx, func(tx Tx) error {
		j, err := tx.Job(ctx, in.TenantID, in.ID)
		if err != nil {
			return err
		}
		out = j
		if j.State != JobRunning {
			return nil
		}
		now := s.clock()
		pol, err := s.active(ctx, tx, j.TenantID)
		if err != nil {
			return err
		}
		if pol.Version != j.PolicyVersion {
			j.State, j.Error, j.FinishedAt = JobFailed, "superseded by a newer policy version", now
			out = j
			return tx.PutJob(ctx, j)
		}
		cs, err := tx.Customers(ctx, j.TenantID, j.Cursor, recomputeBatch)
		if err != nil {
			return err
		}
		w := s.newWatcher(now)
		for _, c := range cs {
			if c.PolicyVersion != pol.Version {
				hist, err := tx.History(ctx, c.TenantID, c.ID)
				if err != nil {
					return err
				}
				before := c
				c.State = pol.Replay(hist, time.Time{})
				c.PolicyVersion = pol.Version
				c.Keys = pol.KeysOf(c)
				// The new weights can move the customer across its limit.
				w.changed(before, &c, pol, nil)
				if err := tx.PutCustomer(ctx, c); err != nil {
					return err
				}
			}
			j.Done++
			j.Cursor = c.ID
		}
		if len(cs) < recomputeBatch {
			j.State, j.FinishedAt = JobSucceeded, now
			j.Total = max(j.Total, j.Done)
			w.note(nil, j.TenantID, NotifyPolicyActivated, now, pol)
		}
		if err := tx.AppendNotifications(ctx, w.notes); err != nil {
			return err
		}
		out = j
		return tx.PutJob(ctx, j)
	})
	return out, err
}
