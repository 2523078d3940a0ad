package main

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store"
)

// loadChunk is how many events one load call carries: one per customer,
// for loadChunk consecutive customers.
const loadChunk = 1000

func perCustomer(o options) int { return max(1, o.events/o.customers) }

// loadBase dates the loaded history: one event per customer per day,
// ending about a month before the run.
var loadBase = time.Now().Add(-200 * 24 * time.Hour).UTC().Truncate(time.Second)

var loadKinds = []goodwillv1.EventKind{
	goodwillv1.EventKind_EVENT_KIND_RELIABLE_DELIVERY, goodwillv1.EventKind_EVENT_KIND_RELIABLE_DELIVERY,
	goodwillv1.EventKind_EVENT_KIND_OUTAGE, goodwillv1.EventKind_EVENT_KIND_RESPONSE,
	goodwillv1.EventKind_EVENT_KIND_COMPLAINT, goodwillv1.EventKind_EVENT_KIND_CREDIT,
}

// loadEvents returns the load's events lo to lo+loadChunk: event i goes to
// customer i mod customers on day i div customers, so a chunk touches each
// of its customers once and every customer ends with the same count.
func loadEvents(o options, lo int) []*goodwillv1.Event {
	total := o.customers * perCustomer(o)
	var out []*goodwillv1.Event
	for i := lo; i < min(lo+loadChunk, total); i++ {
		cust, round := i%o.customers, i/o.customers
		out = append(out, &goodwillv1.Event{
			CustomerId:     fmt.Sprintf("load-%07d", cust),
			Kind:           loadKinds[(cust+round)%len(loadKinds)],
			OccurredAt:     timestamppb.New(loadBase.Add(time.Duration(round)*24*time.Hour + time.Duration(cust%86400)*time.Second)),
			IdempotencyKey: fmt.Sprintf("l-%d", i),
		})
	}
	return out
}

// loadDirect records the load in-process through the ledger Service on the
// store the server uses (stopped meanwhile): the same domain rules and rows
// as over gRPC, without the network.
func loadDirect(ctx context.Context, o options, db string) (stats, error) {
	st, err := store.Open(ctx, db, store.Options{Migrate: true})
	if err != nil {
		return stats{}, err
	}
	defer st.Close()
	svc := ledger.NewService(st, ledger.Options{GroupCommit: ledger.GroupCommit{Disabled: true}})
	total := o.customers * perCustomer(o)
	return drive(ctx, 2, 24*time.Hour, func(ctx context.Context, cl, n int) (int, error) {
		lo := (n*2 + cl) * loadChunk
		if lo >= total {
			return 0, errDone
		}
		var items []ledger.NewEvent
		for _, e := range loadEvents(o, lo) {
			// The proto enum numbers are the ledger's kinds (api/convert.go).
			items = append(items, ledger.NewEvent{CustomerID: e.GetCustomerId(), Kind: ledger.Kind(e.GetKind()),
				OccurredAt: e.GetOccurredAt().AsTime(), IdempotencyKey: e.GetIdempotencyKey()})
		}
		_, err := svc.RecordEvents(ctx, ledger.DefaultTenant, items)
		if (n+1)%500 == 0 && cl == 0 {
			fmt.Printf("  loaded %d of %d events\n", lo+loadChunk, total)
		}
		return len(items), err
	}), nil
}
