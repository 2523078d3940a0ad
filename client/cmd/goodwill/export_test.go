package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// gwAt runs goodwill against s.
func gwAt(t *testing.T, s *server, args ...string) result {
	t.Helper()
	return gwRaw(t, append([]string{"--addr", s.grpcAddr, "--token-file", s.keyFile}, args...)...)
}

// The sample history goes in, comes out as Parquet (read back by Apache
// Arrow's independent reader: every row, typed columns) and as CSV, and
// that CSV imported into a second, empty ledger gives the same balances.
func TestExportRoundTrip(t *testing.T) {
	a, err := startServer(filepath.Join(t.TempDir(), "a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.stop()
	samples := filepath.Join("..", "..", "..", "docs", "samples")
	gwAt(t, a, "import", "customers", filepath.Join(samples, "customers.csv"), "--progress", "none").ok(t)
	gwAt(t, a, "import", "events", filepath.Join(samples, "history.csv"), "--progress", "none").ok(t)

	dir := t.TempDir()
	pq := filepath.Join(dir, "events.parquet")
	r := gwAt(t, a, "export", "events", pq, "--progress", "none").ok(t)
	if !strings.Contains(r.stderr, "wrote 11 rows") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	raw, err := os.ReadFile(pq)
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := file.NewParquetReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	table, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer table.Release()
	if table.NumRows() != 11 {
		t.Fatalf("%d rows in the Parquet file, want 11", table.NumRows())
	}
	if got := table.Schema().Field(table.Schema().FieldIndices("occurred_at")[0]).Type.String(); !strings.HasPrefix(got, "timestamp") {
		t.Errorf("occurred_at is %s", got)
	}

	// Filters: only gold customers' events (alice, carol), only outages.
	r = gwAt(t, a, "export", "events", "--segment", "gold", "--kind", "outage", "--format", "csv", "--progress", "none").ok(t)
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[1][1] != "carol" || recs[1][2] != "outage" {
		t.Fatalf("gold outages: %v", recs)
	}

	csvPath := filepath.Join(dir, "events.csv")
	gwAt(t, a, "export", "events", csvPath, "--progress", "none").ok(t)
	b, err := startServer(filepath.Join(t.TempDir(), "b"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.stop()
	gwAt(t, b, "import", "events", csvPath, "--progress", "none").ok(t)
	// Profiles too, attributes and own limits included; dave has no limit
	// of his own, and still has none after the trip.
	profiles := filepath.Join(dir, "customers.csv")
	gwAt(t, a, "export", "customers", profiles, "--progress", "none").ok(t)
	gwAt(t, b, "import", "customers", profiles, "--progress", "none").ok(t)
	r = gwAt(t, b, "-o", "csv", "customer", "list", "--all").ok(t)
	listed, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 5 || listed[2][0] != "bob" || listed[2][2] != "silver" || listed[2][4] != "-20" ||
		!strings.Contains(listed[2][5], "monthly") || listed[4][0] != "dave" || listed[4][4] != "" {
		t.Fatalf("profiles after the round trip:\n%s", r.stdout)
	}
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, id := range []string{"alice", "bob", "carol", "dave"} {
		x, err := dialServer(t, a).BalanceAsOf(t.Context(), id, at)
		if err != nil {
			t.Fatal(err)
		}
		y, err := dialServer(t, b).BalanceAsOf(t.Context(), id, at)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(x.GetBalance()-y.GetBalance()) > 1e-9 || x.GetEventCount() != y.GetEventCount() {
			t.Errorf("%s: %v (%d events) exported, %v (%d) after the round trip", id, x.GetBalance(), x.GetEventCount(),
				y.GetBalance(), y.GetEventCount())
		}
	}

	// Balances at one moment: every row carries the same as_of.
	r = gwAt(t, a, "export", "balances", "--as-of", "2026-06-01", "--format", "csv", "--progress", "none").ok(t)
	recs, err = csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 {
		t.Fatalf("balances: %v", recs)
	}
	for _, rec := range recs[1:] {
		if rec[len(rec)-1] != "2026-06-01T00:00:00Z" {
			t.Errorf("row %v is not at the asked moment", rec)
		}
	}
}
