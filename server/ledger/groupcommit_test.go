package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// unreachableStore fails every write transaction as an unreachable
// database does, counting them.
type unreachableStore struct {
	ledger.Store
	updates atomic.Int64
}

func (u *unreachableStore) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	u.updates.Add(1)
	return fmt.Errorf("%w: connection refused (injected)", ledger.ErrUnavailable)
}

// When a shared transaction fails because the store is unavailable, every
// caller in the batch gets the error (none is acknowledged), at once: the
// batch is not retried write by write against a store that is down.
func TestGroupCommitFailsEveryWriteOfAnUnavailableBatch(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	us := &unreachableStore{Store: st}
	// A long window gathers all the writers into one batch.
	svc := ledger.NewService(us, ledger.Options{GroupCommit: ledger.GroupCommit{Window: 200 * time.Millisecond}})
	t.Cleanup(svc.Close)
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			_, errs[i] = svc.RecordEvent(t.Context(), ledger.DefaultTenant, ledger.NewEvent{CustomerID: "c1",
				Kind: ledger.KindCredit, IdempotencyKey: fmt.Sprintf("k%d", i)})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, ledger.ErrUnavailable) {
			t.Errorf("writer %d: got %v, want ErrUnavailable (a failed batch must not acknowledge anyone)", i, err)
		}
	}
	if n := us.updates.Load(); n > 2 {
		t.Errorf("%d transactions for one failed batch of %d: the writes were retried one by one against a store that is down", n, writers)
	}
}
