package importer

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// RowError is a row the importer could not use: where it is, which column,
// and why (the API's own message when the server refused it).
type RowError struct {
	Line    int    // the row's first line in the file (the header is line 1 of a CSV)
	Column  string // a CSV column or JSON field; "" for the whole row
	Message string
	Raw     string // the row as it was in the file, for the reject file
}

func (e *RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Message)
	}
	return fmt.Sprintf("line %d, column %s: %s", e.Line, e.Column, e.Message)
}

// row is one parsed row: a message of the kind being imported, or the
// reason it is unusable.
type row[M proto.Message] struct {
	line int
	msg  M
	raw  string
	err  *RowError
}

// rowReader yields rows until io.EOF. A bad row is a row with err set, not
// an error: only a file that cannot be read any further is.
type rowReader[M proto.Message] interface {
	next() (row[M], error)
}

// columnsFor lists the columns a CSV of each kind may have, besides attr.*.
var (
	// attributes (a JSON object) is how `goodwill export events` writes
	// them; attr.NAME columns are the spreadsheet's way.
	eventColumns = []string{"customer_id", "kind", "magnitude", "occurred_at", "idempotency_key", "source", "note",
		"attributes", "event_id", "recorded_at", "incident_id", "reverses_event_id", "reversed_by_event_id"}
	eventRequired   = []string{"customer_id", "kind"}
	customerColumns = []string{"customer_id", "display_name", "segment", "value", "overdraft_limit", "attributes",
		"created_at", "updated_at"}
)

// csvRows reads a CSV with a header row; parse turns a record (by column
// name) into a message.
type csvRows[M proto.Message] struct {
	r      *csv.Reader
	header []string
	parse  func(get func(string) string, attrs map[string]string) (M, *RowError)
}

func newCSVRows[M proto.Message](r io.Reader, known, required []string,
	parse func(get func(string) string, attrs map[string]string) (M, *RowError)) (*csvRows[M], error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	cr.FieldsPerRecord = 0 // every row as wide as the header
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("the file is empty: a CSV needs a header row")
	}
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		header[i] = h
		switch {
		case seen[h]:
			return nil, fmt.Errorf("header: column %q appears twice", h)
		case strings.HasPrefix(h, "attr.") && len(h) > len("attr."):
		case !contains(known, h):
			return nil, fmt.Errorf("header: unknown column %q (known: %s, and attr.NAME)", h, strings.Join(known, ", "))
		}
		seen[h] = true
	}
	for _, c := range required {
		if !seen[c] {
			return nil, fmt.Errorf("header: the column %q is required", c)
		}
	}
	return &csvRows[M]{r: cr, header: header, parse: parse}, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (c *csvRows[M]) next() (row[M], error) {
	rec, err := c.r.Read()
	if err == io.EOF {
		return row[M]{}, io.EOF
	}
	line, _ := c.r.FieldPos(0)
	var perr *csv.ParseError
	if errors.As(err, &perr) && errors.Is(perr.Err, csv.ErrFieldCount) {
		return row[M]{line: line, err: &RowError{Line: line, Message: fmt.Sprintf("has %d fields, the header %d", len(rec), len(c.header)),
			Raw: joinCSV(rec)}}, nil
	}
	if err != nil {
		return row[M]{}, err // a broken quote: the rest of the file cannot be trusted
	}
	values := map[string]string{}
	attrs := map[string]string{}
	for i, h := range c.header {
		if name, ok := strings.CutPrefix(h, "attr."); ok {
			if rec[i] != "" {
				attrs[name] = rec[i]
			}
			continue
		}
		values[h] = rec[i]
	}
	msg, rerr := c.parse(func(col string) string { return strings.TrimSpace(values[col]) }, attrs)
	r := row[M]{line: line, msg: msg, raw: joinCSV(rec), err: rerr}
	if rerr != nil {
		rerr.Line, rerr.Raw = line, r.raw
	}
	return r, nil
}

func joinCSV(rec []string) string {
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write(rec)
	w.Flush()
	return strings.TrimRight(b.String(), "\n")
}

// parseEventCSV is one CSV row as an event.
func parseEventCSV(get func(string) string, attrs map[string]string) (*goodwillv1.Event, *RowError) {
	e := &goodwillv1.Event{
		CustomerId:     get("customer_id"),
		IdempotencyKey: get("idempotency_key"),
		Source:         get("source"),
		Note:           get("note"),
	}
	if err := jsonAttrs(get("attributes"), attrs); err != nil {
		return nil, err
	}
	if len(attrs) > 0 {
		e.Attributes = attrs
	}
	kind, err := ParseKind(get("kind"))
	if err != nil {
		return nil, &RowError{Column: "kind", Message: err.Error()}
	}
	e.Kind = kind
	if s := get("magnitude"); s != "" {
		m, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, &RowError{Column: "magnitude", Message: fmt.Sprintf("%q is not a number", s)}
		}
		e.Magnitude = &m
	}
	if s := get("occurred_at"); s != "" {
		at, err := ParseTime(s)
		if err != nil {
			return nil, &RowError{Column: "occurred_at", Message: err.Error()}
		}
		e.OccurredAt = timestamppb.New(at)
	}
	return e, nil
}

// parseCustomerCSV is one CSV row as a customer profile.
func parseCustomerCSV(get func(string) string, attrs map[string]string) (*goodwillv1.Customer, *RowError) {
	c := &goodwillv1.Customer{CustomerId: get("customer_id"), DisplayName: get("display_name"), Segment: get("segment")}
	if err := jsonAttrs(get("attributes"), attrs); err != nil {
		return nil, err
	}
	if len(attrs) > 0 {
		c.Attributes = attrs
	}
	for _, f := range []struct {
		col string
		dst **float64
	}{{"value", &c.Value}, {"overdraft_limit", &c.OverdraftLimit}} {
		if s := get(f.col); s != "" {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, &RowError{Column: f.col, Message: fmt.Sprintf("%q is not a number", s)}
			}
			*f.dst = &v
		}
	}
	return c, nil
}

// jsonAttrs adds the attributes of an attributes cell (a JSON object, as
// an export writes it) to attrs; an attr.NAME column of the same name wins.
func jsonAttrs(cell string, attrs map[string]string) *RowError {
	if cell == "" {
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(cell), &m); err != nil {
		return &RowError{Column: "attributes", Message: "not a JSON object of strings: " + err.Error()}
	}
	for k, v := range m {
		if _, set := attrs[k]; !set {
			attrs[k] = v
		}
	}
	return nil
}

// ParseKind reads an event kind as people write it: "complaint",
// "COMPLAINT" or "EVENT_KIND_COMPLAINT".
func ParseKind(s string) (goodwillv1.EventKind, error) {
	name := strings.ToUpper(strings.TrimSpace(s))
	if name == "" {
		return 0, errors.New("is empty")
	}
	if !strings.HasPrefix(name, "EVENT_KIND_") {
		name = "EVENT_KIND_" + name
	}
	v, ok := goodwillv1.EventKind_value[name]
	if !ok || v == 0 {
		return 0, fmt.Errorf("%q is not an event kind", s)
	}
	return goodwillv1.EventKind(v), nil
}

// ParseTime reads a moment: RFC 3339, or a date (midnight UTC), or a date
// and time without a zone (UTC).
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (RFC 3339 such as 2024-03-01T09:30:00Z, or a date such as 2024-03-01)", s)
}

// jsonRows reads JSON lines, each the API's JSON form of a message.
type jsonRows[M proto.Message] struct {
	s    *bufio.Scanner
	line int
	make func() M
}

func newJSONRows[M proto.Message](r io.Reader, mk func() M) *jsonRows[M] {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64<<10), 16<<20) // one event is far below 16 MiB
	return &jsonRows[M]{s: s, make: mk}
}

func (j *jsonRows[M]) next() (row[M], error) {
	for j.s.Scan() {
		j.line++
		text := strings.TrimSpace(j.s.Text())
		if text == "" {
			continue
		}
		msg := j.make()
		r := row[M]{line: j.line, msg: msg, raw: text}
		if err := protojson.Unmarshal([]byte(text), msg); err != nil {
			r.err = &RowError{Line: j.line, Message: "not the API's JSON: " + err.Error(), Raw: text}
		}
		return r, nil
	}
	if err := j.s.Err(); err != nil {
		return row[M]{}, err
	}
	return row[M]{}, io.EOF
}
