package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Private is a PostgreSQL server of one test's own, for tests that stop,
// crash or cut off the database (never do that to the shared server other
// tests use). It listens on a free loopback port with trust authentication
// and is stopped and deleted when the test ends.
type Private struct {
	t    testing.TB
	bin  string // folder holding initdb, pg_ctl and postgres
	dir  string // data directory
	port int
	// asPostgres: the test runs as root, and initdb and postgres refuse to;
	// every command runs as the postgres user through runuser.
	asPostgres bool
}

// StartPrivate initdbs a new cluster in a temporary folder and starts it.
// It skips the test when the PostgreSQL binaries are missing (set
// GOODWILL_TEST_PG_BIN to their folder), unless
// GOODWILL_TEST_REQUIRE_POSTGRES=1, which makes it fail.
func StartPrivate(t testing.TB) *Private {
	t.Helper()
	bin := findBinaries()
	if bin == "" {
		if os.Getenv("GOODWILL_TEST_REQUIRE_POSTGRES") == "1" {
			t.Fatal("GOODWILL_TEST_REQUIRE_POSTGRES=1 but no PostgreSQL binaries (initdb, pg_ctl, postgres) were found: " +
				"install them or set GOODWILL_TEST_PG_BIN")
		}
		t.Skip("SKIPPED: no PostgreSQL binaries (initdb, pg_ctl, postgres) on PATH or in /usr/lib/postgresql/*/bin; " +
			"set GOODWILL_TEST_PG_BIN to run this test")
	}
	p := &Private{t: t, bin: bin, port: freePort(t)}
	p.asPostgres = os.Geteuid() == 0
	// t.TempDir is private to root (0700 all the way up), so the postgres
	// user could not reach it: the cluster gets its own folder in the
	// system temporary folder, owned by whoever runs the server.
	dir, err := os.MkdirTemp("", "goodwill-pg-")
	if err != nil {
		t.Fatalf("private PostgreSQL: %v", err)
	}
	p.dir = filepath.Join(dir, "data")
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if p.asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("private PostgreSQL: running as root, so initdb must run as the postgres user, which does not exist: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatalf("private PostgreSQL: %v", err)
		}
	}
	if out, err := p.run("initdb", "-D", p.dir, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop("immediate") })
	return p
}

// URL is the admin URL of the cluster's postgres database.
func (p *Private) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Addr is the host:port the server listens on.
func (p *Private) Addr() string { return fmt.Sprintf("127.0.0.1:%d", p.port) }

// CreateDB creates an empty database and returns its URL.
func (p *Private) CreateDB(name string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.URL())
	if err != nil {
		p.t.Fatalf("private PostgreSQL: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		p.t.Fatalf("create database %s: %v", name, err)
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, name)
}

// Start starts the server and waits until it accepts connections.
//
// fsync is off: these tests crash the server process (pg_ctl stop -m
// immediate), not the machine, and what PostgreSQL wrote survives in the
// kernel's page cache, so durability across the crash is still tested;
// synchronous_commit stays on, so no COMMIT is answered before its WAL is
// written. Off, the tests run several times faster on a busy disk.
func (p *Private) Start() error {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=60 "+
		"-c shared_buffers=16MB -c fsync=off", p.port)
	if out, err := p.run("pg_ctl", "start", "-D", p.dir, "-w", "-t", "30", "-l", filepath.Join(p.dir, "server.log"),
		"-o", opts); err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, p.tailLog())
	}
	return nil
}

// Stop stops the server with pg_ctl's mode: "immediate" is a crash (no
// checkpoint; every backend killed at once), "fast" a clean shutdown.
func (p *Private) Stop(mode string) error {
	if out, err := p.run("pg_ctl", "stop", "-D", p.dir, "-m", mode, "-w", "-t", "30"); err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
	return nil
}

func (p *Private) run(name string, args ...string) ([]byte, error) {
	prog := filepath.Join(p.bin, name)
	var cmd *exec.Cmd
	if p.asPostgres {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", prog}, args...)...)
	} else {
		cmd = exec.Command(prog, args...)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// pg_ctl start leaves the server running in the background; with the
	// output going to a buffer, Wait would wait for it to exit too.
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	return out.Bytes(), err
}

func (p *Private) tailLog() string {
	raw, _ := os.ReadFile(filepath.Join(p.dir, "server.log"))
	if len(raw) > 4000 {
		raw = raw[len(raw)-4000:]
	}
	return string(raw)
}

// findBinaries returns the folder of initdb, pg_ctl and postgres, or "".
func findBinaries() string {
	has := func(dir string) bool {
		for _, n := range []string{"initdb", "pg_ctl", "postgres"} {
			if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("GOODWILL_TEST_PG_BIN"); d != "" {
		if has(d) {
			return d
		}
		return ""
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if has(d) {
			return d
		}
	}
	return ""
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(strings.Split(filepath.Base(filepath.Dir(binDir)), ".")[0])
	return v
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
