package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/ledger"
)

const keyCols = `key_id, tenant_id, role, name, secret_hash, created_at, created_by, revoked_at`

// PutKey inserts a key in a retried write transaction, like every write.
func (s *Store) PutKey(ctx context.Context, k auth.Key) error {
	var revoked *time.Time
	if k.Revoked() {
		revoked = &k.RevokedAt
	}
	return s.Update(ctx, func(tx ledger.Tx) error {
		_, err := tx.(*txn).tx.Exec(ctx, `INSERT INTO api_keys (`+keyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			k.ID, k.Tenant, k.Role.String(), k.Name, k.Hash, k.CreatedAt, k.CreatedBy, revoked)
		return translate(err)
	})
}

// PutFirstKey checks and inserts in one SERIALIZABLE transaction: of two
// servers bootstrapping at once, one is retried and then finds the other's
// key.
func (s *Store) PutFirstKey(ctx context.Context, k auth.Key) (bool, error) {
	var revoked *time.Time
	if k.Revoked() {
		revoked = &k.RevokedAt
	}
	var put bool
	err := s.Update(ctx, func(tx ledger.Tx) error {
		tag, err := tx.(*txn).tx.Exec(ctx, `INSERT INTO api_keys (`+keyCols+`)
			SELECT $1::TEXT, $2::TEXT, $3::TEXT, $4::TEXT, $5::BYTEA, $6::TIMESTAMPTZ, $7::TEXT, $8::TIMESTAMPTZ WHERE NOT EXISTS (SELECT 1 FROM api_keys)`,
			k.ID, k.Tenant, k.Role.String(), k.Name, k.Hash, k.CreatedAt, k.CreatedBy, revoked)
		put = tag.RowsAffected() == 1
		return translate(err)
	})
	return put, err
}

// Key reads on the pool: one statement needs no transaction.
func (s *Store) Key(ctx context.Context, id string) (auth.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyCols+` FROM api_keys WHERE key_id = $1`, id))
	if isNoRows(err) {
		return k, ledger.ErrNotFound
	}
	return k, translate(err)
}

func (s *Store) Keys(ctx context.Context, tenant string) ([]auth.Key, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+keyCols+` FROM api_keys WHERE $1 = '' OR tenant_id = $1 ORDER BY key_id`, tenant)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (auth.Key, error) { return scanKey(r) })
	return out, translate(err)
}

func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) error {
	return s.Update(ctx, func(tx ledger.Tx) error {
		tag, err := tx.(*txn).tx.Exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE key_id = $2`, at, id)
		if err != nil {
			return translate(err)
		}
		if tag.RowsAffected() == 0 {
			return ledger.ErrNotFound
		}
		return nil
	})
}

func scanKey(row scanner) (auth.Key, error) {
	var (
		k       auth.Key
		role    string
		revoked *time.Time
	)
	if err := row.Scan(&k.ID, &k.Tenant, &role, &k.Name, &k.Hash, &k.CreatedAt, &k.CreatedBy, &revoked); err != nil {
		return k, err
	}
	r, err := auth.ParseRole(role)
	if err != nil {
		return k, fmt.Errorf("api key %s: %w", k.ID, err)
	}
	k.Role, k.CreatedAt, k.RevokedAt = r, k.CreatedAt.UTC(), fromTS(revoked)
	return k, nil
}
