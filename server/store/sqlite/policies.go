package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/rowcodec"
)

const (
	activePolicyQuery = `SELECT p.version, p.body, p.created_at FROM active_policies a
		JOIN policies p ON p.tenant_id = a.tenant_id AND p.version = a.version WHERE a.tenant_id = ?`
	policyQuery = `SELECT version, body, created_at FROM policies WHERE tenant_id = ? AND version = ?`
)

func (t *txn) ActivePolicy(ctx context.Context, tenant string) (ledger.StoredPolicy, error) {
	return t.policy(ctx, activePolicyQuery, tenant)
}

func (t *txn) Policy(ctx context.Context, tenant string, version int64) (ledger.StoredPolicy, error) {
	return t.policy(ctx, policyQuery, tenant, version)
}

func (t *txn) policy(ctx context.Context, query string, args ...any) (ledger.StoredPolicy, error) {
	var p ledger.StoredPolicy
	var body string
	var created int64
	row, err := t.queryRow(ctx, query, args...)
	if err != nil {
		return p, err
	}
	err = row.Scan(&p.Version, &body, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return p, ledger.ErrNotFound
	}
	p.Body, p.CreatedAt = []byte(body), fromMicros(created)
	return p, translate(err)
}

func (t *txn) PutPolicy(ctx context.Context, tenant string, p ledger.StoredPolicy) error {
	if err := t.exec(ctx, `INSERT INTO policies (tenant_id, version, body, created_at) VALUES (?, ?, ?, ?)`,
		tenant, p.Version, string(p.Body), p.CreatedAt.UnixMicro()); err != nil {
		return err
	}
	return t.exec(ctx, `INSERT INTO active_policies (tenant_id, version) VALUES (?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version`, tenant, p.Version)
}

const jobCols = `tenant_id, job_id, policy_version, state, total, done, cursor, started_at, finished_at, error`

func (t *txn) Job(ctx context.Context, tenant, id string) (ledger.Job, error) {
	jobs, err := t.jobs(ctx, `SELECT `+jobCols+` FROM recompute_jobs WHERE tenant_id = ? AND job_id = ?`, tenant, id)
	if err != nil {
		return ledger.Job{}, err
	}
	if len(jobs) == 0 {
		return ledger.Job{}, ledger.ErrNotFound
	}
	return jobs[0], nil
}

func (t *txn) JobsInState(ctx context.Context, state ledger.JobState) ([]ledger.Job, error) {
	return t.jobs(ctx, `SELECT `+jobCols+` FROM recompute_jobs WHERE state = ? ORDER BY started_at, tenant_id, job_id`,
		rowcodec.JobState(state))
}

// LatestJob reads the tenant's jobs through the primary key: a tenant has
// one job per policy it installed, so sorting them is cheap.
func (t *txn) LatestJob(ctx context.Context, tenant string) (ledger.Job, error) {
	jobs, err := t.jobs(ctx, `SELECT `+jobCols+` FROM recompute_jobs WHERE tenant_id = ?
		ORDER BY started_at DESC, job_id DESC LIMIT 1`, tenant)
	if err != nil {
		return ledger.Job{}, err
	}
	if len(jobs) == 0 {
		return ledger.Job{}, ledger.ErrNotFound
	}
	return jobs[0], nil
}

func (t *txn) jobs(ctx context.Context, query string, args ...any) ([]ledger.Job, error) {
	rows, err := t.queryRows(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ledger.Job
	for rows.Next() {
		var (
			j        ledger.Job
			state    string
			started  int64
			finished sql.NullInt64
		)
		if err := rows.Scan(&j.TenantID, &j.ID, &j.PolicyVersion, &state, &j.Total, &j.Done, &j.Cursor,
			&started, &finished, &j.Error); err != nil {
			return nil, translate(err)
		}
		if j.State, err = rowcodec.ParseJobState(state); err != nil {
			return nil, err
		}
		j.StartedAt, j.FinishedAt = fromMicros(started), fromNull(finished)
		out = append(out, j)
	}
	return out, translate(rows.Err())
}

func (t *txn) PutJob(ctx context.Context, j ledger.Job) error {
	return t.exec(ctx, `INSERT OR REPLACE INTO recompute_jobs (`+jobCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.TenantID, j.ID, j.PolicyVersion, rowcodec.JobState(j.State), j.Total, j.Done, j.Cursor,
		j.StartedAt.UnixMicro(), toNull(j.FinishedAt), j.Error)
}
