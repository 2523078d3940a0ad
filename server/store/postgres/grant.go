package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// privileges are what goodwilld needs on each table, and no more. Events
// get no UPDATE, DELETE or TRUNCATE: the ledger is append-only, and with
// these grants that holds on both servers for the role goodwilld runs as
// (on PostgreSQL, migration 2's triggers also hold it for the owner). The
// upserts need INSERT and UPDATE; only old notifications are ever deleted. goose's version
// table is read at every start to see whether migrations are pending.
var privileges = []struct{ table, what string }{
	{"events", "SELECT, INSERT"},
	{"customers", "SELECT, INSERT, UPDATE"},
	{"policies", "SELECT, INSERT"},
	{"active_policies", "SELECT, INSERT, UPDATE"},
	{"recompute_jobs", "SELECT, INSERT, UPDATE"},
	{"api_keys", "SELECT, INSERT, UPDATE"},
	// The outbox: numbered after commit (UPDATE), pruned after the
	// retention (DELETE); notifications are not the ledger.
	{"notifications", "SELECT, INSERT, UPDATE, DELETE"},
	{"notification_seq", "SELECT, INSERT, UPDATE"},
	{"notification_cursors", "SELECT, INSERT, UPDATE"},
	{"notification_marks", "SELECT, INSERT, UPDATE"},
	{"trend_points", "SELECT, INSERT, UPDATE"},
	{"leases", "SELECT, INSERT, UPDATE, DELETE"},
	{"webhooks", "SELECT, INSERT, UPDATE, DELETE"},
	{"webhook_deliveries", "SELECT, INSERT, UPDATE, DELETE"},
	{"webhook_attempts", "SELECT, INSERT, UPDATE, DELETE"},
	{"goose_db_version", "SELECT"},
}

// GrantStatements are the GRANTs that let role run goodwilld serve, keys
// and verify on a migrated database, without owning it.
func GrantStatements(role string) []string {
	r := pgx.Identifier{role}.Sanitize()
	out := make([]string, len(privileges))
	for i, p := range privileges {
		out[i] = fmt.Sprintf("GRANT %s ON TABLE %s TO %s", p.what, pgx.Identifier{p.table}.Sanitize(), r)
	}
	return out
}

// PostgresGrantStatements are the GRANTs PostgreSQL needs besides
// GrantStatements: the guarded write's check (migration 16), which
// PostgreSQL lets every role run unless the database's owner took that
// from PUBLIC. CockroachDB has no such function.
func PostgresGrantStatements(role string) []string {
	return []string{"GRANT EXECUTE ON FUNCTION goodwill_check_written(BIGINT, BIGINT) TO " + pgx.Identifier{role}.Sanitize()}
}

// Grant runs GrantStatements (and on PostgreSQL PostgresGrantStatements)
// as the store's own user (the schema's owner, who ran the migrations), in
// one transaction on a migration connection (on CockroachDB, where a GRANT
// is a schema change, one that does not autocommit before it).
func (s *Store) Grant(ctx context.Context, role string) error {
	if role == "" {
		return fmt.Errorf("grant: no role named")
	}
	db := s.migrationDB()
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	defer func() { _ = tx.Rollback() }()
	stmts := GrantStatements(role)
	if !s.crdb {
		stmts = append(stmts, PostgresGrantStatements(role)...)
	}
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, translate(err))
		}
	}
	return translate(tx.Commit())
}
