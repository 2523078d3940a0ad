package sqlite_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// TestCheckpointsBesideTheWriter: what the writer commits reaches the
// database file within a few of the checkpointer's rounds, although the
// writer's own threshold (1 GiB of WAL) is far off.
func TestCheckpointsBesideTheWriter(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ledger.db")
	s := open(t, path)
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	for b := range 4 {
		err := s.Update(t.Context(), func(tx ledger.Tx) error {
			cs := make([]ledger.Customer, 500)
			for i := range cs {
				c := customer
				c.ID = fmt.Sprintf("ckpt-%d-%03d", b, i)
				c.Profile.DisplayName = fmt.Sprintf("customer %d of batch %d, with a name long enough to fill pages", i, b)
				cs[i] = c
			}
			return tx.PutCustomers(t.Context(), cs)
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	// 2,000 customers take well over 256 KiB of pages; until a checkpoint
	// they are in the WAL alone.
	const want = 256 << 10
	deadline := time.Now().Add(10 * time.Second)
	for size()-before < want {
		if time.Now().After(deadline) {
			t.Fatalf("database file grew by %d bytes in 10 s after the writes, want >= %d: no checkpoint ran", size()-before, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
