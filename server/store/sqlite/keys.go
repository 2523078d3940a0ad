package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/ledger"
)

const keyCols = `key_id, tenant_id, role, name, secret_hash, created_at, created_by, revoked_at`

// PutKey inserts a key through the writer, like every write.
func (s *Store) PutKey(ctx context.Context, k auth.Key) error {
	return s.Update(ctx, func(tx ledger.Tx) error {
		return tx.(*txn).exec(ctx, `INSERT INTO api_keys (`+keyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Tenant, k.Role.String(), k.Name, k.Hash, k.CreatedAt.UnixMicro(), k.CreatedBy, toNull(k.RevokedAt))
	})
}

func (s *Store) PutFirstKey(ctx context.Context, k auth.Key) (bool, error) {
	var put bool
	err := s.Update(ctx, func(tx ledger.Tx) error {
		res, err := tx.(*txn).tx.ExecContext(ctx, `INSERT INTO api_keys (`+keyCols+`)
			SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM api_keys)`,
			k.ID, k.Tenant, k.Role.String(), k.Name, k.Hash, k.CreatedAt.UnixMicro(), k.CreatedBy, toNull(k.RevokedAt))
		if err != nil {
			return translate(err)
		}
		n, err := res.RowsAffected()
		put = n == 1
		return err
	})
	return put, err
}

func (s *Store) Key(ctx context.Context, id string) (auth.Key, error) {
	k, err := scanKey(s.reader.QueryRowContext(ctx, `SELECT `+keyCols+` FROM api_keys WHERE key_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return k, ledger.ErrNotFound
	}
	return k, translate(err)
}

func (s *Store) Keys(ctx context.Context, tenant string) ([]auth.Key, error) {
	q, args := `SELECT `+keyCols+` FROM api_keys ORDER BY key_id`, []any{}
	if tenant != "" {
		q, args = `SELECT `+keyCols+` FROM api_keys WHERE tenant_id = ? ORDER BY key_id`, []any{tenant}
	}
	rows, err := s.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []auth.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, translate(rows.Err())
}

func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) error {
	return s.Update(ctx, func(tx ledger.Tx) error {
		res, err := tx.(*txn).tx.ExecContext(ctx,
			`UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE key_id = ?`, at.UnixMicro(), id)
		if err != nil {
			return translate(err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(ledger.ErrNotFound, err)
		}
		return nil
	})
}

func scanKey(row scanner) (auth.Key, error) {
	var (
		k       auth.Key
		role    string
		created int64
		revoked sql.NullInt64
	)
	if err := row.Scan(&k.ID, &k.Tenant, &role, &k.Name, &k.Hash, &created, &k.CreatedBy, &revoked); err != nil {
		return k, err
	}
	r, err := auth.ParseRole(role)
	if err != nil {
		return k, fmt.Errorf("api key %s: %w", k.ID, err)
	}
	k.Role, k.CreatedAt, k.RevokedAt = r, fromMicros(created), fromNull(revoked)
	return k, nil
}
