package sqlite

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// TestReadersStayOpen: reads from more callers than database/sql keeps
// idle by default (two) reuse the pool's connections instead of closing
// them and opening new ones, each of which would read the schema and
// prepare the hot statements again.
func TestReadersStayOpen(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "pool.db"), Options{Migrate: true, ReadConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				err := s.View(t.Context(), func(r ledger.Reader) error {
					_, err := r.Customer(t.Context(), ledger.DefaultTenant, "nobody")
					return err
				})
				if !errors.Is(err, ledger.ErrNotFound) {
					t.Errorf("View: %v, want ErrNotFound", err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := s.reader.Stats()
	if st.MaxIdleClosed != 0 || st.MaxIdleTimeClosed != 0 || st.MaxLifetimeClosed != 0 {
		t.Errorf("the read pool closed connections as they came back: %d over the idle cap, %d idle too long, %d too old",
			st.MaxIdleClosed, st.MaxIdleTimeClosed, st.MaxLifetimeClosed)
	}
	if st.OpenConnections > 4 {
		t.Errorf("%d read connections open, want at most 4", st.OpenConnections)
	}
}
