package ledger

import (
	"context"
	"time"
)

// Store keeps customers and their events. Backends live under server/store
// and all pass the conformance suite in server/store/storetest.
//
// Update and View take closures so each backend owns begin, commit and
// retry. The closure may run more than once: it must have no effect outside
// the transaction it is handed.
type Store interface {
	// Update runs fn in a serializable read-write transaction and commits
	// it when fn returns nil. Errors: whatever fn returns, ErrUnavailable.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn against a consistent read-only snapshot.
	View(ctx context.Context, fn func(Reader) error) error
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
	// History returns every event of a customer, in no particular order,
	// for replay.
	History(ctx context.Context, tenant, customerID string) ([]Event, error)
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

// Cursor is a position in newest-first event order.
type Cursor struct {
	OccurredAt time.Time
	EventID    string
}
