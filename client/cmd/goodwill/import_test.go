package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/client"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// The import tests load importRows events over importCustomers customers,
// kill the importer or the server midway, and check that a rerun leaves
// exactly the file in the ledger, with the balances of a one-pass import.
const (
	importRows      = 100_000
	importCustomers = 200
)

// importAsOf is the moment balances are compared at: after every event
// of the file, fixed so two servers compare alike.
var importAsOf = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// historyFile writes the import tests' CSV once: no keys (the importer
// derives them), kinds of both signs, magnitudes and times that differ.
var historyFile = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "goodwill-import-")
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	b.WriteString("customer_id,kind,magnitude,occurred_at,source\n")
	kinds := []string{"reliable_delivery", "outage", "response", "complaint", "credit", "proactive_notice", "suggestion_adopted"}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range importRows {
		fmt.Fprintf(&b, "imp%03d,%s,%d,%s,history\n", i%importCustomers, kinds[i%len(kinds)], 1+i%4,
			start.Add(time.Duration(i)*2*time.Minute).Format(time.RFC3339))
	}
	path := filepath.Join(dir, "history.csv")
	return path, os.WriteFile(path, b.Bytes(), 0o600)
})

// onePass imports the file into the shared server in one uninterrupted
// run, once: the reference the interrupted imports must equal.
var onePass = sync.OnceValue(func() error {
	path, err := historyFile()
	if err != nil {
		return err
	}
	cmd := exec.Command(goodwillBin, "--addr", srv.grpcAddr, "--token-file", srv.keyFile, "import", "events", path, "--progress", "none")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("one-pass import: %w\n%s", err, out)
	}
	return nil
})

// startImport starts `goodwill import events` as a process of its own, so a
// test can SIGKILL it.
// Its stdout (the JSON summary) and stderr go to separate buffers.
func startImport(t *testing.T, s *server, path string, extra ...string) (*exec.Cmd, *output) {
	t.Helper()
	out := &output{}
	cmd := exec.Command(goodwillBin, append([]string{"--addr", s.grpcAddr, "--token-file", s.keyFile, "-o", "json",
		"import", "events", path, "--progress", "none"}, extra...)...)
	cmd.Stdout, cmd.Stderr = &out.stdout, &out.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

type output struct{ stdout, stderr bytes.Buffer }

func (o *output) String() string { return o.stdout.String() + o.stderr.String() }

// recorded is how many events s holds, from its balances' event counts
// (the server holds only this file's customers).
func recorded(t *testing.T, s *server) int64 {
	t.Helper()
	c := dialServer(t, s)
	var total int64
	req := &goodwillv1.ListBalancesRequest{PageSize: 1000}
	for {
		resp, err := c.ListBalances(t.Context(), req)
		if err != nil {
			t.Fatalf("list balances: %v", err)
		}
		for _, b := range resp.GetBalances() {
			total += b.GetBalance().GetEventCount()
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			return total
		}
	}
}

func dialServer(t *testing.T, s *server) *client.Client {
	t.Helper()
	c, err := client.Dial(s.grpcAddr, client.WithToken(s.token))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFor polls until s holds at least n events, and returns how many.
func waitFor(t *testing.T, s *server, n int64) int64 {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if got := recorded(t, s); got >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the import did not reach %d events in 2 minutes", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sameBalances compares every customer's balance on s with the one-pass
// reference, at importAsOf.
func sameBalances(t *testing.T, s *server) {
	t.Helper()
	if err := onePass(); err != nil {
		t.Fatal(err)
	}
	got, want := dialServer(t, s), dialServer(t, srv)
	for i := range importCustomers {
		id := fmt.Sprintf("imp%03d", i)
		a, err := got.BalanceAsOf(t.Context(), id, importAsOf)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		b, err := want.BalanceAsOf(t.Context(), id, importAsOf)
		if err != nil {
			t.Fatalf("%s on the reference: %v", id, err)
		}
		if math.Abs(a.GetBalance()-b.GetBalance()) > 1e-9 || a.GetEventCount() != b.GetEventCount() {
			t.Errorf("%s: balance %v over %d events, one pass %v over %d", id, a.GetBalance(), a.GetEventCount(),
				b.GetBalance(), b.GetEventCount())
		}
	}
}

// The importer SIGKILLed midway, then run again: exactly the file's
// events, and the balances of one pass.
func TestImportSurvivesKilledImporter(t *testing.T) {
	path, err := historyFile()
	if err != nil {
		t.Fatal(err)
	}
	s, err := startServer(filepath.Join(t.TempDir(), "srv"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()

	cmd, out := startImport(t, s, path, "--batch-size", "500", "--in-flight", "2")
	waitFor(t, s, importRows/5)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	atKill := recorded(t, s)
	if atKill >= importRows {
		t.Fatalf("the importer finished (%d events) before it was killed: nothing was tested\n%s", atKill, out)
	}

	rerun, out := startImport(t, s, path)
	if err := rerun.Wait(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	var summary map[string]int64
	if err := json.Unmarshal(out.stdout.Bytes(), &summary); err != nil {
		t.Fatalf("summary: %v\n%s", err, out)
	}
	if summary["created"]+summary["replayed"] != importRows || summary["replayed"] < atKill || summary["invalid"] != 0 {
		t.Fatalf("rerun summary %v after %d events were in", summary, atKill)
	}
	if got := recorded(t, s); got != importRows {
		t.Fatalf("%d events after the rerun, want %d", got, importRows)
	}
	sameBalances(t, s)
}

// The server SIGKILLed midway and started again: the importer sends its
// batches again until the server is back, completes, and the ledger holds
// exactly the file.
func TestImportSurvivesKilledServer(t *testing.T) {
	path, err := historyFile()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "srv")
	s, err := startServer(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	cmd, out := startImport(t, s, path, "--batch-size", "500", "--in-flight", "2")
	waitFor(t, s, importRows/5)
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait()
	time.Sleep(300 * time.Millisecond) // calls fail meanwhile: the client retries UNAVAILABLE
	s, err = startServerAt(dir, s.grpcAddr, s.httpAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the importer gave up across the restart: %v\n%s", err, out)
	}
	if got := recorded(t, s); got != importRows {
		t.Fatalf("%d events, want %d\n%s", got, importRows, out)
	}
	sameBalances(t, s)
}

// Bad rows: the first stops the import with exit 2, naming line and
// column; with --max-errors the rest go in and the rejects are written.
func TestImportReportsBadRows(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.csv")
	csv := "customer_id,kind,magnitude,occurred_at\nbad01,outage,1,2025-01-01\nbad02,outrage,1,2025-01-02\nbad03,credit,-3,2025-01-03\nbad04,credit,3,2025-01-04\n"
	if err := os.WriteFile(path, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	r := gw(t, "import", "events", path, "--progress", "none")
	if r.code != exitUsage || !strings.Contains(r.stderr, "line 3, column kind") || !strings.Contains(r.stderr, "outrage") {
		t.Fatalf("exit %d, stderr %q: want 2 naming line 3, column kind", r.code, r.stderr)
	}
	rejects := filepath.Join(dir, "rejects.csv")
	r = gw(t, "-o", "json", "import", "events", path, "--progress", "none", "--max-errors", "5", "--rejects", rejects).ok(t)
	var summary map[string]int64
	r.decode(t, &summary)
	if summary["created"] != 2 || summary["invalid"] != 2 {
		t.Fatalf("summary %v: want 2 created, 2 invalid", summary)
	}
	got, err := os.ReadFile(rejects)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"3,kind,", "4,magnitude,"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("rejects lack %q:\n%s", want, got)
		}
	}
}

// The sample files of the README import as they are.
func TestImportSamples(t *testing.T) {
	root := filepath.Join("..", "..", "..", "docs", "samples")
	gw(t, "import", "customers", filepath.Join(root, "customers.csv"), "--progress", "none").ok(t)
	r := gw(t, "-o", "json", "import", "events", filepath.Join(root, "history.csv"), "--progress", "none").ok(t)
	var summary map[string]int64
	r.decode(t, &summary)
	if summary["rows"] != 11 || summary["created"]+summary["replayed"] != 11 {
		t.Fatalf("summary %v", summary)
	}
	r = gw(t, "-o", "json", "customer", "get", "bob").ok(t)
	if !strings.Contains(r.stdout, `"silver"`) {
		t.Fatalf("bob's profile: %s", r.stdout)
	}
}
