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
// clients' equal. The events are RecordEvents 1000's (reliable
// deliveries, recorded now), unless past: then they occurred in the hour
// before, older than the events earlier scenarios gave the same
// customers, as when history is imported into a ledger in use, and each
// costs its customer a replay of its history.
func importCSV(ctx context.Context, rec importer.EventRecorder, n int, past bool) (stats, error) {
	var b strings.Builder
	if past {
		b.WriteString("customer_id,kind,occurred_at\n")
	} else {
		b.WriteString("customer_id,kind\n")
	}
	at := time.Now().UTC().Add(-time.Hour)
	for i := range n {
		fmt.Fprintf(&b, "u%d,reliable_delivery", rand.IntN(uniformCustomers))
		if past {
			fmt.Fprintf(&b, ",%s", at.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano))
		}
		b.WriteByte('\n')
	}
	r, err := importer.New(importer.Options{Name: "bench.csv", BatchSize: 1000, InFlight: 4, Namespace: fmt.Sprint(rand.Uint64())})
	if err != nil {
		return stats{}, err
	}
	start := time.Now()
	counts, err := r.Events(ctx, rec, strings.NewReader(b.String()))
	return stats{events: counts.Created, elapsed: time.Since(start)}, err
}
