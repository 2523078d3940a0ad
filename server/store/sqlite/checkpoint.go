package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// SQLite appends every commit to the WAL and copies the WAL back into the
// database file at a checkpoint. Left to the writer (wal_autocheckpoint),
// a checkpoint runs inside the commit that crosses the threshold: that
// commit, and every write waiting behind it, waits while tens of MiB of
// pages are copied and the database file is synced, the slowest of the
// write cycles and so the single events' p99.
//
// A checkpointer does it beside the writer instead, on a connection of
// its own: a PASSIVE checkpoint copies what is committed without taking
// the write lock, so the writer keeps committing meanwhile (the second
// core does the copying), and the writer's next transaction starts the
// WAL over once everything was copied. The writer still checkpoints, much
// later (writerCheckpointPages), should the checkpointer fall behind.
type checkpointer struct {
	db     *sql.DB
	every  time.Duration
	dirty  atomic.Bool // a commit since the last checkpoint
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// checkpointEvery is how often the checkpointer copies the WAL back when
// writes were committed: at a few thousand events a second, a few MiB of
// pages each time.
const checkpointEvery = 500 * time.Millisecond

// writerCheckpointPages is the writer's own threshold (1 GiB of 4 KiB
// pages). Under continuous writes no PASSIVE round finds every frame
// copied, so the WAL starts over only after the writer checkpoints inside
// a commit at this threshold: a stall of 20-75 ms for that commit and the
// writes behind it. At 65,536 pages that came every 2 s or so under load
// and made SQLite's p99; at 262,144 a quarter as often. Higher costs
// throughput (every page read searches a longer WAL index: 2M pages ran
// 15% slower) and disk (the WAL file keeps its largest size). Restarts the
// checkpointer times itself (a RESTART round, or a last PASSIVE round on
// the writer's connection) stalled the writer about as long each time, and
// more often: each needs the database file synced while the writer waits. See
// docs/benchmarks.md, round 2's twelfth and thirteenth sittings.
const writerCheckpointPages = 262144

// startCheckpointer runs rounds on db every so often. report hears of the
// first failure of a run of them (err) and of the round that succeeds
// after it (nil), not of every round: on a full disk each would fail.
func startCheckpointer(db *sql.DB, every time.Duration, report func(error)) *checkpointer {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, every: every, cancel: cancel}
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		failing := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if !c.dirty.Swap(false) {
				continue
			}
			_, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				c.dirty.Store(true) // try again next round
				if !failing {
					report(err)
				}
				failing = true
			case failing:
				report(nil)
				failing = false
			}
		}
	}()
	return c
}

// committed notes a commit for the next round.
func (c *checkpointer) committed() {
	if c != nil {
		c.dirty.Store(true)
	}
}

// stop ends the rounds and closes the connection.
func (c *checkpointer) stop() error {
	if c == nil {
		return nil
	}
	c.cancel()
	c.done.Wait()
	return c.db.Close()
}
