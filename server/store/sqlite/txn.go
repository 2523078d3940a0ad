package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/rowcodec"
)

// txn implements ledger.Tx (and so ledger.Reader) over one sql.Tx.
type txn struct {
	tx    *sql.Tx
	stmts *stmtCache
}

var _ ledger.Tx = (*txn)(nil)

func (t *txn) AppendEvent(ctx context.Context, e ledger.Event) error {
	attrs, err := rowcodec.EncodeAttrs(e.Attributes)
	if err != nil {
		return err
	}
	return t.exec(ctx, appendEventQuery,
		e.TenantID, e.CustomerID, e.ID, e.Kind.String(), e.Magnitude, e.OccurredAt.UnixMicro(), e.RecordedAt.UnixMicro(),
		e.IdempotencyKey, e.Fingerprint, e.Source, e.Note, attrs, e.IncidentID, e.ReversesEventID)
}

const appendEventQuery = `INSERT INTO events (tenant_id, customer_id, event_id, kind, magnitude,
	occurred_at, recorded_at, idempotency_key, fingerprint, source, note, attributes, incident_id, reverses_event_id)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// eventSelect reads events with the id of the reversal that cancels each,
// found through the events_by_reversed index.
const eventSelect = `SELECT e.tenant_id, e.customer_id, e.event_id, e.kind, e.magnitude, e.occurred_at, e.recorded_at,
	e.idempotency_key, e.fingerprint, e.source, e.note, e.attributes, e.incident_id, e.reverses_event_id,
	COALESCE(r.event_id, '')
	FROM events e
	LEFT JOIN events r ON r.tenant_id = e.tenant_id AND r.customer_id = e.customer_id
		AND r.reverses_event_id = e.event_id AND r.reverses_event_id <> ''`

const (
	eventQuery      = eventSelect + ` WHERE e.tenant_id = ? AND e.customer_id = ? AND e.event_id = ?`
	eventByKeyQuery = eventSelect + ` WHERE e.tenant_id = ? AND e.customer_id = ? AND e.idempotency_key = ?
		AND e.idempotency_key <> ''`
	historyQuery = eventSelect + ` WHERE e.tenant_id = ? AND e.customer_id = ?`
)

func (t *txn) Event(ctx context.Context, tenant, customerID, eventID string) (ledger.Event, error) {
	return t.one(ctx, eventQuery, tenant, customerID, eventID)
}

func (t *txn) EventByKey(ctx context.Context, tenant, customerID, key string) (ledger.Event, error) {
	return t.one(ctx, eventByKeyQuery, tenant, customerID, key)
}

func (t *txn) one(ctx context.Context, query string, args ...any) (ledger.Event, error) {
	events, err := t.query(ctx, query, args...)
	if err != nil {
		return ledger.Event{}, err
	}
	if len(events) == 0 {
		return ledger.Event{}, ledger.ErrNotFound
	}
	return events[0], nil
}

func (t *txn) Events(ctx context.Context, tenant, customerID string, q ledger.EventQuery) ([]ledger.Event, error) {
	query, args := eventsQuery(tenant, customerID, q)
	return t.query(ctx, query, args...)
}

// eventsQuery builds the ListEvents query; plan_test.go checks that every
// shape of it is served by an index.
func eventsQuery(tenant, customerID string, q ledger.EventQuery) (string, []any) {
	var b strings.Builder
	b.WriteString(eventSelect + ` WHERE e.tenant_id = ? AND e.customer_id = ?`)
	args := []any{tenant, customerID}
	if len(q.Kinds) > 0 {
		b.WriteString(` AND e.kind IN (?` + strings.Repeat(`, ?`, len(q.Kinds)-1) + `)`)
		for _, k := range q.Kinds {
			args = append(args, k.String())
		}
	}
	if !q.Start.IsZero() {
		b.WriteString(` AND e.occurred_at >= ?`)
		args = append(args, q.Start.UnixMicro())
	}
	if !q.End.IsZero() {
		b.WriteString(` AND e.occurred_at < ?`)
		args = append(args, q.End.UnixMicro())
	}
	if q.After != nil {
		at := q.After.OccurredAt.UnixMicro()
		b.WriteString(` AND (e.occurred_at < ? OR (e.occurred_at = ? AND e.event_id < ?))`)
		args = append(args, at, at, q.After.EventID)
	}
	b.WriteString(` ORDER BY e.occurred_at DESC, e.event_id DESC LIMIT ?`)
	args = append(args, q.Limit)
	return b.String(), args
}

func (t *txn) History(ctx context.Context, tenant, customerID string) ([]ledger.Event, error) {
	return t.query(ctx, historyQuery, tenant, customerID)
}

// incidentEventQuery is served by events_by_incident.
const incidentEventQuery = eventSelect + ` WHERE e.tenant_id = ? AND e.incident_id = ? AND e.kind = ?
	AND e.incident_id <> '' LIMIT 1`

func (t *txn) IncidentEvent(ctx context.Context, tenant, incidentID string, kind ledger.Kind) (ledger.Event, error) {
	return t.one(ctx, incidentEventQuery, tenant, incidentID, kind.String())
}

func (t *txn) query(ctx context.Context, query string, args ...any) ([]ledger.Event, error) {
	rows, err := t.queryRows(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ledger.Event
	for rows.Next() {
		var (
			e                  ledger.Event
			kind, attrs        string
			occurred, recorded int64
		)
		if err := rows.Scan(&e.TenantID, &e.CustomerID, &e.ID, &kind, &e.Magnitude, &occurred, &recorded,
			&e.IdempotencyKey, &e.Fingerprint, &e.Source, &e.Note, &attrs, &e.IncidentID, &e.ReversesEventID,
			&e.ReversedByEventID); err != nil {
			return nil, translate(err)
		}
		var ok bool
		if e.Kind, ok = ledger.ParseKind(kind); !ok {
			return nil, fmt.Errorf("event %s has unknown kind %q", e.ID, kind)
		}
		if e.Attributes, err = rowcodec.DecodeAttrs(attrs); err != nil {
			return nil, err
		}
		e.OccurredAt, e.RecordedAt = fromMicros(occurred), fromMicros(recorded)
		out = append(out, e)
	}
	return out, translate(rows.Err())
}

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func fromNull(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

func toNull(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}
