package postgres_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// BenchmarkGroupCommit is the ledger and this store alone, without the
// API: 64 callers record single events (with idempotency keys, over
// 10,000 customers) through group commit, in process. It reports this
// process's CPU per event, which the store's write path dominates, so
// two builds of it can be compared with less noise than goodwillbench's
// whole-server figures:
//
//	go test ./server/store/postgres -run '^$' -bench GroupCommit -benchtime 40000x -count 4
func BenchmarkGroupCommit(b *testing.B) {
	s, _ := openB(b)
	svc := ledger.NewService(s, ledger.Options{})
	ctx, cancel := context.WithCancel(b.Context())
	ran := make(chan struct{})
	go func() { _ = svc.Run(ctx); close(ran) }()
	defer func() { cancel(); <-ran }() // before the store closes
	var n atomic.Int64
	record := func() error {
		i := n.Add(1)
		_, err := svc.RecordEvent(ctx, "bench", ledger.NewEvent{CustomerID: fmt.Sprintf("c%d", i%10_000),
			Kind: ledger.KindReliableDelivery, IdempotencyKey: fmt.Sprintf("k%d", i)})
		return err
	}
	// The customers' first events, in batches: the measured ones update
	// customers, as a running ledger's mostly do.
	for lo := 0; lo < 10_000; lo += 1_000 {
		items := make([]ledger.NewEvent, 1_000)
		for i := range items {
			items[i] = ledger.NewEvent{CustomerID: fmt.Sprintf("c%d", lo+i), Kind: ledger.KindReliableDelivery}
		}
		if _, err := svc.RecordEvents(ctx, "bench", items); err != nil {
			b.Fatal(err)
		}
	}
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	cpu0, start := processCPU(), time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := record(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-us/event")
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// processCPU is the CPU this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
