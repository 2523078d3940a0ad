package importer_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/goodwill-ledger/goodwill/client"
	"github.com/goodwill-ledger/goodwill/client/importer"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/app"
	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store"
)

// The importer talks to the real server (app.Config -> Complete -> Run) on
// a fresh SQLite store, over gRPC on loopback.

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func serve(t *testing.T) *client.Client {
	t.Helper()
	db := "sqlite:" + filepath.Join(t.TempDir(), "goodwill.db")
	st, err := store.Open(t.Context(), db, store.Options{Migrate: true, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := auth.CreateKey(t.Context(), st, quiet(), ledger.DefaultTenant, auth.Admin, "import test", "test")
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, err := app.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", DB: db, Logger: quiet()}.Complete(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- done.Run(ctx) }()
	c, err := client.Dial(done.GRPCAddr(), client.WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("server stopped with error: %v", err)
		}
	})
	return c
}

// history is a CSV of n events over 50 customers, without keys.
func history(n int) string {
	var b strings.Builder
	b.WriteString("customer_id,kind,magnitude,occurred_at,source,attr.channel\n")
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	kinds := []string{"reliable_delivery", "EVENT_KIND_OUTAGE", "Response", "complaint", "credit"}
	for i := range n {
		fmt.Fprintf(&b, "c%02d,%s,%d,%s,crm,%s\n", i%50, kinds[i%len(kinds)], 1+i%3,
			start.Add(time.Duration(i)*time.Hour).Format(time.RFC3339), []string{"web", "phone"}[i%2])
	}
	return b.String()
}

func run(t *testing.T, c *client.Client, input string, opts importer.Options) (importer.Counts, error) {
	t.Helper()
	r, err := importer.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r.Events(t.Context(), c, strings.NewReader(input))
}

// balances is every customer's balance at one moment, by id.
func balances(t *testing.T, c *client.Client, n int) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for i := range n {
		id := fmt.Sprintf("c%02d", i)
		b, err := c.BalanceAsOf(t.Context(), id, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatalf("balance of %s: %v", id, err)
		}
		out[id] = b.GetBalance()
	}
	return out
}

func countEvents(t *testing.T, c *client.Client, customers int) int {
	t.Helper()
	total := 0
	for i := range customers {
		token := ""
		for {
			resp, err := c.ListEvents(t.Context(), &goodwillv1.ListEventsRequest{CustomerId: fmt.Sprintf("c%02d", i), PageSize: 1000, PageToken: token})
			if status.Code(err) == codes.NotFound {
				break // no event, no customer
			}
			if err != nil {
				t.Fatal(err)
			}
			total += len(resp.GetEvents())
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
	}
	return total
}

// Importing the same file twice records it once: the second run replays
// every row, and balances are those of one pass.
func TestImportTwiceRecordsOnce(t *testing.T) {
	c := serve(t)
	input := history(2500)
	first, err := run(t, c, input, importer.Options{Name: "h.csv", BatchSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	if first.Rows != 2500 || first.Created != 2500 || first.Replayed != 0 || first.Invalid != 0 {
		t.Fatalf("first run: %+v", first)
	}
	once := balances(t, c, 50)
	second, err := run(t, c, input, importer.Options{Name: "h.csv", BatchSize: 700, InFlight: 2})
	if err != nil {
		t.Fatal(err)
	}
	if second.Created != 0 || second.Replayed != 2500 {
		t.Fatalf("second run: %+v", second)
	}
	if got := countEvents(t, c, 50); got != 2500 {
		t.Fatalf("%d events stored, want 2500", got)
	}
	for id, b := range balances(t, c, 50) {
		if d := b - once[id]; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s: balance %v after the rerun, %v after one pass", id, b, once[id])
		}
	}
}

// A run stopped midway (here: its context cancelled once part of the file
// is in) and run again completes the rest without doubling anything.
func TestImportResumesAfterInterruption(t *testing.T) {
	c := serve(t)
	input := history(3000)
	ctx, cancel := context.WithCancel(t.Context())
	r, err := importer.New(importer.Options{Name: "h.csv", BatchSize: 100, InFlight: 2})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for r.Progress().Created < 800 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	partial, err := r.Events(ctx, c, strings.NewReader(input))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v (counts %+v)", err, partial)
	}
	if partial.Created >= 3000 {
		t.Fatalf("the interruption came too late to test anything: %+v", partial)
	}
	rest, err := run(t, c, input, importer.Options{Name: "h.csv"})
	if err != nil {
		t.Fatal(err)
	}
	if rest.Created+rest.Replayed != 3000 || rest.Replayed < partial.Created {
		t.Fatalf("rerun %+v after a run that created %d", rest, partial.Created)
	}
	if got := countEvents(t, c, 50); got != 3000 {
		t.Fatalf("%d events stored, want 3000", got)
	}
}

const badRows = `customer_id,kind,magnitude,occurred_at
c01,complaint,1,2024-01-01
c02,complain,1,2024-01-02
c03,outage,abc,2024-01-03
c04,outage,1,2024-01-04
c05,outage,-5,2024-01-05
c06,outage,1,yesterday
c07,outage,1,2024-01-07
`

// Invalid rows are reported with their line and column, from the
// importer's parsing and from the server's validation alike; with the
// default of no errors allowed, nothing of the first bad row's batch is
// written.
func TestInvalidRows(t *testing.T) {
	c := serve(t)
	_, err := run(t, c, badRows, importer.Options{Name: "bad.csv"})
	var rowErr *importer.RowError
	if !errors.Is(err, importer.ErrTooManyInvalid) || !errors.As(err, &rowErr) {
		t.Fatalf("err = %v, want ErrTooManyInvalid wrapping a RowError", err)
	}
	if rowErr.Line != 3 || rowErr.Column != "kind" || !strings.Contains(rowErr.Message, "complain") {
		t.Fatalf("first invalid row: %+v", rowErr)
	}
	if n := countEvents(t, c, 8); n != 0 {
		t.Fatalf("%d events written; the bad row's batch must write nothing", n)
	}

	var rejects bytes.Buffer
	counts, err := run(t, c, badRows, importer.Options{Name: "bad.csv", MaxErrors: 10, Rejects: &rejects})
	if err != nil {
		t.Fatal(err)
	}
	if counts.Created != 3 || counts.Invalid != 4 || counts.Rows != 7 {
		t.Fatalf("counts %+v: want 3 created, 4 invalid of 7", counts)
	}
	recs, err := csv.NewReader(&rejects).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range recs[1:] {
		got[r[0]] = r[1]
		if r[2] == "" || r[3] == "" {
			t.Errorf("reject %v lacks its message or its row", r)
		}
	}
	want := map[string]string{"3": "kind", "4": "magnitude", "6": "magnitude", "7": "occurred_at"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rejects by line and column: %v, want %v (file:\n%s)", got, want, rejects.String())
	}
}

// JSON lines in the API's form, gzipped, with keys of their own: a key
// reused for a different event is a conflict, counted and rejected.
func TestJSONLinesGzipAndConflicts(t *testing.T) {
	c := serve(t)
	lines := `{"customerId":"c01","kind":"EVENT_KIND_OUTAGE","magnitude":2,"idempotencyKey":"ticket-1"}
{"customerId":"c01","kind":"EVENT_KIND_RESPONSE","idempotencyKey":"ticket-2"}

{"customerId":"c02","kind":"EVENT_KIND_CREDIT","magnitude":5}
`
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(lines))
	w.Close()
	r, err := importer.New(importer.Options{Name: "-"})
	if err != nil {
		t.Fatal(err)
	}
	counts, err := r.Events(t.Context(), c, bytes.NewReader(gz.Bytes()))
	if err != nil || counts.Created != 3 {
		t.Fatalf("counts %+v, err %v", counts, err)
	}
	conflicting := `{"customerId":"c01","kind":"EVENT_KIND_COMPLAINT","idempotencyKey":"ticket-1"}` + "\n"
	var rejects bytes.Buffer
	counts, err = run(t, c, conflicting, importer.Options{Name: "x.jsonl", Rejects: &rejects})
	if err != nil || counts.Conflicts != 1 || counts.Created != 0 {
		t.Fatalf("conflict run: counts %+v, err %v", counts, err)
	}
	if !strings.Contains(rejects.String(), "idempotency_key") {
		t.Fatalf("rejects: %s", rejects.String())
	}
}

// Customer profiles: one upsert a row; a bad value names its column.
func TestImportCustomers(t *testing.T) {
	c := serve(t)
	input := "customer_id,display_name,segment,value,overdraft_limit,attr.plan\n" +
		"c01,Ada,gold,120,-30,annual\nc02,Bob,silver,,,\nc03,Cy,gold,-4,,\n"
	r, err := importer.New(importer.Options{Name: "customers.csv", MaxErrors: 1})
	if err != nil {
		t.Fatal(err)
	}
	counts, err := r.Customers(t.Context(), c, strings.NewReader(input))
	if err != nil || counts.Created != 2 || counts.Invalid != 1 {
		t.Fatalf("counts %+v, err %v", counts, err)
	}
	got, err := c.GetCustomer(t.Context(), &goodwillv1.GetCustomerRequest{CustomerId: "c01"})
	if err != nil {
		t.Fatal(err)
	}
	cu := got.GetCustomer()
	if cu.GetSegment() != "gold" || cu.GetValue() != 120 || cu.GetOverdraftLimit() != -30 || cu.GetAttributes()["plan"] != "annual" {
		t.Fatalf("c01 stored as %v", cu)
	}
}

// The key of a row without one is stable for the same row, and changes
// with its content, its line and the namespace.
func TestEventKey(t *testing.T) {
	e := &goodwillv1.Event{CustomerId: "c1", Kind: goodwillv1.EventKind_EVENT_KIND_OUTAGE}
	k := importer.EventKey("", 2, e)
	if k != importer.EventKey("", 2, e) || len(k) > 128 || !strings.HasPrefix(k, "import-") {
		t.Fatalf("key %q", k)
	}
	other := &goodwillv1.Event{CustomerId: "c1", Kind: goodwillv1.EventKind_EVENT_KIND_COMPLAINT}
	for name, k2 := range map[string]string{
		"content": importer.EventKey("", 2, other), "line": importer.EventKey("", 3, e), "namespace": importer.EventKey("crm", 2, e),
	} {
		if k2 == k {
			t.Errorf("another %s, the same key", name)
		}
	}
}

var _ importer.EventRecorder = (goodwillv1.GoodwillServiceClient)(nil)
var _ grpc.CallOption = grpc.EmptyCallOption{}
