// Package exporter writes what the ledger holds (events, balances,
// customer profiles) as CSV, JSON lines or Parquet, one message at a time,
// so an export of any size streams in constant memory.
package exporter

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// Format is an export's file format.
type Format string

const (
	CSV     Format = "csv"
	JSONL   Format = "jsonl"
	Parquet Format = "parquet"
)

// ParseFormat reads a --format value; "" takes it from the file name
// (CSV when that says nothing).
func ParseFormat(s, name string) (Format, error) {
	switch strings.ToLower(s) {
	case "csv":
		return CSV, nil
	case "jsonl", "ndjson", "json":
		return JSONL, nil
	case "parquet":
		return Parquet, nil
	case "":
		switch lower := strings.ToLower(name); {
		case strings.HasSuffix(lower, ".parquet"):
			return Parquet, nil
		case strings.HasSuffix(lower, ".jsonl"), strings.HasSuffix(lower, ".ndjson"):
			return JSONL, nil
		}
		return CSV, nil
	}
	return "", fmt.Errorf("format %q: want csv, jsonl or parquet", s)
}

// Writer writes one kind of message (M) in one format.
type Writer[M proto.Message] interface {
	Write(M) error
	// Close flushes what is buffered (Parquet's footer); it does not close
	// the underlying io.Writer.
	Close() error
}

// table says how a message becomes a row: its Parquet row type R, and
// the CSV header and cells (the same columns, in the same order).
type table[M proto.Message, R any] struct {
	header []string
	row    func(M) R
	cells  func(R) []string
}

// New returns a writer of M to w in format f; t is one of Events,
// Balances or Customers.
func newWriter[M proto.Message, R any](w io.Writer, f Format, t table[M, R]) (Writer[M], error) {
	switch f {
	case CSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(t.header); err != nil {
			return nil, err
		}
		return &csvWriter[M, R]{w: cw, t: t}, nil
	case JSONL:
		return &jsonWriter[M]{w: bufio.NewWriterSize(w, 64<<10)}, nil
	case Parquet:
		return &parquetWriter[M, R]{w: parquet.NewGenericWriter[R](w, parquet.Compression(&parquet.Zstd)), t: t,
			buf: make([]R, 0, parquetRows)}, nil
	}
	return nil, fmt.Errorf("format %q: want csv, jsonl or parquet", f)
}

type csvWriter[M proto.Message, R any] struct {
	w *csv.Writer
	t table[M, R]
}

func (c *csvWriter[M, R]) Write(m M) error { return c.w.Write(c.t.cells(c.t.row(m))) }
func (c *csvWriter[M, R]) Close() error    { c.w.Flush(); return c.w.Error() }

// jsonWriter writes the API's JSON form, one message a line: what the
// importer reads back.
type jsonWriter[M proto.Message] struct{ w *bufio.Writer }

func (j *jsonWriter[M]) Write(m M) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	j.w.Write(b)
	return j.w.WriteByte('\n')
}
func (j *jsonWriter[M]) Close() error { return j.w.Flush() }

// parquetRows is how many rows a Parquet writer buffers before handing
// them over (it then cuts row groups at its own size).
const parquetRows = 1024

type parquetWriter[M proto.Message, R any] struct {
	w   *parquet.GenericWriter[R]
	t   table[M, R]
	buf []R
}

func (p *parquetWriter[M, R]) Write(m M) error {
	p.buf = append(p.buf, p.t.row(m))
	if len(p.buf) == cap(p.buf) {
		return p.flush()
	}
	return nil
}

func (p *parquetWriter[M, R]) flush() error {
	_, err := p.w.Write(p.buf)
	p.buf = p.buf[:0]
	return err
}

func (p *parquetWriter[M, R]) Close() error {
	if err := p.flush(); err != nil {
		return err
	}
	return p.w.Close()
}

// EventRow is an event's row in a Parquet file (and, in the same order,
// its CSV columns). Times are UTC timestamps in microseconds; attributes
// a map (in CSV, one column of JSON).
type EventRow struct {
	EventID           string            `parquet:"event_id"`
	CustomerID        string            `parquet:"customer_id"`
	Kind              string            `parquet:"kind"`
	Magnitude         float64           `parquet:"magnitude"`
	OccurredAt        time.Time         `parquet:"occurred_at,timestamp(microsecond)"`
	RecordedAt        time.Time         `parquet:"recorded_at,timestamp(microsecond)"`
	IdempotencyKey    string            `parquet:"idempotency_key"`
	Source            string            `parquet:"source"`
	Note              string            `parquet:"note"`
	IncidentID        string            `parquet:"incident_id"`
	ReversesEventID   string            `parquet:"reverses_event_id"`
	ReversedByEventID string            `parquet:"reversed_by_event_id"`
	Attributes        map[string]string `parquet:"attributes"`
}

// Events writes events.
func Events(w io.Writer, f Format) (Writer[*goodwillv1.Event], error) {
	return newWriter(w, f, table[*goodwillv1.Event, EventRow]{
		header: []string{"event_id", "customer_id", "kind", "magnitude", "occurred_at", "recorded_at", "idempotency_key",
			"source", "note", "incident_id", "reverses_event_id", "reversed_by_event_id", "attributes"},
		row: func(e *goodwillv1.Event) EventRow {
			return EventRow{EventID: e.GetEventId(), CustomerID: e.GetCustomerId(), Kind: KindName(e.GetKind()),
				Magnitude: e.GetMagnitude(), OccurredAt: utc(e.GetOccurredAt()), RecordedAt: utc(e.GetRecordedAt()),
				IdempotencyKey: e.GetIdempotencyKey(), Source: e.GetSource(), Note: e.GetNote(), IncidentID: e.GetIncidentId(),
				ReversesEventID: e.GetReversesEventId(), ReversedByEventID: e.GetReversedByEventId(), Attributes: e.GetAttributes()}
		},
		cells: func(r EventRow) []string {
			return []string{r.EventID, r.CustomerID, r.Kind, num(r.Magnitude), stamp(r.OccurredAt), stamp(r.RecordedAt),
				r.IdempotencyKey, r.Source, r.Note, r.IncidentID, r.ReversesEventID, r.ReversedByEventID, attrs(r.Attributes)}
		},
	})
}

// BalanceRow is a customer's balance at the export's moment.
type BalanceRow struct {
	CustomerID     string    `parquet:"customer_id"`
	DisplayName    string    `parquet:"display_name"`
	Segment        string    `parquet:"segment"`
	Value          float64   `parquet:"value"`
	Balance        float64   `parquet:"balance"`
	Status         string    `parquet:"status"`
	OverdraftLimit float64   `parquet:"overdraft_limit"`
	EventCount     int64     `parquet:"event_count"`
	PolicyVersion  int64     `parquet:"policy_version"`
	AsOf           time.Time `parquet:"as_of,timestamp(microsecond)"`
}

// Balances writes balance entries (ListBalances' rows).
func Balances(w io.Writer, f Format) (Writer[*goodwillv1.BalanceEntry], error) {
	return newWriter(w, f, table[*goodwillv1.BalanceEntry, BalanceRow]{
		header: []string{"customer_id", "display_name", "segment", "value", "balance", "status", "overdraft_limit",
			"event_count", "policy_version", "as_of"},
		row: func(e *goodwillv1.BalanceEntry) BalanceRow {
			b := e.GetBalance()
			return BalanceRow{CustomerID: b.GetCustomerId(), DisplayName: e.GetDisplayName(), Segment: e.GetSegment(),
				Value: e.GetValue(), Balance: b.GetBalance(), Status: strings.TrimPrefix(b.GetStatus().String(), "BALANCE_STATUS_"),
				OverdraftLimit: b.GetOverdraftLimit(), EventCount: b.GetEventCount(), PolicyVersion: b.GetPolicyVersion(),
				AsOf: utc(b.GetAsOf())}
		},
		cells: func(r BalanceRow) []string {
			return []string{r.CustomerID, r.DisplayName, r.Segment, num(r.Value), num(r.Balance), r.Status, num(r.OverdraftLimit),
				strconv.FormatInt(r.EventCount, 10), strconv.FormatInt(r.PolicyVersion, 10), stamp(r.AsOf)}
		},
	})
}

// CustomerRow is a customer's profile, in the columns `goodwill import
// customers` reads. Value and the overdraft limit are absent (blank in
// CSV, null in Parquet) when the customer has none of its own.
type CustomerRow struct {
	CustomerID     string            `parquet:"customer_id"`
	DisplayName    string            `parquet:"display_name"`
	Segment        string            `parquet:"segment"`
	Value          *float64          `parquet:"value,optional"`
	OverdraftLimit *float64          `parquet:"overdraft_limit,optional"`
	Attributes     map[string]string `parquet:"attributes"`
	CreatedAt      time.Time         `parquet:"created_at,timestamp(microsecond)"`
	UpdatedAt      time.Time         `parquet:"updated_at,timestamp(microsecond)"`
}

// Customers writes customer profiles (ListCustomers' rows).
func Customers(w io.Writer, f Format) (Writer[*goodwillv1.Customer], error) {
	return newWriter(w, f, table[*goodwillv1.Customer, CustomerRow]{
		header: []string{"customer_id", "display_name", "segment", "value", "overdraft_limit", "attributes", "created_at", "updated_at"},
		row: func(c *goodwillv1.Customer) CustomerRow {
			return CustomerRow{CustomerID: c.GetCustomerId(), DisplayName: c.GetDisplayName(), Segment: c.GetSegment(),
				Value: c.Value, OverdraftLimit: c.OverdraftLimit, Attributes: c.GetAttributes(),
				CreatedAt: utc(c.GetCreatedAt()), UpdatedAt: utc(c.GetUpdatedAt())}
		},
		cells: func(r CustomerRow) []string {
			return []string{r.CustomerID, r.DisplayName, r.Segment, optNum(r.Value), optNum(r.OverdraftLimit), attrs(r.Attributes),
				stamp(r.CreatedAt), stamp(r.UpdatedAt)}
		},
	})
}

func optNum(f *float64) string {
	if f == nil {
		return ""
	}
	return num(*f)
}

// KindName is a kind as people write it: "reliable_delivery".
func KindName(k goodwillv1.EventKind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "EVENT_KIND_"))
}

func utc(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime().UTC()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// attrs is a CSV cell of attributes: a JSON object, "" for none.
func attrs(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	b, _ := json.Marshal(m) // sorted keys: the same event, the same cell
	return string(b)
}
