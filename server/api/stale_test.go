package api

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/sqlite"
)

// staleReads counts a real store's ViewStale calls. On SQLite and
// PostgreSQL a stale read returns what View does, so an API that dropped
// allow_stale would pass every end-to-end test; the count shows it.
type staleReads struct {
	ledger.Store
	n atomic.Int64
}

func (s *staleReads) ViewStale(ctx context.Context, fn func(ledger.Reader) error) error {
	s.n.Add(1)
	return s.Store.ViewStale(ctx, fn)
}

// allow_stale reaches the Service from each analyst read that has it.
func TestAllowStaleReachesTheStore(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "stale.db"), sqlite.Options{Migrate: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	counted := &staleReads{Store: st}
	srv := New(ledger.NewService(counted, ledger.Options{}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := t.Context()
	for _, stale := range []bool{false, true} {
		calls := []struct {
			name string
			call func() error
		}{
			{"ListBalances", func() error {
				_, err := srv.ListBalances(ctx, &goodwillv1.ListBalancesRequest{AllowStale: stale})
				return err
			}},
			{"SummarizeBalances", func() error {
				_, err := srv.SummarizeBalances(ctx, &goodwillv1.SummarizeBalancesRequest{AllowStale: stale})
				return err
			}},
			{"ListOutreach", func() error {
				_, err := srv.ListOutreach(ctx, &goodwillv1.ListOutreachRequest{
					Purpose: goodwillv1.OutreachPurpose_OUTREACH_PURPOSE_RECOVERY, AllowStale: stale})
				return err
			}},
		}
		for _, c := range calls {
			before := counted.n.Load()
			if err := c.call(); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if got := counted.n.Load() - before; got != map[bool]int64{false: 0, true: 1}[stale] {
				t.Errorf("%s with allow_stale %v: %d stale reads", c.name, stale, got)
			}
		}
	}
}
