package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the test tampers with the SQLite file directly

	"github.com/goodwill-ledger/goodwill/server/store/pgtest"
)

// daemon is one goodwilld process started by a test.
type daemon struct {
	cmd      *exec.Cmd
	grpcAddr string
	base     string // REST base URL
	out      *bytes.Buffer
	exited   chan error
}

// startDaemon starts bin serve on db with its bootstrap key in keyFile, no
// rate limit, and waits for /healthz. Empty addresses get free ports.
func startDaemon(t *testing.T, bin, db, keyFile, grpcAddr, httpAddr string) *daemon {
	t.Helper()
	if grpcAddr == "" {
		grpcAddr = freeAddr(t)
	}
	if httpAddr == "" {
		httpAddr = freeAddr(t)
	}
	d := &daemon{grpcAddr: grpcAddr, out: &bytes.Buffer{}, exited: make(chan error, 1)}
	d.base = "http://" + httpAddr
	d.cmd = exec.Command(bin, "serve", "--db", db, "--grpc-addr", d.grpcAddr, "--http-addr", httpAddr,
		"--bootstrap-key-file", keyFile, "--rate-limit", "0", "--log-level", "warn", "--webhook-allow-private")
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start goodwilld: %v", err)
	}
	go func() { d.exited <- d.cmd.Wait() }()
	t.Cleanup(func() { d.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(d.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d
			}
		}
		select {
		case err := <-d.exited:
			d.exited <- err
			t.Fatalf("goodwilld exited before serving: %v\n%s", err, d.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("goodwilld did not become healthy in 30s: %v\n%s", err, d.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to go.
func (d *daemon) kill() {
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	err := <-d.exited
	d.exited <- err
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.exited:
		d.exited <- err
		if err != nil {
			t.Fatalf("goodwilld exit after SIGTERM: %v\n%s", err, d.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("goodwilld did not stop within 30s of SIGTERM\n%s", d.out)
	}
}

// runVerify runs `goodwilld verify` and returns its exit code and output.
func runVerify(t *testing.T, bin, db string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, "verify", "--db", db)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("run goodwilld verify: %v\n%s", err, out)
	return 0, ""
}

// testStores lists the stores the binary tests run on: a SQLite file, and a
// fresh database on the test PostgreSQL (skipped when none is reachable and
// none is required, as pgtest decides).
func testStores() []string { return []string{"sqlite", "postgresql"} }

func freshStore(t *testing.T, kind string) string {
	t.Helper()
	if kind == "sqlite" {
		return "sqlite:" + filepath.Join(t.TempDir(), "goodwill.db")
	}
	for _, srv := range pgtest.Servers() {
		if srv.Name == kind {
			return pgtest.FreshDB(t, srv)
		}
	}
	t.Fatalf("no %s server configured", kind)
	return ""
}

// rawSQL runs statements on a store's database directly, beside goodwilld.
type rawSQL struct {
	exec     func(query string) error
	postgres bool
}

func openRaw(t *testing.T, db string) rawSQL {
	t.Helper()
	ctx := context.Background()
	if path, ok := strings.CutPrefix(db, "sqlite:"); ok {
		conn, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return rawSQL{exec: func(q string) error { _, err := conn.ExecContext(ctx, q); return err }}
	}
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return rawSQL{postgres: true, exec: func(q string) error { _, err := conn.Exec(ctx, q); return err }}
}

// now is a timestamp literal in the store's own column type.
func (r rawSQL) now() string {
	if r.postgres {
		return "now()"
	}
	return fmt.Sprint(time.Now().UnixMicro())
}

// insertEvent appends an event row by hand.
func (r rawSQL) insertEvent(tenant, customer, id, kind, key, reverses string) string {
	return fmt.Sprintf(`INSERT INTO events (tenant_id, customer_id, event_id, kind, magnitude, occurred_at, recorded_at,
		idempotency_key, fingerprint, reverses_event_id) VALUES ('%s', '%s', '%s', '%s', 1, %s, %s, '%s', 'fp-%s', '%s')`,
		tenant, customer, id, kind, r.now(), r.now(), key, id, reverses)
}

func postJSON(t *testing.T, token, url, body string) map[string]any {
	t.Helper()
	resp := call(t, token, http.MethodPost, url, body)
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST %s: %s, undecodable body: %v", url, resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s %v", url, resp.Status, out)
	}
	return out
}

// A ledger written through the real server verifies clean (exit 0); every
// kind of tampering through raw SQL is then reported with its tenant,
// customer and field, and verify exits 1. On SQLite and PostgreSQL.
func TestVerifyFindsTampering(t *testing.T) {
	bin := buildBinary(t)
	for _, kind := range testStores() {
		t.Run(kind, func(t *testing.T) {
			db := freshStore(t, kind)
			keyFile := filepath.Join(t.TempDir(), "admin.key")
			d := startDaemon(t, bin, db, keyFile, "", "")
			raw, err := os.ReadFile(keyFile)
			if err != nil {
				t.Fatal(err)
			}
			admin := strings.TrimSpace(string(raw))

			// c1..c8 get a credit, a delivery and a complaint each; c5 an
			// outage on top (on the recovery list); c8's credit is reversed.
			var reversed string
			for i := 1; i <= 8; i++ {
				c := fmt.Sprintf("c%d", i)
				url := d.base + "/v1/customers/" + c + "/events"
				for j, k := range []string{"CREDIT", "RELIABLE_DELIVERY", "COMPLAINT"} {
					resp := postJSON(t, admin, url, fmt.Sprintf(`{"kind":"EVENT_KIND_%s","magnitude":%d,"idempotencyKey":"%s-k%d"}`, k, i, c, j))
					if c == "c8" && j == 0 {
						reversed = get(resp, "event", "eventId").(string)
					}
				}
			}
			postJSON(t, admin, d.base+"/v1/customers/c5/events", `{"kind":"EVENT_KIND_OUTAGE","magnitude":30}`)
			postJSON(t, admin, d.base+"/v1/customers/c8/events/"+reversed+":reverse", `{"note":"twice"}`)
			// A second tenant, written with its own key.
			out, err := exec.Command(bin, "keys", "create", "--tenant", "acme", "--role", "writer", "--db", db).Output()
			if err != nil {
				t.Fatalf("keys create: %v", err)
			}
			postJSON(t, strings.TrimSpace(string(out)), d.base+"/v1/customers/a1/events", `{"kind":"EVENT_KIND_CREDIT"}`)
			d.stop(t)

			code, report := runVerify(t, bin, db)
			if code != 0 || !strings.Contains(report, "checked 2 tenants, 9 customers, 27 events: 0 mismatches") {
				t.Fatalf("clean ledger: exit %d, want 0 and 2 tenants, 9 customers, 27 events, no mismatch:\n%s", code, report)
			}

			sqlDB := openRaw(t, db)
			dropUnique := []string{"DROP INDEX events_by_idempotency_key", "DROP INDEX events_by_reversed"}
			if !sqlDB.postgres {
				// SQLite's insert trigger refuses duplicates too.
				dropUnique = append(dropUnique, "DROP TRIGGER events_no_replace")
			}
			where := func(c string) string { return " WHERE tenant_id = 'default' AND customer_id = '" + c + "'" }
			steps := []struct {
				name     string
				sql      []string
				tenant   string
				customer string
				field    string
			}{
				{"value at last", []string{"UPDATE customers SET value_at_last = value_at_last + 7" + where("c1")}, "default", "c1", "value_at_last"},
				{"event count off by one", []string{"UPDATE customers SET event_count = event_count + 1" + where("c2")}, "default", "c2", "event_count"},
				{"ranking key", []string{"UPDATE customers SET balance_rank = balance_rank + 0.25" + where("c3")}, "default", "c3", "balance_rank"},
				{"last event id", []string{"UPDATE customers SET last_event_id = 'forged'" + where("c4")}, "default", "c4", "last_event_id"},
				{"recovery key dropped", []string{"UPDATE customers SET recovery_key = NULL" + where("c5")}, "default", "c5", "recovery_key"},
				{"event without a customer row", []string{sqlDB.insertEvent("acme", "ghost", "ev-ghost", "credit", "", "")}, "acme", "", "events"},
				{"reversal of a missing event", []string{sqlDB.insertEvent("default", "c6", "ev-rev-missing", "reversal", "", "no-such-event")}, "default", "c6", "reversal"},
				{"idempotency key held twice", append(dropUnique, sqlDB.insertEvent("default", "c7", "ev-dup-key", "engagement", "c7-k0", "")), "default", "c7", "idempotency_key"},
				{"event reversed twice", []string{sqlDB.insertEvent("default", "c8", "ev-rev-again", "reversal", "", reversed)}, "default", "c8", "reversal"},
			}
			tampered := map[string]bool{}
			var want []string
			for _, st := range steps {
				for _, q := range st.sql {
					if err := sqlDB.exec(q); err != nil {
						t.Fatalf("%s: %s: %v", st.name, q, err)
					}
				}
				tampered[st.tenant+"/"+st.customer] = true
				want = append(want, fmt.Sprintf("MISMATCH tenant=%q customer=%q field=%s ", st.tenant, st.customer, st.field))
				code, report := runVerify(t, bin, db)
				if code != 1 {
					t.Errorf("after %s: verify exit %d, want 1:\n%s", st.name, code, report)
				}
				for _, w := range want {
					if !strings.Contains(report, w) {
						t.Errorf("after %s: the report lacks %q:\n%s", st.name, w, report)
					}
				}
				for _, m := range regexp.MustCompile(`MISMATCH tenant="([^"]*)" customer="([^"]*)"`).FindAllStringSubmatch(report, -1) {
					if !tampered[m[1]+"/"+m[2]] {
						t.Errorf("after %s: a mismatch names untouched customer %s/%s:\n%s", st.name, m[1], m[2], report)
					}
				}
				if !strings.Contains(report, "the ledger does not verify") {
					t.Errorf("after %s: the report does not say the ledger fails:\n%s", st.name, report)
				}
				if st.name == steps[len(steps)-1].name {
					t.Logf("the last report:\n%s", report)
				}
			}
		})
	}
}

func get(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// verify on a SQLite path with no store fails and creates nothing there.
func TestVerifyMissingStore(t *testing.T) {
	bin := buildBinary(t)
	path := filepath.Join(t.TempDir(), "typo.db")
	code, out := runVerify(t, bin, "sqlite:"+path)
	if code == 0 || !strings.Contains(out, "no store there") {
		t.Errorf("verify of a missing store: exit %d:\n%s", code, out)
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("verify created %s", path)
	}
}
