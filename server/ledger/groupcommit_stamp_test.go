package ledger_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// Events sent without a time, from many clients at once, to one customer:
// the collector hands out their times in arrival order, so none is older
// than the customer's last and none replays the history. Every event is
// stored, at the time it was stamped with.
func TestGroupCommitStampsInArrivalOrder(t *testing.T) {
	t.Parallel()
	hc := &historyCounter{Store: openStore(t)} // backdated_test.go
	svc := ledger.NewService(hc, ledger.Options{Logger: quietLog()})
	runService(t, svc)
	const clients, each = 16, 25
	var wg sync.WaitGroup
	for cl := range clients {
		wg.Go(func() {
			for n := range each {
				_, err := svc.RecordEvent(t.Context(), ledger.DefaultTenant, ledger.NewEvent{CustomerID: "hot",
					Kind: ledger.KindCredit, IdempotencyKey: fmt.Sprintf("k-%d-%d", cl, n)})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := hc.reads.Load(); n != 0 {
		t.Errorf("%d history reads for %d events without a time: events were applied out of order", n, clients*each)
	}
	var events []ledger.Event
	if err := hc.View(t.Context(), func(r ledger.Reader) error {
		var err error
		events, err = r.History(t.Context(), ledger.DefaultTenant, "hot")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(events) != clients*each {
		t.Fatalf("%d events stored, want %d", len(events), clients*each)
	}
	for _, e := range events {
		if !e.OccurredAt.Equal(e.RecordedAt) {
			t.Errorf("event %s occurred at %s, recorded at %s: want the time it was stamped with, both", e.ID,
				e.OccurredAt, e.RecordedAt)
		}
	}
}
