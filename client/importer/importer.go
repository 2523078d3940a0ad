// Package importer loads history into a goodwilld: events (CSV or JSON
// lines, through RecordEvents in batches) and customer profiles (through
// UpsertCustomer), from a file or a stream, gzip or not, in constant
// memory.
//
// Imports are exactly-once across reruns: a row without an idempotency
// key gets one derived from the row (EventKey), so running the same
// import again after a crash, a Ctrl-C or a network failure replays what
// was recorded and records the rest.
package importer

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// Options tune an import.
type Options struct {
	// Name is the input's file name, to tell its format by extension ("-"
	// or "" for a stream).
	Name string
	// Format is the input's format; "" detects it (Name, then content).
	Format Format
	// BatchSize is events per RecordEvents call (1 to 1,000; default 1,000).
	BatchSize int
	// InFlight is how many calls run at once (default 4).
	InFlight int
	// MaxErrors is how many invalid rows to skip before stopping (default
	// 0: stop at the first, before anything of its batch is written).
	MaxErrors int
	// Namespace keeps the derived keys of two sources apart (EventKey).
	Namespace string
	// Rejects, when set, receives every invalid or conflicting row as CSV:
	// line, column, error, and the row as it was.
	Rejects io.Writer
	// Outage is how long a batch keeps being sent again while the server
	// is unavailable (default 2 minutes), beyond the client's own retries
	// of a call: a server restarting in the middle of an import costs a
	// pause, not a rerun. The keys make sending a batch again safe.
	Outage time.Duration
}

func (o *Options) complete() error {
	if o.BatchSize == 0 {
		o.BatchSize = 1000
	}
	if o.BatchSize < 1 || o.BatchSize > 1000 {
		return fmt.Errorf("batch size %d: want 1 to 1000", o.BatchSize)
	}
	if o.InFlight == 0 {
		o.InFlight = 4
	}
	if o.InFlight < 1 {
		return fmt.Errorf("in-flight %d: want at least 1", o.InFlight)
	}
	if o.Outage == 0 {
		o.Outage = 2 * time.Minute
	}
	if o.MaxErrors < 0 {
		return fmt.Errorf("max errors %d: want 0 or more", o.MaxErrors)
	}
	return nil
}

// Counts is an import's progress, and at the end its summary.
type Counts struct {
	Bytes     int64 // of the input, as stored (compressed if it is)
	Rows      int64 // rows read
	Done      int64 // rows answered by the server, or rejected
	Created   int64
	Replayed  int64 // recorded before: by an earlier run, or an identical row
	Conflicts int64 // a key already held by a different event
	Invalid   int64
}

// Run is one import. Progress may be called from another goroutine while
// it runs.
type Run struct {
	opts                                            Options
	bytes, rows, done, created, replayed, conflicts atomic.Int64
	invalid                                         atomic.Int64
	rejectMu                                        sync.Mutex
	rejects                                         *csv.Writer
	firstInvalid                                    atomic.Pointer[RowError]
}

// New returns an import with opts.
func New(opts Options) (*Run, error) {
	if err := opts.complete(); err != nil {
		return nil, err
	}
	r := &Run{opts: opts}
	if opts.Rejects != nil {
		r.rejects = csv.NewWriter(opts.Rejects)
		_ = r.rejects.Write([]string{"line", "column", "error", "row"})
	}
	return r, nil
}

// Progress is the import's counts so far.
func (r *Run) Progress() Counts {
	return Counts{Bytes: r.bytes.Load(), Rows: r.rows.Load(), Done: r.done.Load(), Created: r.created.Load(),
		Replayed: r.replayed.Load(), Conflicts: r.conflicts.Load(), Invalid: r.invalid.Load()}
}

// ErrTooManyInvalid ends an import that met more invalid rows than
// Options.MaxErrors; the error wraps the first of them (a *RowError).
var ErrTooManyInvalid = errors.New("too many invalid rows")

// reject counts and reports an unusable row. It returns ErrTooManyInvalid
// once the rows rejected as invalid pass MaxErrors.
func (r *Run) reject(e *RowError, invalid bool) error {
	if r.rejects != nil {
		r.rejectMu.Lock()
		_ = r.rejects.Write([]string{strconv.Itoa(e.Line), e.Column, e.Message, e.Raw})
		r.rejects.Flush()
		r.rejectMu.Unlock()
	}
	r.done.Add(1)
	if !invalid {
		r.conflicts.Add(1)
		return nil
	}
	r.firstInvalid.CompareAndSwap(nil, e)
	if n := r.invalid.Add(1); n > int64(r.opts.MaxErrors) {
		return fmt.Errorf("%w (more than %d): first %w", ErrTooManyInvalid, r.opts.MaxErrors, r.firstInvalid.Load())
	}
	return nil
}

// EventRecorder is the call an event import makes: a *client.Client, or
// the generated client.
type EventRecorder interface {
	RecordEvents(ctx context.Context, in *goodwillv1.RecordEventsRequest, opts ...grpc.CallOption) (*goodwillv1.RecordEventsResponse, error)
}

// CustomerWriter is the call a customer import makes.
type CustomerWriter interface {
	UpsertCustomer(ctx context.Context, in *goodwillv1.UpsertCustomerRequest, opts ...grpc.CallOption) (*goodwillv1.UpsertCustomerResponse, error)
}

// Events imports events from in.
func (r *Run) Events(ctx context.Context, rec EventRecorder, in io.Reader) (Counts, error) {
	src, format, err := open(countingReader{in, &r.bytes}, r.opts.Name, r.opts.Format)
	if err != nil {
		return r.Progress(), err
	}
	var rows rowReader[*goodwillv1.Event]
	if format == JSONL {
		rows = newJSONRows(src, func() *goodwillv1.Event { return &goodwillv1.Event{} })
	} else if rows, err = newCSVRows(src, eventColumns, eventRequired, parseEventCSV); err != nil {
		return r.Progress(), err
	}
	keyed := func(rw *row[*goodwillv1.Event]) {
		if rw.msg.GetIdempotencyKey() == "" {
			rw.msg.IdempotencyKey = EventKey(r.opts.Namespace, rw.line, rw.msg)
		}
	}
	err = pump(ctx, r, rows, r.opts.BatchSize, (*goodwillv1.Event).GetCustomerId, keyed, func(ctx context.Context, batch []row[*goodwillv1.Event]) error {
		return r.recordBatch(ctx, rec, batch)
	})
	return r.Progress(), err
}

// Customers imports customer profiles from in, one UpsertCustomer a row.
func (r *Run) Customers(ctx context.Context, w CustomerWriter, in io.Reader) (Counts, error) {
	src, format, err := open(countingReader{in, &r.bytes}, r.opts.Name, r.opts.Format)
	if err != nil {
		return r.Progress(), err
	}
	var rows rowReader[*goodwillv1.Customer]
	if format == JSONL {
		rows = newJSONRows(src, func() *goodwillv1.Customer { return &goodwillv1.Customer{} })
	} else if rows, err = newCSVRows(src, customerColumns, []string{"customer_id"}, parseCustomerCSV); err != nil {
		return r.Progress(), err
	}
	err = pump(ctx, r, rows, 1, (*goodwillv1.Customer).GetCustomerId, nil, func(ctx context.Context, batch []row[*goodwillv1.Customer]) error {
		rw := batch[0]
		_, err := call(r, ctx, func() (*goodwillv1.UpsertCustomerResponse, error) {
			return w.UpsertCustomer(ctx, &goodwillv1.UpsertCustomerRequest{CustomerId: rw.msg.GetCustomerId(), Customer: rw.msg})
		})
		if bad := violations(err, ""); len(bad) > 0 {
			return r.reject(&RowError{Line: rw.line, Column: bad[0].field, Message: bad[0].message, Raw: rw.raw}, true)
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", rw.line, err)
		}
		r.done.Add(1)
		r.created.Add(1)
		return nil
	})
	return r.Progress(), err
}

// pump reads rows, rejects the unparsable ones, and hands batches of size
// to send, InFlight at a time. Each customer's rows go to one sender (by
// a hash of customer), which sends its batches one after another: a
// customer's events reach the server in the file's order, which the
// ledger applies as they come (an event older than the customer's last
// one costs a replay of its history). pump stops reading at the first
// error; the batches already read still go out when the error is a row's
// (they hold earlier rows), and are abandoned when it is a call's.
func pump[M proto.Message](parent context.Context, r *Run, rows rowReader[M], size int, customer func(M) string,
	prepare func(*row[M]), send func(context.Context, []row[M]) error) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var sendErr error
	var once sync.Once
	fail := func(err error) {
		once.Do(func() { sendErr = err; cancel() })
	}
	queues := make([]chan []row[M], r.opts.InFlight)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan []row[M], 1)
		wg.Go(func() {
			for b := range queues[i] {
				if ctx.Err() != nil {
					continue
				}
				if err := send(ctx, b); err != nil {
					fail(err)
				}
			}
		})
	}
	batches := make([][]row[M], len(queues))
	put := func(q int) bool {
		select {
		case queues[q] <- batches[q]:
			batches[q] = nil
			return true
		case <-ctx.Done():
			return false
		}
	}
	readErr := func() error {
		defer func() {
			for _, q := range queues {
				close(q)
			}
		}()
		for {
			rw, err := rows.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("read: %w", err)
			}
			r.rows.Add(1)
			if rw.err != nil {
				if err := r.reject(rw.err, true); err != nil {
					return err
				}
				continue
			}
			if prepare != nil {
				prepare(&rw)
			}
			q := sender(customer(rw.msg), len(queues))
			if batches[q] == nil {
				batches[q] = make([]row[M], 0, size)
			}
			batches[q] = append(batches[q], rw)
			if len(batches[q]) == size && !put(q) {
				return nil
			}
		}
		for q := range batches {
			if len(batches[q]) > 0 && !put(q) {
				return nil
			}
		}
		return nil
	}()
	wg.Wait()
	switch {
	case parent.Err() != nil: // the caller's end (Ctrl-C), not a failure of a call it cancelled
		return parent.Err()
	case sendErr != nil:
		return sendErr
	case readErr != nil:
		return readErr
	}
	return ctx.Err()
}

// sender is the sender of a customer's rows: a stable spread of customer
// ids over n senders.
func sender(customer string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(customer))
	return int(h.Sum32() % uint32(n))
}

// call runs fn until it succeeds, fails for a reason other than the
// server's absence, or the server has been away for Options.Outage.
func call[T any](r *Run, ctx context.Context, fn func() (T, error)) (T, error) {
	var first time.Time
	wait := 250 * time.Millisecond
	for {
		out, err := fn()
		switch status.Code(err) {
		case codes.Unavailable, codes.DeadlineExceeded:
		default:
			return out, err
		}
		if first.IsZero() {
			first = time.Now()
		}
		if ctx.Err() != nil || time.Since(first)+wait > r.opts.Outage {
			return out, err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return out, ctx.Err()
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// recordBatch records batch, taking out the rows the server finds invalid
// (RecordEvents writes all of a batch or nothing) and sending the rest
// again.
func (r *Run) recordBatch(ctx context.Context, rec EventRecorder, batch []row[*goodwillv1.Event]) error {
	for len(batch) > 0 {
		events := make([]*goodwillv1.Event, len(batch))
		for i, rw := range batch {
			events[i] = rw.msg
		}
		resp, err := call(r, ctx, func() (*goodwillv1.RecordEventsResponse, error) {
			return rec.RecordEvents(ctx, &goodwillv1.RecordEventsRequest{Events: events})
		})
		if err == nil {
			for _, res := range resp.GetResults() {
				i := int(res.GetIndex())
				if i < 0 || i >= len(batch) {
					return fmt.Errorf("the server answered for item %d of a batch of %d", i, len(batch))
				}
				switch res.GetOutcome() {
				case goodwillv1.RecordOutcome_RECORD_OUTCOME_CREATED:
					r.created.Add(1)
					r.done.Add(1)
				case goodwillv1.RecordOutcome_RECORD_OUTCOME_REPLAYED:
					r.replayed.Add(1)
					r.done.Add(1)
				default:
					rw := batch[i]
					if err := r.reject(&RowError{Line: rw.line, Column: "idempotency_key", Message: res.GetError(), Raw: rw.raw}, false); err != nil {
						return err
					}
				}
			}
			return nil
		}
		bad := violations(err, "events")
		if len(bad) == 0 {
			return fmt.Errorf("lines %d to %d: %w", batch[0].line, batch[len(batch)-1].line, err)
		}
		drop := map[int]bool{}
		for _, v := range bad {
			if v.index < 0 || v.index >= len(batch) || drop[v.index] {
				continue
			}
			drop[v.index] = true
			rw := batch[v.index]
			if err := r.reject(&RowError{Line: rw.line, Column: v.field, Message: v.message, Raw: rw.raw}, true); err != nil {
				return err
			}
		}
		if len(drop) == 0 {
			return fmt.Errorf("lines %d to %d: %w", batch[0].line, batch[len(batch)-1].line, err)
		}
		kept := batch[:0:0]
		for i, rw := range batch {
			if !drop[i] {
				kept = append(kept, rw)
			}
		}
		batch = kept
	}
	return nil
}

// violation is one field the server refused.
type violation struct {
	index   int    // the item of a repeated field; -1 for none
	field   string // the field inside the item, as a column name
	message string
}

// itemField splits "events[12].occurred_at" into 12 and "occurred_at".
var itemField = regexp.MustCompile(`^(\w+)\[(\d+)\]\.?(.*)$`)

// violations reads an INVALID_ARGUMENT's field violations (the API names
// each field in a google.rpc.BadRequest). With list set, only those inside
// list's items count, by item; otherwise every one, at index -1.
func violations(err error, list string) []violation {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		return nil
	}
	var out []violation
	for _, d := range st.Details() {
		br, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		for _, fv := range br.GetFieldViolations() {
			if list == "" {
				field := fv.GetField()
				if _, after, ok := cutPrefixDot(field, "customer"); ok {
					field = after
				}
				out = append(out, violation{index: -1, field: field, message: fv.GetDescription()})
				continue
			}
			m := itemField.FindStringSubmatch(fv.GetField())
			if m == nil || m[1] != list {
				continue
			}
			i, _ := strconv.Atoi(m[2])
			field := m[3]
			if field == "" {
				field = "(row)"
			}
			out = append(out, violation{index: i, field: field, message: fv.GetDescription()})
		}
	}
	if list == "" && len(out) == 0 {
		out = append(out, violation{index: -1, message: st.Message()})
	}
	return out
}

func cutPrefixDot(s, prefix string) (string, string, bool) {
	if len(s) > len(prefix)+1 && s[:len(prefix)] == prefix && s[len(prefix)] == '.' {
		return prefix, s[len(prefix)+1:], true
	}
	return "", s, false
}

// EventKey is the idempotency key of an imported row that has none: a hash
// of the namespace, the row's line and the event it describes. Running the
// same file again gives every row the key it had, so the server replays
// what it has already recorded and records the rest. A row whose content
// changed between runs gets a new key: it is recorded again, next to its
// earlier version (reverse that one). Rows moved to other lines are new
// rows too; to add history, append to a file or import a new one. Two
// files with the same row on the same line, in the same namespace, hold
// one event: give each source its own namespace to keep them apart.
func EventKey(namespace string, line int, e *goodwillv1.Event) string {
	content := proto.Clone(e).(*goodwillv1.Event)
	content.IdempotencyKey = ""
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(content)
	h := sha256.New()
	fmt.Fprintf(h, "goodwill import v1\x00%s\x00%d\x00", namespace, line)
	h.Write(b)
	return "import-" + hex.EncodeToString(h.Sum(nil))[:32]
}
