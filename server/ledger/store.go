package ledger

import (
	"context"
	"time"
)

// WriteNumberer is a Store whose write transactions number the
// notifications they write (Tx.AppendNotifications) and that tells the
// highest number its committed transactions gave in this process. After
// each write the ledger then wakes the stream's readers with that number
// at once, instead of a sequencing pass (a read transaction) that would
// find nothing to number. ok is false where the store leaves numbering to
// the sequencer (CockroachDB).
type WriteNumberer interface {
	NumberedAtWrite() (last int64, ok bool)
}

// ReadAheader is a Tx that can make a write batch's first reads at once:
// the tenant's active policy, the batch's customers and the events that
// hold its idempotency keys. A store across the network sends them in
// one round trip instead of three; ActivePolicy, CustomersByID and
// EventsByKeys, called next with the same arguments, answer from what it
// read. The reads are the same ones, in the same order, so what the
// transaction sees does not change.
type ReadAheader interface {
	ReadAhead(ctx context.Context, tenant string, ids []string, keys []CustomerKey) error
}

// Store keeps customers and their events. Backends live under server/store
// and all pass the conformance suite in server/store/storetest.
//
// Update and View take closures so each backend owns begin, commit and
// retry. The closure may run more than once (a backend reruns it in a new
// transaction when the server aborts one; ViewStale may rerun it as an
// exact read): it must have no effect outside the transaction it is
// handed, and results it gathers outside itself are reset at its top
// (TestReadsSurviveARerun runs every read twice).
type Store interface {
	// Update runs fn in a serializable read-write transaction and commits
	// it when fn returns nil. Errors: whatever fn returns, ErrUnavailable.
	Update(ctx context.Context, fn func(Tx) error) error
	// UpdateCustomers is Update for the writes of events (the group-commit
	// batch, RecordEvents): closures that read the tenant's active policy,
	// then customers through Customer or CustomersByID, and only then
	// those customers' events, and that write only those customers and
	// their events and notifications. A store may run it at a weaker
	// isolation than Update, so that writers of different customers
	// neither wait for nor abort each other, provided it keeps the same
	// guarantees against every other transaction: no lost or doubled
	// write of a customer, and no write under a policy that has since
	// been replaced (TestConformance's ConcurrentCustomerWriters and
	// PolicyWaitsForWriters). PostgreSQL runs it at READ
	// COMMITTED, writing a customer only where its row is still the
	// version the transaction read; the others run Update.
	UpdateCustomers(ctx context.Context, fn func(Tx) error) error
	// View runs fn against a consistent read-only snapshot.
	View(ctx context.Context, fn func(Reader) error) error
	// ViewStale is View on a snapshot that may be a few seconds old, for
	// analyst reads that tolerate it: on CockroachDB a follower read (AS OF
	// SYSTEM TIME follower_read_timestamp()), served by the nearest replica
	// without contending with writes. Other backends run View.
	ViewStale(ctx context.Context, fn func(Reader) error) error
	// Lookup reads one customer and the tenant's active policy version
	// (NeverInstalled when it never installed one) in a single statement, outside any
	// transaction: a single statement is its own snapshot, so this is
	// GetBalance's one round trip. Errors: ErrNotFound.
	Lookup(ctx context.Context, tenant, customerID string) (c Customer, activeVersion int64, err error)
	// Close releases the store. It waits for no transaction.
	Close() error
}

// Reader is the read half of a transaction.
type Reader interface {
	// Customer returns one customer. Errors: ErrNotFound.
	Customer(ctx context.Context, tenant, customerID string) (Customer, error)
	// Event returns one event with ReversedByEventID filled in.
	// Errors: ErrNotFound.
	Event(ctx context.Context, tenant, customerID, eventID string) (Event, error)
	// EventByKey returns the event holding an idempotency key, with
	// ReversedByEventID filled in.
	// Errors: ErrNotFound.
	EventByKey(ctx context.Context, tenant, customerID, key string) (Event, error)
	// Events lists a customer's events newest first (occurred_at, then id,
	// both descending), with ReversedByEventID filled in.
	Events(ctx context.Context, tenant, customerID string, q EventQuery) ([]Event, error)
	// TenantEvents pages through a tenant's events in export order:
	// customer id, then OccurredAt, then id, all ascending (the order of
	// the events_by_time index, so a page is one bounded walk of it), with
	// ReversedByEventID filled in as it stands now.
	TenantEvents(ctx context.Context, tenant string, q TenantEventQuery) ([]Event, error)
	// History returns every event of a customer, in no particular order,
	// for replay.
	History(ctx context.Context, tenant, customerID string) ([]Event, error)
	// IncidentEvent returns one event of the given kind that RecordIncident
	// wrote for the incident, for any customer, with this fingerprint (any
	// when fingerprint is ""). Errors: ErrNotFound.
	IncidentEvent(ctx context.Context, tenant, incidentID string, kind Kind, fingerprint string) (Event, error)

	// Customers returns up to limit customers with ids after after, in id
	// order (recompute jobs and summaries walk the table with it).
	Customers(ctx context.Context, tenant, after string, limit int) ([]Customer, error)
	// CountCustomers counts a tenant's customers.
	CountCustomers(ctx context.Context, tenant string) (int64, error)
	// Ranked lists customers in the order of one of the stored ranking keys,
	// from an index.
	Ranked(ctx context.Context, tenant string, q RankQuery) ([]Customer, error)

	// Tenants lists every tenant that has a customer row or an event, in
	// order (Verify walks them).
	Tenants(ctx context.Context) ([]string, error)
	// CountEvents counts a tenant's events whose customer id is after after
	// and at most through, in the order Customers walks ids; through ""
	// means no upper bound. Verify compares it with the events of the
	// customer rows in that range, which finds events without a row.
	CountEvents(ctx context.Context, tenant, after, through string) (int64, error)

	// ActivePolicy returns the tenant's active policy. Errors: ErrNotFound
	// when none was ever installed (the built-in version 1 applies).
	ActivePolicy(ctx context.Context, tenant string) (StoredPolicy, error)
	// Policy returns one installed version. Errors: ErrNotFound.
	Policy(ctx context.Context, tenant string, version int64) (StoredPolicy, error)
	// Job returns a recompute job. Errors: ErrNotFound.
	Job(ctx context.Context, tenant, id string) (Job, error)
	// JobsInState returns every job in one state, of every tenant, oldest
	// first (the recompute worker looks for running ones, and at start for
	// failed ones to resume).
	JobsInState(ctx context.Context, state JobState) ([]Job, error)
	// LatestJob returns the tenant's most recently started recompute job.
	// Errors: ErrNotFound when the tenant never installed a policy.
	LatestJob(ctx context.Context, tenant string) (Job, error)

	// Notifications returns up to limit sequenced notifications with Seq
	// after after, in Seq order: the tenant's, or every tenant's when tenant
	// is ""; only the listed types when types is not empty.
	Notifications(ctx context.Context, tenant string, after int64, types []NotificationType, limit int) ([]Notification, error)
	// NotificationSeq returns the last Seq given, of every tenant (0
	// before any).
	NotificationSeq(ctx context.Context) (int64, error)
	// PrunedThrough returns the highest Seq retention has deleted of the
	// tenant's notifications (of every tenant's when tenant is ""; 0
	// before any): a cursor below it may have missed some.
	PrunedThrough(ctx context.Context, tenant string) (int64, error)
	// UnsequencedNotifications returns up to limit notifications that have
	// no Seq yet, of every tenant, ordered by tenant, then customer and
	// CustomerSeq, then the tenant's own (no customer), so any prefix of
	// the answer keeps each customer's order and a tenant's notification
	// follows the customers' written before or with it.
	UnsequencedNotifications(ctx context.Context, limit int) ([]NotificationRef, error)

	// TrendPoints returns the tenant's daily summary snapshots of one
	// segment (or of everyone, q.Overall) from q.Start to q.End, both
	// days included, in day order.
	TrendPoints(ctx context.Context, tenant string, q TrendQuery) ([]TrendPoint, error)
	// LatestTrendDay returns the last day the tenant has a snapshot of.
	// Errors: ErrNotFound when it has none.
	LatestTrendDay(ctx context.Context, tenant string) (time.Time, error)

	// Webhook returns one webhook. Errors: ErrNotFound.
	Webhook(ctx context.Context, tenant, id string) (Webhook, error)
	// Webhooks returns the tenant's webhooks, in id order.
	Webhooks(ctx context.Context, tenant string) ([]Webhook, error)
	// PendingDeliveries returns a webhook's queued deliveries (pending and
	// failed), in Seq order, up to limit.
	PendingDeliveries(ctx context.Context, tenant, webhookID string, limit int) ([]Delivery, error)
	// Attempts returns a webhook's latest attempts, newest first, up to
	// limit.
	Attempts(ctx context.Context, tenant, webhookID string, limit int) ([]Attempt, error)
}

// Tx is a read-write transaction.
type Tx interface {
	Reader
	// PutCustomer inserts or replaces a customer row (profile and state).
	PutCustomer(ctx context.Context, c Customer) error
	// AppendEvent inserts an event. Events are never updated or deleted.
	// Errors: ErrDuplicate when the idempotency key, or the reversal of the
	// same event, is already stored.
	AppendEvent(ctx context.Context, e Event) error
	// CustomersByID returns the tenant's customers with these ids, keyed by
	// id; ids with no customer are absent. The batch write path reads a
	// whole batch's customers with it in one go.
	CustomersByID(ctx context.Context, tenant string, ids []string) (map[string]Customer, error)
	// Histories returns the whole history of each of these customers (as
	// History does), keyed by id; customers without events are absent.
	// The batch write path reads the histories its replays need in one go.
	Histories(ctx context.Context, tenant string, ids []string) (map[string][]Event, error)
	// EventsByKeys returns the events holding these idempotency keys, keyed
	// by (customer, key); keys with no event are absent.
	EventsByKeys(ctx context.Context, tenant string, keys []CustomerKey) (map[CustomerKey]Event, error)
	// AppendEvents inserts events, in one statement where the backend can.
	// Errors: as AppendEvent.
	AppendEvents(ctx context.Context, events []Event) error
	// PutCustomers inserts or replaces customer rows, like PutCustomer.
	PutCustomers(ctx context.Context, cs []Customer) error
	// PutPolicy stores a new policy version and makes it the active one.
	// Errors: ErrDuplicate when the version exists.
	PutPolicy(ctx context.Context, tenant string, p StoredPolicy) error
	// PutJob inserts or replaces a recompute job.
	PutJob(ctx context.Context, j Job) error

	// AppendNotifications inserts notifications, unsequenced (Seq 0); a
	// backend whose write transactions commit in the order they take
	// numbers (SQLite's single writer; PostgreSQL, which numbers under a
	// lock held to COMMIT) may number them in the writing transaction
	// instead, in the order UnsequencedNotifications would give, so a
	// reader's cursor still skips nothing.
	AppendNotifications(ctx context.Context, ns []Notification) error
	// SequenceNotifications gives each notification its Seq.
	SequenceNotifications(ctx context.Context, refs []NotificationRef) error
	// PutNotificationSeq records the last Seq given (NotificationSeq
	// reads it). The sequencer reads and writes it in the transaction that
	// numbers notifications: that row is what makes two sequencers (two
	// replicas) take turns.
	PutNotificationSeq(ctx context.Context, seq int64) error
	// DueCustomers returns up to limit customers, of every tenant, whose
	// Watch.DueAt is set and not after until, earliest first.
	DueCustomers(ctx context.Context, until time.Time, limit int) ([]Customer, error)
	// PruneNotifications deletes up to limit sequenced notifications
	// created before before, and returns how many it deleted.
	// It raises each tenant's PrunedThrough to the highest Seq it deleted.
	PruneNotifications(ctx context.Context, before time.Time, limit int) (int64, error)

	// PutTrendPoints inserts daily snapshots, replacing any of the same
	// tenant, segment (or overall) and day.
	PutTrendPoints(ctx context.Context, tenant string, ps []TrendPoint) error

	// PutWebhook inserts or replaces a webhook.
	PutWebhook(ctx context.Context, w Webhook) error
	// DeleteWebhook deletes a webhook with its queue and its attempt log.
	// Errors: ErrNotFound.
	DeleteWebhook(ctx context.Context, tenant, id string) error
	// ClaimWebhooks leases to owner, until until, up to limit webhooks of
	// every tenant whose lease has ended by now or is owner's already, and
	// returns them (leases set).
	ClaimWebhooks(ctx context.Context, owner string, now, until time.Time, limit int) ([]Webhook, error)
	// PutDeliveries inserts or replaces queued deliveries, and
	// DeleteDeliveries removes delivered ones, by notification id.
	PutDeliveries(ctx context.Context, ds []Delivery) error
	DeleteDeliveries(ctx context.Context, tenant, webhookID string, notificationIDs []string) error
	// PutAttempts writes attempts into their webhooks' logs, each in its
	// Slot (replacing what the slot held); no two share a slot.
	PutAttempts(ctx context.Context, as []Attempt) error
	// ClaimCursor leases a named consumer of every tenant's notifications
	// (the NATS publisher) to owner until until, if its lease has ended
	// by now or is owner's, and returns where it stands; ok is false when
	// another owner holds it. PutCursor moves it.
	ClaimCursor(ctx context.Context, name, owner string, now, until time.Time) (seq int64, ok bool, err error)
	PutCursor(ctx context.Context, name string, seq int64) error
	// ClaimLease leases the named job, which one replica at a time should
	// run, to owner until until, unless another owner's lease lasts past
	// now; ok is false when it does. The holder claims again to extend
	// its lease. ReleaseLease ends owner's lease, if it holds it.
	ClaimLease(ctx context.Context, name, owner string, now, until time.Time) (ok bool, err error)
	ReleaseLease(ctx context.Context, name, owner string) error
}

// NotificationRef names a notification for the sequencer.
type NotificationRef struct {
	TenantID    string
	ID          string
	CustomerID  string
	CustomerSeq int64
	Seq         int64
}

// CustomerKey names an idempotency key within a tenant.
type CustomerKey struct {
	CustomerID string
	Key        string
}

// StoredPolicy is a policy version as the store keeps it: the body is the
// domain's own encoding (EncodePolicy), opaque to the store.
type StoredPolicy struct {
	Version   int64
	Body      []byte
	CreatedAt time.Time
}

// RankIndex names a stored ranking key.
type RankIndex int

const (
	// ByBalance orders by Keys.Rank (balance), optionally within a segment.
	ByBalance RankIndex = iota + 1
	// ByRecovery orders by Keys.Recovery; customers without one are absent.
	ByRecovery
	// ByAdvocacy orders by Keys.Advocacy; customers without one are absent.
	ByAdvocacy
)

// RankQuery pages through one ranking index.
type RankQuery struct {
	Index RankIndex
	// Segment keeps one segment (ByBalance only); "" keeps all.
	Segment string
	// Desc walks the key from highest to lowest.
	Desc bool
	// Min and Max bound the key, inclusive (ByBalance only).
	Min, Max *float64
	// After continues after a (key, customer id) position in walk order.
	After *RankCursor
	Limit int
}

// RankCursor is a position in a ranking.
type RankCursor struct {
	Key        float64
	CustomerID string
}

// EventQuery filters and pages Reader.Events.
type EventQuery struct {
	// Kinds keeps only these kinds; empty keeps all.
	Kinds []Kind
	// Start keeps events with OccurredAt >= Start (zero: no bound).
	Start time.Time
	// End keeps events with OccurredAt < End (zero: no bound).
	End time.Time
	// After, when set, keeps only events strictly after this cursor in
	// newest-first order.
	After *Cursor
	// Limit caps the number of events returned; it must be positive.
	Limit int
}

// TenantEventQuery filters and pages Reader.TenantEvents.
type TenantEventQuery struct {
	// Segment keeps the events of customers whose profile is in this
	// segment now; "" keeps all.
	Segment string
	// Kinds keeps only these kinds; empty keeps all.
	Kinds []Kind
	// Start and End keep events with Start <= OccurredAt < End (zero: no
	// bound).
	Start, End time.Time
	// RecordedThrough keeps events with RecordedAt <= RecordedThrough
	// (zero: no bound).
	RecordedThrough time.Time
	// After, when set, keeps only events strictly after this position.
	After *ExportCursor
	// ThroughCustomer keeps only the events of customers whose id sorts
	// at or before it ("": no bound). A walk that knows its page of
	// customers bounds its read of their events: the database then reads
	// that key range even when its statistics are stale (after a bulk
	// load, PostgreSQL planned the unbounded read as a sort of the whole
	// tenant, for every page).
	ThroughCustomer string
	// Limit caps the number of events returned; it must be positive.
	Limit int
}

// ExportCursor is a position in export order.
type ExportCursor struct {
	CustomerID string
	OccurredAt time.Time
	EventID    string
}

// Cursor is a position in newest-first event order.
type Cursor struct {
	OccurredAt time.Time
	EventID    string
}

// NeverInstalled is the active version Lookup reports for a tenant that
// never installed a policy; ActivePolicy reports the same state as
// ErrNotFound. Either way the Service applies its built-in version 1, in
// one place (Service.active and Service.activeVersion).
const NeverInstalled int64 = 0
