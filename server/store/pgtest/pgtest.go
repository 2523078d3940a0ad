// Package pgtest gives tests a fresh database on a real PostgreSQL or
// CockroachDB server. It is test support only.
//
// PostgreSQL: GOODWILL_TEST_POSTGRES_URL, default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable. When no
// server answers, tests skip with the reason, unless
// GOODWILL_TEST_REQUIRE_POSTGRES=1 (CI sets it), which makes them fail.
//
// CockroachDB: GOODWILL_TEST_COCKROACH_URL; unset means skip.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPostgresURL is where `make test` looks for PostgreSQL.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Server is one database server tests can use.
type Server struct {
	Name string // "postgresql" or "cockroachdb"
	URL  string // the admin URL, pointing at an existing database
}

// Servers lists the servers configured for this run: PostgreSQL always
// (perhaps to be skipped), CockroachDB when its URL is set.
func Servers() []Server {
	pg := os.Getenv("GOODWILL_TEST_POSTGRES_URL")
	if pg == "" {
		pg = DefaultPostgresURL
	}
	out := []Server{{Name: "postgresql", URL: pg}}
	if cr := os.Getenv("GOODWILL_TEST_COCKROACH_URL"); cr != "" {
		out = append(out, Server{Name: "cockroachdb", URL: cr})
	}
	return out
}

// FreshDB creates an empty database on srv, drops it when the test ends,
// and returns its URL. It skips (or fails, when required) if the server
// cannot be reached.
func FreshDB(t testing.TB, srv Server) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, srv.URL)
	if err != nil {
		if srv.Name == "postgresql" && os.Getenv("GOODWILL_TEST_REQUIRE_POSTGRES") != "1" {
			t.Skipf("SKIPPED: no PostgreSQL at %s (%v); start one or set GOODWILL_TEST_POSTGRES_URL", redact(srv.URL), err)
		}
		t.Fatalf("%s at %s unreachable: %v", srv.Name, redact(srv.URL), err)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "goodwill_test_" + hex.EncodeToString(b)
	create := "CREATE DATABASE " + name
	if srv.Name == "postgresql" {
		// A linguistic collation, as most production databases have
		// (en_US.UTF-8 or ICU): under C.UTF-8, this machine's default, the
		// store would sort ids bytewise however its columns were declared,
		// and the suite could not see the difference.
		create += linguistic
	}
	_, err = conn.Exec(ctx, create)
	if err != nil && create != "CREATE DATABASE "+name {
		// Without it the suite's order test cannot tell bytewise from
		// the server's collation. CI has ICU and must use it.
		if os.Getenv("GOODWILL_TEST_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("no ICU collation on %s (%v): the suite needs a linguistic collation to test id order", srv.Name, err)
		}
		t.Logf("no ICU collation on this server (%v): the test database uses the server's default, "+
			"and IDsSortBytewise cannot tell the difference", err)
		_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	}
	if err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, srv.URL)
		if err != nil {
			t.Logf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		drop := "DROP DATABASE IF EXISTS " + name
		if srv.Name == "postgresql" {
			drop += " WITH (FORCE)"
		} else {
			drop += " CASCADE"
		}
		if _, err := c.Exec(ctx, drop); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// linguistic asks for ICU's en-US collation (PostgreSQL 15 and later, built
// with ICU, as Debian's and the official images are).
const linguistic = " TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
