package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/goodwill-ledger/goodwill/server/store/pgtest"
)

// keys never migrates: on a store whose schema is behind it refuses,
// naming the command that brings it up to date, and leaves the file
// unmigrated.
func TestKeysRefuseAnUnmigratedStore(t *testing.T) {
	bin := buildBinary(t)
	db := "sqlite:" + filepath.Join(t.TempDir(), "goodwill.db")
	out, err := exec.Command(bin, "keys", "list", "--db", db).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "goodwilld migrate") {
		t.Fatalf("keys on a fresh store: %v\n%s; want a refusal naming goodwilld migrate", err, out)
	}
	if out, err := exec.Command(bin, "migrate", "--db", db).CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "keys", "list", "--db", db).CombinedOutput(); err != nil {
		t.Fatalf("keys after migrate: %v\n%s", err, out)
	}
}

// goodwilld grant gives a role what goodwilld needs and nothing that
// would let it rewrite the ledger.
func TestGrantCommand(t *testing.T) {
	srv := pgtest.Servers()[0]
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	role := "goodwill_cli_" + hex.EncodeToString(b)
	// Registered before the database, so it runs after the database is
	// dropped (cleanups run last first): the role's grants go with it.
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), srv.URL)
		if err != nil {
			t.Logf("drop role %s: %v", role, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP ROLE IF EXISTS "+role); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	db := pgtest.FreshDB(t, srv)
	bin := buildBinary(t)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE ROLE "+role); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "grant", role, "--db", db).CombinedOutput(); err == nil || !strings.Contains(string(out), "goodwilld migrate") {
		t.Errorf("grant before migrate: %v\n%s; want a refusal naming goodwilld migrate", err, out)
	}
	if out, err := exec.Command(bin, "migrate", "--db", db).CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "grant", role, "--db", db).CombinedOutput(); err != nil {
		t.Fatalf("grant: %v\n%s", err, out)
	}
	for priv, want := range map[string]bool{"SELECT": true, "INSERT": true, "UPDATE": false, "DELETE": false, "TRUNCATE": false} {
		var got bool
		if err := conn.QueryRow(ctx, `SELECT has_table_privilege($1, 'events', $2)`, role, priv).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s on events: %v, want %v", priv, got, want)
		}
	}
	out, err := exec.Command(bin, "grant", role, "--print").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `GRANT SELECT, INSERT ON TABLE "events" TO "`+role+`";`) {
		t.Errorf("grant --print: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "grant", role, "--db", "sqlite:"+filepath.Join(t.TempDir(), "g.db")).CombinedOutput(); err == nil || !strings.Contains(string(out), "no database roles") {
		t.Errorf("grant on SQLite: %v\n%s", err, out)
	}
}
