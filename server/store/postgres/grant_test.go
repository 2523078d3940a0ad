package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/pgtest"
	"github.com/goodwill-ledger/goodwill/server/store/postgres"
	"github.com/goodwill-ledger/goodwill/server/store/storetest"
)

// appRole creates a login role that owns nothing, as docs/deploy-cockroachdb.md
// has operators create for goodwilld, and drops it when the test ends.
func appRole(t *testing.T, srv pgtest.Server) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	role := "goodwill_app_" + hex.EncodeToString(b)
	admin(t, srv.URL, "CREATE ROLE "+role+" LOGIN")
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), srv.URL)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP ROLE IF EXISTS "+role); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	return role
}

// asRole opens a fresh database migrated by its owner, granted to role,
// and returns a store connected as role.
func asRole(t *testing.T, srv pgtest.Server, role string) (*postgres.Store, string) {
	t.Helper()
	owner, ownerURL := open(t, srv)
	if owner.Server() == "postgresql" {
		// As a careful owner may: Grant must then give it explicitly.
		admin(t, ownerURL, "REVOKE EXECUTE ON FUNCTION goodwill_check_written(BIGINT, BIGINT) FROM PUBLIC")
	}
	if err := owner.Grant(t.Context(), role); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	s, err := postgres.Open(t.Context(), u.String(), postgres.Options{Migrate: true, Logger: quiet()})
	if err != nil {
		t.Fatalf("open as %s: %v", role, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, u.String()
}

// With the documented grants, goodwilld's role passes the whole conformance
// suite without owning a table: the grants are enough.
func TestConformanceAsTheAppRole(t *testing.T) {
	for _, srv := range pgtest.Servers() {
		t.Run(srv.Name, func(t *testing.T) {
			role := appRole(t, srv)
			storetest.Run(t, func(t *testing.T) ledger.Store {
				s, _ := asRole(t, srv, role)
				return s
			})
			storetest.RunKeys(t, func(t *testing.T) auth.KeyStore {
				s, _ := asRole(t, srv, role)
				return s
			})
		})
	}
}

// Events are append-only for goodwilld's role on both servers: it may not
// change, delete or truncate them (refused for want of privilege, before
// PostgreSQL's triggers would be asked).
func TestEventsAreAppendOnlyForTheAppRole(t *testing.T) {
	for _, srv := range pgtest.Servers() {
		t.Run(srv.Name, func(t *testing.T) {
			s, roleURL := asRole(t, srv, appRole(t, srv))
			ctx := t.Context()
			now := time.Now().UTC().Truncate(time.Microsecond)
			if err := s.Update(ctx, func(tx ledger.Tx) error {
				return tx.AppendEvent(ctx, ledger.Event{TenantID: "t", CustomerID: "c", ID: "e1", Kind: ledger.KindCredit,
					Magnitude: 1, OccurredAt: now, RecordedAt: now, Fingerprint: "fp"})
			}); err != nil {
				t.Fatal(err)
			}
			conn, err := pgx.Connect(ctx, roleURL)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			for _, stmt := range []string{`UPDATE events SET magnitude = 100`, `DELETE FROM events`, `TRUNCATE events`} {
				_, err := conn.Exec(ctx, stmt)
				var pe *pgconn.PgError
				if !errors.As(err, &pe) || pe.Code != "42501" {
					t.Errorf("%s as the app role: %v, want permission denied (42501)", stmt, err)
				}
			}
		})
	}
}
