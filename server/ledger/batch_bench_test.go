package ledger_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/sqlite"
)

// BenchmarkRecordEvents1000 is for profiling the batch path (go test -bench
// with -cpuprofile); throughput targets are measured by goodwillbench.
func BenchmarkRecordEvents1000(b *testing.B) {
	st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "b.db"), sqlite.Options{Migrate: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc := ledger.NewService(st, ledger.Options{GroupCommit: ledger.GroupCommit{Disabled: true}})
	n := 0
	for b.Loop() {
		items := make([]ledger.NewEvent, 1000)
		for i := range items {
			items[i] = ledger.NewEvent{CustomerID: fmt.Sprintf("u%d", (n*1000+i)%10000), Kind: ledger.KindReliableDelivery,
				IdempotencyKey: fmt.Sprintf("k-%d-%d", n, i)}
		}
		n++
		if _, err := svc.RecordEvents(b.Context(), ledger.DefaultTenant, items); err != nil {
			b.Fatal(err)
		}
	}
}
