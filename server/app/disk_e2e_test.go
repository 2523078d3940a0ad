package app_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	_ "modernc.org/sqlite" // integrity_check on the file afterwards

	"github.com/goodwill-ledger/goodwill/client"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/app/writeload"
)

// The embedded store on a disk that fills up, and on files that stop being
// writable, under 8 writers that retry with their idempotency keys. While
// the disk refuses writes, clients get UNAVAILABLE saying why; once it
// takes writes again the server serves them without a restart; afterwards
// every acknowledged event is there once and SQLite's integrity_check is
// ok. Mounting needs root: the test skips otherwise (CI runs as root).

func TestSQLiteDiskFull(t *testing.T) {
	dir := mountTmpfs(t, "8m") // room for the run's events and their notifications
	db := filepath.Join(dir, "goodwill.db")
	diskFault(t, db, "is full", func() func() {
		// Fill what is left of the disk.
		filler := filepath.Join(dir, "filler")
		f, err := os.Create(filler)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64<<10)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("fill the disk: %v", err)
				}
				break
			}
		}
		f.Close()
		return func() {
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestSQLiteFilesNotWritable(t *testing.T) {
	dir := mountExt4(t, "32M")
	db := filepath.Join(dir, "goodwill.db")
	diskFault(t, db, "not writable", func() func() {
		// chattr +i refuses writes even to descriptors already open and even
		// to root, which chmod does not; a read-only remount is refused by the
		// kernel while the store holds its files open for writing.
		files := []string{db, db + "-wal"}
		chattr(t, "+i", files...)
		return func() { chattr(t, "-i", files...) }
	})
}

// diskFault runs the load, injects the fault (inject returns the repair),
// checks the error clients get, repairs, and checks recovery and the data.
func diskFault(t *testing.T, db, want string, inject func() (repair func())) {
	ts := startServer(t, "sqlite:"+db)
	load := writeload.Start(ts.Client, writeload.Config{Writers: 8, Retry: true, Attempt: attemptDeadline, Prefix: "disk-"})
	stopped := false
	defer func() {
		if !stopped {
			load.Stop()
		}
	}()
	if err := load.WaitAcks(100, 20*time.Second); err != nil {
		t.Fatalf("before the fault: %v", err)
	}
	repair := inject()
	repaired := false
	defer func() {
		if !repaired {
			repair()
		}
	}()
	// Writes already queued may still land in memory; give the store a
	// moment to hit the disk.
	time.Sleep(300 * time.Millisecond)
	var code codes.Code
	var msg string
	var took time.Duration
	for i := range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 4*probeBudget)
		t0 := time.Now()
		_, err := ts.Record(ctx, "probe", client.Event{Kind: goodwillv1.EventKind_EVENT_KIND_RESPONSE,
			IdempotencyKey: fmt.Sprintf("disk-probe-%d", i)})
		cancel()
		took = time.Since(t0)
		code, msg = status.Code(err), status.Convert(err).Message()
		if code != codes.OK {
			break
		}
	}
	if code != codes.Unavailable || !strings.Contains(msg, want) || took > probeBudget {
		t.Errorf("a write during the fault ended with %s %q after %s; want UNAVAILABLE saying the disk %s, within %s",
			code, msg, took.Round(time.Millisecond), want, probeBudget)
	}
	time.Sleep(time.Second)
	during := load.Codes()
	repair()
	repaired = true
	back := time.Now()
	at, err := load.FirstAckAfter(back, recoverBudget)
	if err != nil {
		t.Fatalf("no recovery once the disk took writes again: %v", err)
	}
	if err := load.WaitAcks(100, recoverBudget); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	stopped = true
	res := load.Stop()
	v := checkLoad(t, ts.Client, "disk", res)
	if err := ts.stop(); err != nil {
		t.Errorf("server stopped with error: %v", err)
	}
	checkIntegrity(t, db)
	t.Logf("FIGURES disk %s: client saw %s %q; first ack %s after repair; during fault unavailable=%d; %s",
		want, code, msg, at.Sub(back).Round(time.Millisecond), during[codes.Unavailable], summary(res, v))
}

func checkIntegrity(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	if res != "ok" {
		t.Errorf("integrity_check after the fault: %s", res)
	}
}

// needRoot skips unless the test runs as root (mount and chattr need it).
func needRoot(t *testing.T) {
	t.Helper()
	onceOnly(t)
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: needs root to mount a small file system (run as root, as CI does)")
	}
}

func mountTmpfs(t *testing.T, size string) string {
	needRoot(t)
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: cannot mount a tmpfs here (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { umount(t, dir) })
	return dir
}

func mountExt4(t *testing.T, size string) string {
	needRoot(t)
	base := t.TempDir()
	img, dir := filepath.Join(base, "disk.img"), filepath.Join(base, "mnt")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("truncate", "-s", size, img).CombinedOutput(); err != nil {
		t.Fatalf("truncate: %v: %s", err, out)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", img).CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: cannot make an ext4 file system (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	if out, err := exec.Command("mount", "-o", "loop", img, dir).CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: cannot mount a loop device here (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { umount(t, dir) })
	return dir
}

func umount(t *testing.T, dir string) {
	if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
		t.Errorf("umount %s: %v: %s", dir, err, out)
	}
}

func chattr(t *testing.T, flag string, files ...string) {
	t.Helper()
	if out, err := exec.Command("chattr", append([]string{flag}, files...)...).CombinedOutput(); err != nil {
		t.Fatalf("chattr %s: %v: %s", flag, err, out)
	}
}
