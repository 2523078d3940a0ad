package postgres

import (
	"context"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/rowcodec"
)

// The bulk methods send a whole batch in one statement, as arrays that the
// server unnests: one round trip instead of one per row.

func (t *txn) CustomersByID(ctx context.Context, tenant string, ids []string) (map[string]ledger.Customer, error) {
	// One primary-key probe per id whatever the statistics say (see
	// EventsByKeys): with none (autovacuum off, or a table that grew fast)
	// PostgreSQL planned "= ANY($2)" as a scan of the tenant's whole index,
	// and at 1M customers a 1,000-event batch took seconds.
	cs, err := t.customers(ctx, `SELECT c.* FROM unnest($2::TEXT[]) AS k (id)
		CROSS JOIN LATERAL (`+customerSelect+` WHERE tenant_id = $1 AND customer_id = k.id LIMIT 1) AS c`, tenant, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]ledger.Customer, len(cs))
	for _, c := range cs {
		out[c.ID] = c
	}
	return out, nil
}

func (t *txn) EventsByKeys(ctx context.Context, tenant string, keys []ledger.CustomerKey) (map[ledger.CustomerKey]ledger.Event, error) {
	if len(keys) == 0 {
		return map[ledger.CustomerKey]ledger.Event{}, nil
	}
	custs, ks := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		custs[i], ks[i] = k.CustomerID, k.Key
	}
	// One index probe per key, whatever the statistics say: as a plain
	// join, PostgreSQL planned this from statistics taken while the table
	// was small and merge-joined the tenant's whole event log (goodwillbench
	// saw 12 ms become 300 ms per 1,000-key batch at 400k events). LIMIT 1
	// keeps the LATERAL subquery from being flattened back into that join;
	// a key names at most one event (events_by_key is unique).
	events, err := t.events(ctx, `SELECT x.* FROM unnest($2::TEXT[], $3::TEXT[]) AS k (customer_id, idem)
		CROSS JOIN LATERAL (`+eventSelect+`
			WHERE e.tenant_id = $1 AND e.customer_id = k.customer_id AND e.idempotency_key = k.idem
				AND e.idempotency_key <> '' LIMIT 1) AS x`, tenant, custs, ks)
	if err != nil {
		return nil, err
	}
	out := make(map[ledger.CustomerKey]ledger.Event, len(events))
	for _, e := range events {
		out[ledger.CustomerKey{CustomerID: e.CustomerID, Key: e.IdempotencyKey}] = e
	}
	return out, nil
}

func (t *txn) AppendEvents(ctx context.Context, events []ledger.Event) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	var (
		tenants, custs, ids, kinds, keys, fps, srcs, notes, attrs, incs, revs = make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		mags               = make([]float64, n)
		occurred, recorded = make([]time.Time, n), make([]time.Time, n)
	)
	for i, e := range events {
		a, err := rowcodec.EncodeAttrs(e.Attributes)
		if err != nil {
			return err
		}
		tenants[i], custs[i], ids[i], kinds[i], keys[i] = e.TenantID, e.CustomerID, e.ID, e.Kind.String(), e.IdempotencyKey
		fps[i], srcs[i], notes[i], attrs[i], incs[i], revs[i] = e.Fingerprint, e.Source, e.Note, a, e.IncidentID, e.ReversesEventID
		mags[i], occurred[i], recorded[i] = e.Magnitude, e.OccurredAt, e.RecordedAt
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO events (tenant_id, customer_id, event_id, kind, magnitude, occurred_at,
		recorded_at, idempotency_key, fingerprint, source, note, attributes, incident_id, reverses_event_id)
		SELECT t, c, id, k, m, o, r, ik, fp, src, note, attrs::JSONB, inc, rev
		FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::FLOAT8[], $6::TIMESTAMPTZ[], $7::TIMESTAMPTZ[],
			$8::TEXT[], $9::TEXT[], $10::TEXT[], $11::TEXT[], $12::TEXT[], $13::TEXT[], $14::TEXT[])
			AS u (t, c, id, k, m, o, r, ik, fp, src, note, attrs, inc, rev)`,
		tenants, custs, ids, kinds, mags, occurred, recorded, keys, fps, srcs, notes, attrs, incs, revs)
	return translate(err)
}

// PutCustomers writes each customer once; the caller passes distinct ids
// (an upsert statement may not touch one row twice).
func (t *txn) PutCustomers(ctx context.Context, cs []ledger.Customer) error {
	if len(cs) == 0 {
		return nil
	}
	n := len(cs)
	txt := func() []string { return make([]string, n) }
	var (
		tenant, id, name, segment, attrs, lastKind, lastFP, lastID, grievKind = txt(), txt(), txt(), txt(), txt(), txt(), txt(), txt(), txt()
		value, valueAt, rank, trend                                           = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
		limit, recovery, advocacy                                             = make([]*float64, n), make([]*float64, n), make([]*float64, n)
		created, updated                                                      = make([]time.Time, n), make([]time.Time, n)
		lastAt, notice, griev, remedy                                         = make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
		version, count                                                        = make([]int64, n), make([]int64, n)
	)
	for i, c := range cs {
		a, err := rowcodec.EncodeAttrs(c.Profile.Attributes)
		if err != nil {
			return err
		}
		st := c.State
		tenant[i], id[i], name[i], segment[i], attrs[i] = c.TenantID, c.ID, c.Profile.DisplayName, c.Profile.Segment, a
		value[i], limit[i], created[i], updated[i], version[i] = c.Profile.Value, c.Profile.OverdraftLimit, c.CreatedAt, c.UpdatedAt, c.PolicyVersion
		valueAt[i], rank[i], count[i], trend[i] = st.Value, c.Keys.Rank, st.Count, st.Trend
		lastAt[i], lastKind[i], lastFP[i], lastID[i] = ts(st.Last.At), rowcodec.KindName(st.Last.Kind), st.Last.Fingerprint, st.Last.ID
		notice[i], griev[i], grievKind[i], remedy[i] = ts(st.LastNoticeAt), ts(st.LastGrievanceAt), rowcodec.KindName(st.LastGrievanceKind), ts(st.LastRemedyAt)
		recovery[i], advocacy[i] = c.Keys.Recovery, c.Keys.Advocacy
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO customers (`+customerCols+`)
		SELECT c0, c1, c2, c3, c4, c5, c6::JSONB, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20, c21, c22, c23
		FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::FLOAT8[], $6::FLOAT8[], $7::TEXT[],
			$8::TIMESTAMPTZ[], $9::TIMESTAMPTZ[], $10::INT8[], $11::FLOAT8[], $12::FLOAT8[], $13::INT8[],
			$14::TIMESTAMPTZ[], $15::TEXT[], $16::TEXT[], $17::TEXT[], $18::TIMESTAMPTZ[], $19::TIMESTAMPTZ[], $20::TEXT[],
			$21::TIMESTAMPTZ[], $22::FLOAT8[], $23::FLOAT8[], $24::FLOAT8[])
			AS u (c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20, c21, c22, c23)
		ON CONFLICT (tenant_id, customer_id) DO UPDATE SET `+customerUpdates,
		tenant, id, name, segment, value, limit, attrs, created, updated, version, valueAt, rank, count,
		lastAt, lastKind, lastFP, lastID, notice, griev, grievKind, remedy, trend, recovery, advocacy)
	return translate(err)
}
