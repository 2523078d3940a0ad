package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/goodwill-ledger/goodwill/client/importer"
)

// importRows is how many rows the import scenario loads: about what
// RecordEvents 1000 took in over d (rate), within bounds that keep it
// short and still several seconds long.
func importRows(rate float64, d time.Duration) int {
	return min(max(int(rate*d.Seconds()), 20_000), 400_000)
}

// importCSV builds a CSV of n events without keys (the importer derives
// them) and imports it through client/importer as `goodwill import events`
// does: batches of 1,000, four calls in flight, the drive loop's four
// clients' equal.
func importCSV(ctx context.Context, rec importer.EventRecorder, n int) (stats, error) {
	var b strings.Builder
	b.WriteString("customer_id,kind,magnitude,occurred_at,source\n")
	at := time.Now().UTC().Add(-time.Hour)
	for i := range n {
		fmt.Fprintf(&b, "u%d,reliable_delivery,1,%s,bench-import-%d\n", rand.IntN(uniformCustomers),
			at.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), i)
	}
	r, err := importer.New(importer.Options{Name: "bench.csv", BatchSize: 1000, InFlight: 4, Namespace: fmt.Sprint(rand.Uint64())})
	if err != nil {
		return stats{}, err
	}
	start := time.Now()
	counts, err := r.Events(ctx, rec, strings.NewReader(b.String()))
	return stats{events: counts.Created, elapsed: time.Since(start)}, err
}
