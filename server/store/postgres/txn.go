package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/rowcodec"
)

// txn implements ledger.Tx over one pgx transaction.
type txn struct{ tx pgx.Tx }

var _ ledger.Tx = (*txn)(nil)

// args builds a parameter list and hands out $n placeholders.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

func (t *txn) AppendEvent(ctx context.Context, e ledger.Event) error {
	attrs, err := rowcodec.EncodeAttrs(e.Attributes)
	if err != nil {
		return err
	}
	_, err = t.tx.Exec(ctx, `INSERT INTO events (tenant_id, customer_id, event_id, kind, magnitude, occurred_at,
		recorded_at, idempotency_key, fingerprint, source, note, attributes, incident_id, reverses_event_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		e.TenantID, e.CustomerID, e.ID, e.Kind.String(), e.Magnitude, e.OccurredAt, e.RecordedAt,
		e.IdempotencyKey, e.Fingerprint, e.Source, e.Note, attrs, e.IncidentID, e.ReversesEventID)
	return translate(err)
}

// eventSelect reads events with the id of the reversal that cancels each,
// found through the events_by_reversed index.
const eventSelect = `SELECT e.tenant_id, e.customer_id, e.event_id, e.kind, e.magnitude, e.occurred_at, e.recorded_at,
	e.idempotency_key, e.fingerprint, e.source, e.note, e.attributes::TEXT, e.incident_id, e.reverses_event_id,
	COALESCE(r.event_id, '')
	FROM events e
	LEFT JOIN events r ON r.tenant_id = e.tenant_id AND r.customer_id = e.customer_id
		AND r.reverses_event_id = e.event_id AND r.reverses_event_id <> ''`

func (t *txn) Event(ctx context.Context, tenant, customerID, eventID string) (ledger.Event, error) {
	return t.one(ctx, eventSelect+` WHERE e.tenant_id = $1 AND e.customer_id = $2 AND e.event_id = $3`,
		tenant, customerID, eventID)
}

func (t *txn) EventByKey(ctx context.Context, tenant, customerID, key string) (ledger.Event, error) {
	return t.one(ctx, eventSelect+` WHERE e.tenant_id = $1 AND e.customer_id = $2 AND e.idempotency_key = $3
		AND e.idempotency_key <> ''`, tenant, customerID, key)
}

func (t *txn) one(ctx context.Context, query string, a ...any) (ledger.Event, error) {
	events, err := t.events(ctx, query, a...)
	if err != nil {
		return ledger.Event{}, err
	}
	if len(events) == 0 {
		return ledger.Event{}, ledger.ErrNotFound
	}
	return events[0], nil
}

func (t *txn) Events(ctx context.Context, tenant, customerID string, q ledger.EventQuery) ([]ledger.Event, error) {
	var a args
	var b strings.Builder
	b.WriteString(eventSelect + ` WHERE e.tenant_id = ` + a.add(tenant) + ` AND e.customer_id = ` + a.add(customerID))
	if len(q.Kinds) > 0 {
		names := make([]string, len(q.Kinds))
		for i, k := range q.Kinds {
			names[i] = k.String()
		}
		b.WriteString(` AND e.kind = ANY(` + a.add(names) + `)`)
	}
	if !q.Start.IsZero() {
		b.WriteString(` AND e.occurred_at >= ` + a.add(q.Start))
	}
	if !q.End.IsZero() {
		b.WriteString(` AND e.occurred_at < ` + a.add(q.End))
	}
	if q.After != nil {
		b.WriteString(` AND (e.occurred_at, e.event_id) < (` + a.add(q.After.OccurredAt) + `, ` + a.add(q.After.EventID) + `)`)
	}
	b.WriteString(` ORDER BY e.occurred_at DESC, e.event_id DESC LIMIT ` + a.add(q.Limit))
	return t.events(ctx, b.String(), a...)
}

func (t *txn) History(ctx context.Context, tenant, customerID string) ([]ledger.Event, error) {
	return t.events(ctx, eventSelect+` WHERE e.tenant_id = $1 AND e.customer_id = $2`, tenant, customerID)
}

// IncidentEvent is served by events_by_incident.
func (t *txn) IncidentEvent(ctx context.Context, tenant, incidentID string, kind ledger.Kind) (ledger.Event, error) {
	return t.one(ctx, eventSelect+` WHERE e.tenant_id = $1 AND e.incident_id = $2 AND e.kind = $3
		AND e.incident_id <> '' LIMIT 1`, tenant, incidentID, kind.String())
}

func (t *txn) events(ctx context.Context, query string, a ...any) ([]ledger.Event, error) {
	rows, err := t.tx.Query(ctx, query, a...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []ledger.Event
	for rows.Next() {
		var e ledger.Event
		var kind, attrs string
		if err := rows.Scan(&e.TenantID, &e.CustomerID, &e.ID, &kind, &e.Magnitude, &e.OccurredAt, &e.RecordedAt,
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
		e.OccurredAt, e.RecordedAt = e.OccurredAt.UTC(), e.RecordedAt.UTC()
		out = append(out, e)
	}
	return out, translate(rows.Err())
}

// ts turns a zero time into NULL.
func ts(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func fromTS(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

var errNoRows = pgx.ErrNoRows

func isNoRows(err error) bool { return errors.Is(err, errNoRows) }
