package sqlstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// colType is how a column's value travels: what a row's value is in Go,
// how a dialect binds it, how it scans back, and its array type in a bulk
// statement.
type colType int

const (
	colText      colType = iota // string
	colFloat                    // float64
	colNullFloat                // *float64, nil for NULL
	colInt                      // int64
	colTime                     // time.Time
	colNullTime                 // time.Time, zero for NULL
	colJSON                     // string holding JSON
	colBytes                    // []byte
)

// column is one column of a table.
type column struct {
	name string
	typ  colType
}

// table is a table's name and its columns, in the order its values
// function and scan function use.
type table struct {
	name string
	cols []column
}

// list is the column list, each prefixed with alias ("e." or "").
func (t table) list(alias string) string {
	out := make([]string, len(t.cols))
	for i, c := range t.cols {
		out[i] = alias + c.name
	}
	return strings.Join(out, ", ")
}

// selectList is the column list for reading: JSON columns as text.
func (t table) selectList(d *Dialect, alias string) string {
	out := make([]string, len(t.cols))
	for i, c := range t.cols {
		out[i] = alias + c.name
		if c.typ == colJSON {
			out[i] = d.jsonColumn(alias + c.name)
		}
	}
	return strings.Join(out, ", ")
}

// bind turns a row's values into parameters the dialect takes.
func (t table) bind(d *Dialect, vals []any) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		switch t.cols[i].typ {
		case colTime:
			out[i] = d.Time(v.(time.Time))
		case colNullTime:
			out[i] = d.NullTime(v.(time.Time))
		default:
			out[i] = v
		}
	}
	return out
}

// The tables. The migrations of each backend create them; these lists are
// the one place their columns are named for reading and writing.
var (
	customers = table{"customers", []column{
		{"tenant_id", colText}, {"customer_id", colText}, {"display_name", colText}, {"segment", colText},
		{"value", colFloat}, {"overdraft_limit", colNullFloat}, {"attributes", colJSON},
		{"created_at", colTime}, {"updated_at", colTime}, {"policy_version", colInt},
		{"value_at_last", colFloat}, {"balance_rank", colFloat}, {"event_count", colInt},
		{"last_at", colNullTime}, {"last_kind", colText}, {"last_fingerprint", colText}, {"last_event_id", colText},
		{"last_notice_at", colNullTime}, {"last_grievance_at", colNullTime}, {"last_grievance_kind", colText},
		{"last_remedy_at", colNullTime}, {"trend", colFloat}, {"recovery_key", colNullFloat}, {"advocacy_key", colNullFloat},
		{"watch_status", colText}, {"watch_advocate", colInt}, {"watch_seq", colInt}, {"watch_due_at", colNullTime},
	}}
	events = table{"events", []column{
		{"tenant_id", colText}, {"customer_id", colText}, {"event_id", colText}, {"kind", colText},
		{"magnitude", colFloat}, {"occurred_at", colTime}, {"recorded_at", colTime}, {"idempotency_key", colText},
		{"fingerprint", colText}, {"source", colText}, {"note", colText}, {"attributes", colJSON},
		{"incident_id", colText}, {"reverses_event_id", colText},
	}}
	jobs = table{"recompute_jobs", []column{
		{"tenant_id", colText}, {"job_id", colText}, {"policy_version", colInt}, {"state", colText},
		{"total", colInt}, {"done", colInt}, {"cursor", colText}, {"started_at", colTime},
		{"finished_at", colNullTime}, {"error", colText},
	}}
	policies = table{"policies", []column{
		{"tenant_id", colText}, {"version", colInt}, {"body", colText}, {"created_at", colTime},
	}}
	notifications = table{"notifications", []column{
		{"tenant_id", colText}, {"notification_id", colText}, {"type", colText}, {"customer_id", colText},
		{"customer_seq", colInt}, {"occurred_at", colTime}, {"created_at", colTime}, {"event_id", colText},
		{"policy_version", colInt}, {"before_value", colFloat}, {"before_status", colText},
		{"after_value", colFloat}, {"after_status", colText},
	}}
	// numberedNotifications writes a notification with its number, where
	// writes are serial (Dialect.SerialWrites).
	numberedNotifications = table{"notifications", append([]column{{"seq", colInt}}, notifications.cols...)}
	keys                  = table{"api_keys", []column{
		{"key_id", colText}, {"tenant_id", colText}, {"role", colText}, {"name", colText},
		{"secret_hash", colBytes}, {"created_at", colTime}, {"created_by", colText}, {"revoked_at", colNullTime},
	}}
)

// scanner is a row: pgx's and database/sql's both are.
type scanner interface{ Scan(dest ...any) error }

func customerValues(c ledger.Customer) ([]any, error) {
	attrs, err := encodeAttrs(c.Profile.Attributes)
	if err != nil {
		return nil, err
	}
	st := c.State
	return []any{c.TenantID, c.ID, c.Profile.DisplayName, c.Profile.Segment, c.Profile.Value, c.Profile.OverdraftLimit,
		attrs, c.CreatedAt, c.UpdatedAt, c.PolicyVersion, st.Value, c.Keys.Rank, st.Count,
		st.Last.At, kindName(st.Last.Kind), st.Last.Fingerprint, st.Last.ID,
		st.LastNoticeAt, st.LastGrievanceAt, kindName(st.LastGrievanceKind), st.LastRemedyAt,
		st.Trend, c.Keys.Recovery, c.Keys.Advocacy,
		statusName(c.Watch.Status), boolInt(c.Watch.Advocate), c.Watch.Seq, c.Watch.DueAt}, nil
}

// scanCustomer reads customers.selectList's columns, then extra.
func scanCustomer(row scanner, extra ...any) (ledger.Customer, error) {
	var (
		c                                    ledger.Customer
		attrs, lastKind, grKind, watchStatus string
		advocate                             int64
	)
	st := &c.State
	dest := []any{&c.TenantID, &c.ID, &c.Profile.DisplayName, &c.Profile.Segment, &c.Profile.Value,
		&c.Profile.OverdraftLimit, textCol{&attrs}, timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt}, &c.PolicyVersion,
		&st.Value, &c.Keys.Rank, &st.Count, timeCol{&st.Last.At}, &lastKind, &st.Last.Fingerprint, &st.Last.ID,
		timeCol{&st.LastNoticeAt}, timeCol{&st.LastGrievanceAt}, &grKind, timeCol{&st.LastRemedyAt},
		&st.Trend, &c.Keys.Recovery, &c.Keys.Advocacy,
		&watchStatus, &advocate, &c.Watch.Seq, timeCol{&c.Watch.DueAt}}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return c, err
	}
	c.Watch.Advocate = advocate != 0
	var ok bool
	if c.Watch.Status, ok = parseStatus(watchStatus); !ok {
		return c, fmt.Errorf("customer %s: unknown watch status %q", c.ID, watchStatus)
	}
	var err error
	if c.Profile.Attributes, err = decodeAttrs(attrs); err != nil {
		return c, err
	}
	if st.Last.Kind, err = parseKind(lastKind); err != nil {
		return c, fmt.Errorf("customer %s: %w", c.ID, err)
	}
	if st.LastGrievanceKind, err = parseKind(grKind); err != nil {
		return c, fmt.Errorf("customer %s: %w", c.ID, err)
	}
	return c, nil
}

func eventValues(e ledger.Event) ([]any, error) {
	attrs, err := encodeAttrs(e.Attributes)
	if err != nil {
		return nil, err
	}
	return []any{e.TenantID, e.CustomerID, e.ID, e.Kind.String(), e.Magnitude, e.OccurredAt, e.RecordedAt,
		e.IdempotencyKey, e.Fingerprint, e.Source, e.Note, attrs, e.IncidentID, e.ReversesEventID}, nil
}

// scanEvent reads events.selectList's columns and the id of the reversal
// that cancels the event ("" if none).
func scanEvent(row scanner) (ledger.Event, error) {
	var (
		e           ledger.Event
		kind, attrs string
	)
	if err := row.Scan(&e.TenantID, &e.CustomerID, &e.ID, &kind, &e.Magnitude, timeCol{&e.OccurredAt},
		timeCol{&e.RecordedAt}, &e.IdempotencyKey, &e.Fingerprint, &e.Source, &e.Note, textCol{&attrs},
		&e.IncidentID, &e.ReversesEventID, &e.ReversedByEventID); err != nil {
		return e, err
	}
	var ok bool
	if e.Kind, ok = ledger.ParseKind(kind); !ok {
		return e, fmt.Errorf("event %s has unknown kind %q", e.ID, kind)
	}
	var err error
	e.Attributes, err = decodeAttrs(attrs)
	return e, err
}

func jobValues(j ledger.Job) []any {
	return []any{j.TenantID, j.ID, j.PolicyVersion, jobStates[j.State], j.Total, j.Done, j.Cursor,
		j.StartedAt, j.FinishedAt, j.Error}
}

func scanJob(row scanner) (ledger.Job, error) {
	var (
		j     ledger.Job
		state string
	)
	if err := row.Scan(&j.TenantID, &j.ID, &j.PolicyVersion, &state, &j.Total, &j.Done, &j.Cursor,
		timeCol{&j.StartedAt}, timeCol{&j.FinishedAt}, &j.Error); err != nil {
		return j, err
	}
	var err error
	j.State, err = parseJobState(state)
	return j, err
}

func keyValues(k auth.Key) []any {
	return []any{k.ID, k.Tenant, k.Role.String(), k.Name, k.Hash, k.CreatedAt, k.CreatedBy, k.RevokedAt}
}

func scanKey(row scanner) (auth.Key, error) {
	var (
		k    auth.Key
		role string
	)
	if err := row.Scan(&k.ID, &k.Tenant, &role, &k.Name, &k.Hash, timeCol{&k.CreatedAt}, &k.CreatedBy,
		timeCol{&k.RevokedAt}); err != nil {
		return k, err
	}
	r, err := auth.ParseRole(role)
	if err != nil {
		return k, fmt.Errorf("api key %s: %w", k.ID, err)
	}
	k.Role = r
	return k, nil
}
