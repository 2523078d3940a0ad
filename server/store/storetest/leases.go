package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// testLeases: a job's lease goes to one owner at a time, is extended by
// its holder, and is free again once released or over.
func testLeases(t *testing.T, s ledger.Store) {
	claim := func(name, owner string, now time.Time) bool {
		var ok bool
		mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
			var err error
			ok, err = tx.ClaimLease(ctx, name, owner, now, now.Add(2*time.Minute))
			return err
		})
		return ok
	}
	release := func(name, owner string) {
		mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.ReleaseLease(ctx, name, owner) })
	}
	if !claim("trends", "a", at(0)) {
		t.Fatal("the first claim of a free lease failed")
	}
	if claim("trends", "b", at(1)) {
		t.Error("another owner claimed a held lease")
	}
	if !claim("other-job", "b", at(1)) {
		t.Error("a lease held under one name kept another name's from being claimed")
	}
	if !claim("trends", "a", at(1)) {
		t.Error("the holder could not extend its lease")
	}
	if claim("trends", "b", at(2)) {
		t.Error("another owner claimed a lease its holder extended")
	}
	release("trends", "b") // not b's: no effect
	if claim("trends", "b", at(2)) {
		t.Error("a release by a non-holder freed the lease")
	}
	release("trends", "a")
	if !claim("trends", "b", at(2)) {
		t.Error("a released lease could not be claimed")
	}
	if !claim("trends", "c", at(4)) {
		t.Error("a lease past its end could not be claimed by another owner")
	}
}

// testLeaseOneWinner: owners that claim a free lease at once; exactly one
// gets it, however the store orders their transactions.
func testLeaseOneWinner(t *testing.T, s ledger.Store) {
	const owners = 4
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  []string
		ready sync.WaitGroup
		met   = make(chan struct{})
	)
	// Each first attempt reads, then waits for the others to have read
	// too, so the transactions overlap (four: a pool has at least four
	// connections). A store with one writer at a time
	// cannot overlap them: the wait gives up after a moment.
	ready.Add(owners)
	go func() { ready.Wait(); close(met) }()
	for i := range owners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("replica-%d", i)
			var ok bool
			first := true
			err := s.Update(t.Context(), func(tx ledger.Tx) error {
				if first {
					first = false
					if _, err := tx.Tenants(t.Context()); err != nil {
						return err
					}
					ready.Done()
					select {
					case <-met:
					case <-time.After(time.Second):
					}
				}
				var err error
				ok, err = tx.ClaimLease(t.Context(), "trends", owner, at(0), at(2))
				return err
			})
			if err != nil {
				t.Errorf("%s: %v", owner, err)
				return
			}
			if ok {
				mu.Lock()
				wins = append(wins, owner)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(wins) != 1 {
		t.Errorf("%d owners got the lease (%v), want exactly 1", len(wins), wins)
	}
}
