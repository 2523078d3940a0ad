package ledger

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// WebhookOptions configure webhooks; goodwilld fills them from package
// notify (the secrets, the URL rules, the HTTP delivery), which the ledger
// does not import.
type WebhookOptions struct {
	// NewSecret makes a signing secret. Without it webhooks cannot be
	// created.
	NewSecret func() (string, error)
	// CheckURL refuses a URL a webhook may not have (not https, a private
	// address...), saying why.
	CheckURL func(string) error
	// Deliver posts one notification to one webhook. Without it webhooks
	// are kept but nothing is delivered.
	Deliver Deliverer
	// RetryFor is how long a notification that could not be delivered is
	// retried before it is marked failed (default 24h).
	RetryFor time.Duration
	// Poll is how often a delivery round runs when nothing wakes it
	// (default 1s; new notifications of this process wake it at once).
	Poll time.Duration
	// Parallel bounds the deliveries in flight per webhook (default 16);
	// one customer's are always one at a time, in order.
	Parallel int
	// SecretGrace is how long a rotated-out secret still signs (default
	// 24h).
	SecretGrace time.Duration
	// RetryBase and RetryMax shape the wait between attempts: it doubles
	// from RetryBase to RetryMax (defaults 5s and 1h).
	RetryBase, RetryMax time.Duration
}

func (o WebhookOptions) withDefaults() WebhookOptions {
	if o.RetryFor <= 0 {
		o.RetryFor = 24 * time.Hour
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Parallel <= 0 {
		o.Parallel = 16
	}
	if o.SecretGrace <= 0 {
		o.SecretGrace = 24 * time.Hour
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 5 * time.Second
	}
	if o.RetryMax < o.RetryBase {
		o.RetryMax = max(o.RetryBase, time.Hour)
	}
	return o
}

// Deliverer posts one notification to a webhook and says how it went.
type Deliverer func(ctx context.Context, w Webhook, n Notification) DeliveryResult

// DeliveryResult is one attempt's outcome: delivered when Err is nil (the
// receiver answered 2xx).
type DeliveryResult struct {
	Status  int
	Err     error
	Latency time.Duration
}

// MaxWebhookURL bounds a webhook's URL, in characters.
const MaxWebhookURL = 2048

const (
	// maxWebhooks bounds a tenant's webhooks.
	maxWebhooks = 20
	// webhookBatch is how many new notifications one round takes.
	webhookBatch = 100
	// webhookQueueRead is how much of a webhook's queue one round reads;
	// a longer queue stops new notifications being taken (they wait in
	// the stream) until it shrinks, so order is never lost.
	webhookQueueRead = 1000
	// webhookLease is how long a replica keeps a webhook to itself.
	webhookLease = 30 * time.Second
	// loggedSuccesses is how many of a round's successful deliveries go in
	// the attempt log (every failure does).
	loggedSuccesses = 16
)

// newWebhookSecret makes a signing secret, if this server can.
func (s *Service) newWebhookSecret() (string, error) {
	if s.webhooks.NewSecret == nil {
		return "", precondition("webhooks are not available on this server")
	}
	return s.webhooks.NewSecret()
}

// CreateWebhook adds a webhook that receives the tenant's notifications
// from now on, and returns it with its signing secret.
func (s *Service) CreateWebhook(ctx context.Context, tenant, url string, types []NotificationType, description string) (Webhook, error) {
	if err := s.checkWebhook(url, types, description); err != nil {
		return Webhook{}, err
	}
	secret, err := s.newWebhookSecret()
	if err != nil {
		return Webhook{}, err
	}
	now := s.clock()
	w := Webhook{TenantID: tenant, ID: "wh_" + s.newID(), URL: url, Types: types, Description: description,
		Secret: secret, CreatedAt: now}
	err = s.update(ctx, func(tx Tx) error {
		existing, err := tx.Webhooks(ctx, tenant)
		if err != nil {
			return err
		}
		if len(existing) >= maxWebhooks {
			return precondition("a tenant may have at most %d webhooks", maxWebhooks)
		}
		if w.Cursor, err = tx.NotificationSeq(ctx); err != nil {
			return err
		}
		return tx.PutWebhook(ctx, w)
	})
	return w, err
}

func (s *Service) checkWebhook(url string, types []NotificationType, description string) error {
	var v violations
	switch {
	case url == "":
		v.add(Invalid("url", "is required"))
	case len(url) > MaxWebhookURL:
		v.add(Invalid("url", "must be at most %d characters", MaxWebhookURL))
	case s.webhooks.CheckURL != nil:
		if err := s.webhooks.CheckURL(url); err != nil {
			v.add(Invalid("url", "%s", err.Error()))
		}
	}
	seen := map[NotificationType]bool{}
	for i, t := range types {
		switch {
		case !t.Valid():
			v.add(Invalid(fmt.Sprintf("types[%d]", i), "%q is not a notification type", t))
		case seen[t]:
			v.add(Invalid(fmt.Sprintf("types[%d]", i), "repeats %q", t))
		}
		seen[t] = true
	}
	v.add(checkText("description", description, s.limits.MaxNameLength))
	return v.err()
}

// GetWebhook returns one of the tenant's webhooks (without its secret).
func (s *Service) GetWebhook(ctx context.Context, tenant, id string) (Webhook, error) {
	if err := checkID("webhook_id", id, s.limits.MaxIDLength); err != nil {
		return Webhook{}, err
	}
	var w Webhook
	err := s.store.View(ctx, func(r Reader) error {
		var err error
		w, err = r.Webhook(ctx, tenant, id)
		if isNotFound(err) {
			return errWebhookNotFound(id)
		}
		return err
	})
	return w, err
}

// ListWebhooks returns the tenant's webhooks.
func (s *Service) ListWebhooks(ctx context.Context, tenant string) ([]Webhook, error) {
	var out []Webhook
	err := s.store.View(ctx, func(r Reader) error {
		var err error
		out, err = r.Webhooks(ctx, tenant)
		return err
	})
	return out, err
}

// DeleteWebhook removes a webhook, its queue and its attempt log.
func (s *Service) DeleteWebhook(ctx context.Context, tenant, id string) error {
	if err := checkID("webhook_id", id, s.limits.MaxIDLength); err != nil {
		return err
	}
	return s.update(ctx, func(tx Tx) error {
		err := tx.DeleteWebhook(ctx, tenant, id)
		if isNotFound(err) {
			return errWebhookNotFound(id)
		}
		return err
	})
}

// RotateWebhookSecret gives a webhook a new secret; the old one keeps
// signing too for SecretGrace, so a receiver can switch without refusing a
// delivery.
func (s *Service) RotateWebhookSecret(ctx context.Context, tenant, id string) (Webhook, error) {
	if err := checkID("webhook_id", id, s.limits.MaxIDLength); err != nil {
		return Webhook{}, err
	}
	secret, err := s.newWebhookSecret()
	if err != nil {
		return Webhook{}, err
	}
	now := s.clock()
	var out Webhook
	err = s.update(ctx, func(tx Tx) error {
		w, err := tx.Webhook(ctx, tenant, id)
		if isNotFound(err) {
			return errWebhookNotFound(id)
		} else if err != nil {
			return err
		}
		w.PreviousSecret, w.PreviousUntil, w.Secret = w.Secret, now.Add(s.webhooks.SecretGrace), secret
		out = w
		return tx.PutWebhook(ctx, w)
	})
	return out, err
}

// WebhookDeliveries returns a webhook's queue (what waits for a retry, and
// what was given up) and its latest attempts.
func (s *Service) WebhookDeliveries(ctx context.Context, tenant, id string, limit int) ([]Delivery, []Attempt, error) {
	if err := checkID("webhook_id", id, s.limits.MaxIDLength); err != nil {
		return nil, nil, err
	}
	switch {
	case limit < 0 || limit > s.limits.MaxPageSize:
		return nil, nil, Invalid("page_size", "must be between 0 and %d", s.limits.MaxPageSize)
	case limit == 0:
		limit = s.limits.DefaultPageSize
	}
	limit = min(limit, attemptRing)
	var queue []Delivery
	var tries []Attempt
	err := s.store.View(ctx, func(r Reader) error {
		if _, err := r.Webhook(ctx, tenant, id); isNotFound(err) {
			return errWebhookNotFound(id)
		} else if err != nil {
			return err
		}
		var err error
		if queue, err = r.PendingDeliveries(ctx, tenant, id, limit); err != nil {
			return err
		}
		tries, err = r.Attempts(ctx, tenant, id, limit)
		return err
	})
	return queue, tries, err
}

// runWebhooks delivers notifications to webhooks until ctx ends. Each
// replica leases the webhooks it delivers, so two never post the same
// notification at once; a replica that dies frees its leases when they
// end. Leases are claimed (and renewed) once a poll, not every round: a
// round wakes for every batch of new notifications, and a write
// transaction each time would cost more than the deliveries.
func (s *Service) runWebhooks(ctx context.Context, log *slog.Logger) {
	owner := "replica-" + s.newID()
	t := time.NewTicker(s.webhooks.Poll)
	defer t.Stop()
	var held []Webhook
	claim := true
	for {
		if claim {
			var err error
			if held, err = s.claimWebhooks(ctx, owner); err != nil && ctx.Err() == nil {
				log.Warn("webhooks: claiming leases failed; retrying", "err", err)
			}
		}
		// The wake-up is taken before the round: numbers given while the
		// round runs must start the next one.
		_, wake, ok := s.feed.wait()
		if !ok {
			_, wake = s.hub.wait()
		}
		busy := s.webhookRound(ctx, owner, held, log)
		claim = false
		if busy {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
			sleep(ctx, webhookGather)
		case <-t.C:
			claim = true
		}
	}
}

// claimWebhooks leases to owner the webhooks it may deliver: those free
// and those it holds already.
func (s *Service) claimWebhooks(ctx context.Context, owner string) ([]Webhook, error) {
	now := s.clock()
	var ws []Webhook
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		ws, err = tx.ClaimWebhooks(ctx, owner, now, now.Add(webhookLease), 100)
		return err
	})
	return ws, err
}

// webhookRound runs one round for each webhook held, in parallel: a slow
// or dead receiver holds up only its own webhook. It reports whether any
// webhook has more to do at once.
func (s *Service) webhookRound(ctx context.Context, owner string, held []Webhook, log *slog.Logger) bool {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		busy bool
	)
	for _, w := range held {
		wg.Go(func() {
			b, err := s.deliverRound(ctx, owner, w.TenantID, w.ID)
			if err != nil && ctx.Err() == nil {
				log.Warn("webhooks: round failed", "tenant", w.TenantID, "webhook", w.ID, "err", err)
			}
			mu.Lock()
			busy = busy || b
			mu.Unlock()
		})
	}
	wg.Wait()
	return busy
}

// job is one notification to attempt in a round: a queued retry (d set)
// or a new one.
type job struct {
	n Notification
	d *Delivery
}

// deliverRound runs one round for one webhook: the queued retries that are
// due, then the new notifications, each customer's one at a time and in
// order (a customer with a notification waiting for a retry gets nothing
// newer before it), then records the outcome and moves the cursor, in one
// transaction. Delivery is at least once: a crash before the record posts
// again, with the same notification id.
//
// The webhook is read afresh, in the same snapshot as its queue: its
// cursor, URL and secrets as they are now, and whether owner still holds
// its lease (a webhook deleted, or taken over by another replica after
// this one stalled, gets nothing more from here).
func (s *Service) deliverRound(ctx context.Context, owner, tenant, id string) (bool, error) {
	now := s.clock()
	var w Webhook
	var queue []Delivery
	var fresh []Notification
	var latest int64 // the last number given, in the same snapshot
	held := false
	err := s.store.View(ctx, func(r Reader) error {
		var err error
		queue, fresh, latest, held = nil, nil, 0, false
		if w, err = r.Webhook(ctx, tenant, id); isNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		if held = w.LeaseOwner == owner && w.LeaseUntil.After(now); !held {
			return nil
		}
		if queue, err = r.PendingDeliveries(ctx, w.TenantID, w.ID, webhookQueueRead); err != nil {
			return err
		}
		if len(queue) < webhookQueueRead { // the whole queue is known: order is safe
			var ok bool
			if fresh, latest, ok = s.feed.read(w.TenantID, w.Cursor, w.Types, webhookBatch); ok {
				return nil
			}
			if latest, err = r.NotificationSeq(ctx); err != nil {
				return err
			}
			fresh, err = r.Notifications(ctx, w.TenantID, w.Cursor, w.Types, webhookBatch)
		}
		return err
	})
	if err != nil || !held {
		return false, err
	}
	// Per customer: the earliest queued pending delivery, if due; nothing
	// newer while one waits; else the new notifications in order.
	perCustomer := map[string][]job{}
	var order []string
	waiting := map[string]bool{}
	var expired []Delivery
	for i := range queue {
		d := &queue[i]
		if d.State != DeliveryPending || waiting[d.CustomerID] {
			continue
		}
		waiting[d.CustomerID] = true
		if d.NextTryAt.After(now) {
			continue
		}
		ns, err := s.notificationAt(ctx, w.TenantID, d.Seq)
		if err != nil {
			return false, err
		}
		if len(ns) == 0 { // pruned before it could be delivered
			expired = append(expired, *d)
			continue
		}
		if _, ok := perCustomer[d.CustomerID]; !ok {
			order = append(order, d.CustomerID)
		}
		perCustomer[d.CustomerID] = append(perCustomer[d.CustomerID], job{n: ns[0], d: d})
	}
	var blocked []Notification // new ones behind a customer's queued delivery
	for _, n := range fresh {
		if waiting[n.CustomerID] {
			blocked = append(blocked, n)
			continue
		}
		if _, ok := perCustomer[n.CustomerID]; !ok {
			order = append(order, n.CustomerID)
		}
		perCustomer[n.CustomerID] = append(perCustomer[n.CustomerID], job{n: n})
	}

	// Attempt, customers in parallel (bounded), each customer in order,
	// stopping at its first failure.
	type outcome struct {
		j      job
		res    DeliveryResult
		tried  bool
		at     time.Time
		failed bool
	}
	results := map[string][]outcome{}
	var mu sync.Mutex
	sem := make(chan struct{}, s.webhooks.Parallel)
	var wg sync.WaitGroup
	for _, c := range order {
		jobs := perCustomer[c]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var outs []outcome
			stopped := false
			for _, j := range jobs {
				if stopped || ctx.Err() != nil {
					outs = append(outs, outcome{j: j})
					continue
				}
				at := s.clock()
				res := s.webhooks.Deliver(ctx, w, j.n)
				ok := res.Err == nil
				outs = append(outs, outcome{j: j, res: res, tried: true, at: at, failed: !ok})
				stopped = !ok
			}
			mu.Lock()
			results[c] = outs
			mu.Unlock()
		})
	}
	wg.Wait()
	if ctx.Err() != nil && len(results) == 0 {
		return false, ctx.Err()
	}

	// Record: one transaction, on the webhook as it is now.
	tried := 0
	err = s.store.Update(ctx, func(tx Tx) error {
		tried = 0
		cur, err := tx.Webhook(ctx, w.TenantID, w.ID)
		if isNotFound(err) {
			return nil // deleted meanwhile: nothing to keep
		} else if err != nil {
			return err
		}
		var put []Delivery
		var done []string
		var log []Attempt
		queued := func(n Notification, attempts int, res DeliveryResult, at time.Time) Delivery {
			d := Delivery{TenantID: w.TenantID, WebhookID: w.ID, NotificationID: n.ID, Seq: n.Seq, CustomerID: n.CustomerID,
				Type: n.Type, State: DeliveryPending, Attempts: attempts, FirstTryAt: now, NextTryAt: now}
			if attempts > 0 {
				d.NextTryAt, d.LastStatus, d.LastError = at.Add(s.webhookBackoff(attempts)), res.Status, errText(res)
			}
			return d
		}
		for _, outs := range results {
			for _, o := range outs {
				if o.tried {
					tried++
					log = append(log, Attempt{TenantID: w.TenantID, WebhookID: w.ID,
						NotificationID: o.j.n.ID, Seq: o.j.n.Seq, Type: o.j.n.Type, CustomerID: o.j.n.CustomerID, At: o.at,
						Status: o.res.Status, Error: errText(o.res), Latency: o.res.Latency, Delivered: !o.failed})
				}
				switch {
				case o.j.d != nil && o.tried && !o.failed: // a retry that worked
					done = append(done, o.j.d.NotificationID)
					cur.Delivered++
				case o.j.d != nil && o.tried: // a retry that failed again
					d := *o.j.d
					d.Attempts++
					d.NextTryAt, d.LastStatus, d.LastError = o.at.Add(s.webhookBackoff(d.Attempts)), o.res.Status, errText(o.res)
					if o.at.Sub(d.FirstTryAt) >= s.webhooks.RetryFor {
						d.State = DeliveryFailed
						cur.Failed++
					}
					put = append(put, d)
				case o.j.d != nil: // not reached this round: stays as it is
				case o.tried && !o.failed:
					cur.Delivered++
				case o.tried:
					put = append(put, queued(o.j.n, 1, o.res, o.at))
				default: // behind a failure of its customer this round
					put = append(put, queued(o.j.n, 0, DeliveryResult{}, now))
				}
			}
		}
		for _, n := range blocked {
			put = append(put, queued(n, 0, DeliveryResult{}, now))
		}
		for _, d := range expired {
			d.State, d.LastError = DeliveryFailed, "the notification was pruned before it could be delivered"
			put = append(put, d)
			cur.Failed++
		}
		switch {
		case len(fresh) == webhookBatch:
			cur.Cursor = max(cur.Cursor, fresh[len(fresh)-1].Seq)
		case latest > 0:
			// Every notification this webhook wants up to latest was read
			// (the snapshot that gave latest holds all numbers below it, and
			// the feed every number up to its end):
			// the cursor passes over the ones it does not want, so a
			// webhook of rare types does not rescan the common ones.
			cur.Cursor = max(cur.Cursor, latest)
		}
		if err := tx.PutDeliveries(ctx, put); err != nil {
			return err
		}
		if err := tx.DeleteDeliveries(ctx, w.TenantID, w.ID, done); err != nil {
			return err
		}
		log = attemptsToLog(log)
		for i := range log {
			log[i].Slot = cur.Attempts % attemptRing
			cur.Attempts++
		}
		if err := tx.PutAttempts(ctx, log); err != nil {
			return err
		}
		return tx.PutWebhook(ctx, cur)
	})
	return len(fresh) == webhookBatch || tried > 0, err
}

// attemptsToLog picks, in time order, the attempts of a round that go in
// the webhook's log: every failure, and the last loggedSuccesses
// deliveries. A busy webhook delivers hundreds a second; writing each
// success to the log cost more than posting it, and its counters
// (Delivered) still count every one.
func attemptsToLog(tries []Attempt) []Attempt {
	slices.SortStableFunc(tries, func(a, b Attempt) int { return a.At.Compare(b.At) })
	successes := 0
	for _, a := range tries {
		if a.Delivered {
			successes++
		}
	}
	out := make([]Attempt, 0, min(len(tries), attemptRing))
	for _, a := range tries {
		if a.Delivered {
			if successes--; successes >= loggedSuccesses {
				continue
			}
		}
		out = append(out, a)
	}
	if len(out) > attemptRing { // the older ones' slots would be reused
		out = out[len(out)-attemptRing:]
	}
	return out
}

// notificationAt reads the tenant's notification numbered seq, if it is
// still kept.
func (s *Service) notificationAt(ctx context.Context, tenant string, seq int64) ([]Notification, error) {
	var ns []Notification
	err := s.store.View(ctx, func(r Reader) error {
		var err error
		ns, err = r.Notifications(ctx, tenant, seq-1, nil, 1)
		if len(ns) == 1 && ns[0].Seq != seq {
			ns = nil
		}
		return err
	})
	return ns, err
}

// webhookBackoff is the wait before attempt n+1: its ceiling doubles
// from RetryBase (5 s) to RetryMax (an hour); half of it is waited in any
// case and half drawn at random, so a receiver coming back is not hit by
// every queued delivery in step.
func (s *Service) webhookBackoff(n int) time.Duration {
	ceiling := min(s.webhooks.RetryBase<<min(n-1, 20), s.webhooks.RetryMax)
	return ceiling/2 + rand.N(ceiling/2+1)
}

func errText(r DeliveryResult) string {
	if r.Err == nil {
		return ""
	}
	return r.Err.Error()
}
