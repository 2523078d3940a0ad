package app

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// tracedStore gives every store transaction a span, whichever backend runs
// it: the decorator sits between the Service and the store, where each
// transaction is one call (Update, UpdateCustomers, View, ViewStale) and
// the backend's reruns are calls of the closure it is handed.
//
// Only transactions inside a trace get a span: a call's, or a group-commit
// batch's (batchContext). The Service's background work (the notification
// sequencer, webhook rounds, recompute jobs) runs many small transactions
// on timers; as root spans they would bury the calls' traces.
type tracedStore struct {
	ledger.Store
	tracer trace.Tracer
	system attribute.KeyValue
}

// Attributes of a store span beyond db.system.name.
const (
	// attrAttempts counts the runs of the transaction's closure: 1, or more
	// when the store retried it (a serialization failure, a busy SQLite).
	attrAttempts = attribute.Key("goodwill.store.attempts")
	// attrBatchSize is the number of calls a group-commit transaction
	// serves (also on the transactions that retry them one by one, when
	// the batch's failed).
	attrBatchSize = attribute.Key("goodwill.group_commit.batch_size")
	// attrErrorClass names the domain error a transaction ended with (not
	// a store failure, so the span's status stays unset).
	attrErrorClass = attribute.Key("goodwill.error_class")
)

// store returns st with a span per transaction (st itself when tracing is
// off). Backends that can say which server they talk to (PostgreSQL or
// CockroachDB) name it; anything else is the embedded SQLite store.
func (t *tracing) store(st ledger.Store) ledger.Store {
	if t == nil {
		return st
	}
	system := "sqlite"
	if s, ok := st.(interface{ Server() string }); ok {
		system = s.Server()
	}
	return &tracedStore{Store: st, tracer: t.tracer, system: attribute.String("db.system.name", system)}
}

// NumberedAtWrite passes ledger.WriteNumberer through, so that with
// tracing on the writer still tells the stream's readers its numbers
// itself instead of waking the sequencer.
func (s *tracedStore) NumberedAtWrite() (int64, bool) {
	if n, ok := s.Store.(ledger.WriteNumberer); ok {
		return n.NumberedAtWrite()
	}
	return 0, false
}

func (s *tracedStore) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	return traced(s, ctx, "store.Update", s.Store.Update, fn)
}

func (s *tracedStore) UpdateCustomers(ctx context.Context, fn func(ledger.Tx) error) error {
	return traced(s, ctx, "store.UpdateCustomers", s.Store.UpdateCustomers, fn)
}

func (s *tracedStore) View(ctx context.Context, fn func(ledger.Reader) error) error {
	return traced(s, ctx, "store.View", s.Store.View, fn)
}

func (s *tracedStore) ViewStale(ctx context.Context, fn func(ledger.Reader) error) error {
	return traced(s, ctx, "store.ViewStale", s.Store.ViewStale, fn)
}

// Lookup is a single statement, not a transaction, but it is GetBalance's
// one round trip to the store: it gets a span too.
func (s *tracedStore) Lookup(ctx context.Context, tenant, customerID string) (c ledger.Customer, v int64, err error) {
	ctx, span, ok := s.start(ctx, "store.Lookup")
	if !ok {
		return s.Store.Lookup(ctx, tenant, customerID)
	}
	defer func() { endStoreSpan(span, err) }()
	return s.Store.Lookup(ctx, tenant, customerID)
}

// traced runs one transaction of the store in a span, counting the runs
// of its closure.
func traced[T any](s *tracedStore, ctx context.Context, name string,
	run func(context.Context, func(T) error) error, fn func(T) error) (err error) {
	ctx, span, ok := s.start(ctx, name)
	if !ok {
		return run(ctx, fn)
	}
	// The closure's runs are sequential (a rerun starts after the last run
	// ended), and all end before run returns: no lock needed.
	attempts := 0
	defer func() {
		span.SetAttributes(attrAttempts.Int(attempts))
		endStoreSpan(span, err)
	}()
	return run(ctx, func(tx T) error {
		attempts++
		return fn(tx)
	})
}

// start opens a store span when ctx is inside a recorded trace; ok is
// false (and ctx unchanged) otherwise, and the caller runs untraced.
func (s *tracedStore) start(ctx context.Context, name string) (context.Context, trace.Span, bool) {
	if !trace.SpanContextFromContext(ctx).IsSampled() {
		return ctx, nil, false
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(s.system)}
	if b, _ := ctx.Value(batchKey{}).(*batchTrace); b != nil {
		opts = append(opts, trace.WithAttributes(attrBatchSize.Int(b.size)), trace.WithLinks(b.links...))
	}
	ctx, span := s.tracer.Start(ctx, name, opts...)
	if !span.IsRecording() {
		span.End()
		return ctx, nil, false
	}
	return ctx, span, true
}

// endStoreSpan ends a store span with what the transaction returned. The
// domain's own errors (not found, a conflicting key...) are answers, not
// store failures: they are named, and only the rest mark the span failed.
func endStoreSpan(span trace.Span, err error) {
	if err != nil {
		if class := domainClass(err); class != "" {
			span.SetAttributes(attrErrorClass.String(class))
		} else {
			span.SetStatus(otelcodes.Error, err.Error())
		}
	}
	span.End()
}

// domainClass names err's domain error class, or "" for a store failure
// (ErrUnavailable, or an error of no class).
func domainClass(err error) string {
	for _, c := range []struct {
		err  error
		name string
	}{
		{ledger.ErrNotFound, "not_found"}, {ledger.ErrConflict, "conflict"},
		{ledger.ErrInvalidArgument, "invalid_argument"}, {ledger.ErrFailedPrecondition, "failed_precondition"},
		{ledger.ErrDuplicate, "duplicate"},
	} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	return ""
}

// batchKey holds a group-commit batch's *batchTrace in its context.
type batchKey struct{}

// batchTrace is what the span of a batch's transaction needs from the
// calls the batch serves.
type batchTrace struct {
	size  int
	links []trace.Link
}

// batchContext (ledger.Options.BatchContext) puts a group-commit batch's
// transaction into its callers' traces. A span has one parent: the first
// caller whose trace is recorded (so with one caller, the usual case under
// light load, the transaction is simply its child); every other recorded
// caller gets a link, through which its trace finds the transaction.
func (t *tracing) batchContext() func(ctx context.Context, callers []context.Context) context.Context {
	if t == nil {
		return nil
	}
	return func(ctx context.Context, callers []context.Context) context.Context {
		var parent trace.SpanContext
		var links []trace.Link
		for _, c := range callers {
			if c == nil {
				continue
			}
			switch sc := trace.SpanContextFromContext(c); {
			case !sc.IsSampled():
			case !parent.IsValid():
				parent = sc
			default:
				links = append(links, trace.Link{SpanContext: sc})
			}
		}
		if !parent.IsValid() {
			return ctx // no caller is traced: neither is the batch
		}
		ctx = trace.ContextWithSpanContext(ctx, parent)
		return context.WithValue(ctx, batchKey{}, &batchTrace{size: len(callers), links: links})
	}
}
