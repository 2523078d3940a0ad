package postgres

import (
	"context"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/rowcodec"
)

func (t *txn) ActivePolicy(ctx context.Context, tenant string) (ledger.StoredPolicy, error) {
	return t.policy(ctx, `SELECT p.version, p.body, p.created_at FROM active_policies a
		JOIN policies p ON p.tenant_id = a.tenant_id AND p.version = a.version WHERE a.tenant_id = $1`, tenant)
}

func (t *txn) Policy(ctx context.Context, tenant string, version int64) (ledger.StoredPolicy, error) {
	return t.policy(ctx, `SELECT version, body, created_at FROM policies WHERE tenant_id = $1 AND version = $2`,
		tenant, version)
}

func (t *txn) policy(ctx context.Context, query string, a ...any) (ledger.StoredPolicy, error) {
	var p ledger.StoredPolicy
	var body string
	err := t.tx.QueryRow(ctx, query, a...).Scan(&p.Version, &body, &p.CreatedAt)
	if isNoRows(err) {
		return p, ledger.ErrNotFound
	}
	p.Body, p.CreatedAt = []byte(body), p.CreatedAt.UTC()
	return p, translate(err)
}

func (t *txn) PutPolicy(ctx context.Context, tenant string, p ledger.StoredPolicy) error {
	if _, err := t.tx.Exec(ctx, `INSERT INTO policies (tenant_id, version, body, created_at) VALUES ($1, $2, $3, $4)`,
		tenant, p.Version, string(p.Body), p.CreatedAt); err != nil {
		return translate(err)
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO active_policies (tenant_id, version) VALUES ($1, $2)
		ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version`, tenant, p.Version)
	return translate(err)
}

const jobCols = `tenant_id, job_id, policy_version, state, total, done, cursor, started_at, finished_at, error`

func (t *txn) Job(ctx context.Context, tenant, id string) (ledger.Job, error) {
	jobs, err := t.jobs(ctx, `SELECT `+jobCols+` FROM recompute_jobs WHERE tenant_id = $1 AND job_id = $2`, tenant, id)
	if err != nil {
		return ledger.Job{}, err
	}
	if len(jobs) == 0 {
		return ledger.Job{}, ledger.ErrNotFound
	}
	return jobs[0], nil
}

func (t *txn) JobsInState(ctx context.Context, state ledger.JobState) ([]ledger.Job, error) {
	return t.jobs(ctx, `SELECT `+jobCols+` FROM recompute_jobs WHERE state = $1 ORDER BY started_at, tenant_id, job_id`,
		rowcodec.JobState(state))
}

// LatestJob reads the tenant's jobs through the primary key: a tenant has
// one job per policy it installed, so sorting them is cheap.
func (t *txn) LatestJob(ctx context.Context, tenant string) (ledger.Job, error) {
	jobs, err := t.jobs(ctx, `SELECT `+jobCols+` FROM recompute_jobs WHERE tenant_id = $1
		ORDER BY started_at DESC, job_id DESC LIMIT 1`, tenant)
	if err != nil {
		return ledger.Job{}, err
	}
	if len(jobs) == 0 {
		return ledger.Job{}, ledger.ErrNotFound
	}
	return jobs[0], nil
}

func (t *txn) jobs(ctx context.Context, query string, a ...any) ([]ledger.Job, error) {
	rows, err := t.tx.Query(ctx, query, a...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []ledger.Job
	for rows.Next() {
		var (
			j        ledger.Job
			state    string
			finished *time.Time
		)
		if err := rows.Scan(&j.TenantID, &j.ID, &j.PolicyVersion, &state, &j.Total, &j.Done, &j.Cursor,
			&j.StartedAt, &finished, &j.Error); err != nil {
			return nil, translate(err)
		}
		if j.State, err = rowcodec.ParseJobState(state); err != nil {
			return nil, err
		}
		j.StartedAt, j.FinishedAt = j.StartedAt.UTC(), fromTS(finished)
		out = append(out, j)
	}
	return out, translate(rows.Err())
}

func (t *txn) PutJob(ctx context.Context, j ledger.Job) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO recompute_jobs (`+jobCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (tenant_id, job_id) DO UPDATE SET policy_version = excluded.policy_version, state = excluded.state,
			total = excluded.total, done = excluded.done, cursor = excluded.cursor, started_at = excluded.started_at,
			finished_at = excluded.finished_at, error = excluded.error`,
		j.TenantID, j.ID, j.PolicyVersion, rowcodec.JobState(j.State), j.Total, j.Done, j.Cursor,
		j.StartedAt, ts(j.FinishedAt), j.Error)
	return translate(err)
}
