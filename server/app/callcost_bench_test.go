package app_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/app"
)

// callCostConfig is a server BenchmarkCallCost measures.
type callCostConfig struct {
	name      string
	configure func(*app.Config)
}

// callCostConfigs are the servers BenchmarkCallCost compares; the tracing
// benchmarks add theirs.
var callCostConfigs = []callCostConfig{{"default", func(*app.Config) {}}}

// BenchmarkCallCost measures whole calls, client and server in this
// process over loopback TCP: what the server's per-call machinery
// (interceptors, the log line, request ids, tracing when on) costs on top of
// the work. cpu-ns/op is the process's CPU time (user and system) per call,
// the figure the service is measured on; ns/op is latency, which the
// group-commit window dominates for writes.
func BenchmarkCallCost(b *testing.B) {
	for _, cfg := range callCostConfigs {
		b.Run(cfg.name, func(b *testing.B) {
			s := startServer(b, "", cfg.configure, func(c *app.Config) { c.RateLimit.PerSecond = 0 })
			ctx := b.Context()
			// GetCaller reads nothing from the store: the call's machinery
			// alone (transport, interceptors, the key check, the log line).
			b.Run("GetCaller", func(b *testing.B) {
				cpu := startCPU()
				for b.Loop() {
					if _, err := s.GetCaller(ctx, &goodwillv1.GetCallerRequest{}); err != nil {
						b.Fatal(err)
					}
				}
				cpu.report(b)
			})
			b.Run("RecordEvent-parallel", func(b *testing.B) {
				var n atomic.Int64
				b.SetParallelism(8) // enough callers to fill group-commit batches
				cpu := startCPU()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						id := fmt.Sprintf("p%d", n.Add(1)%1000)
						if _, err := s.RecordEvent(ctx, &goodwillv1.RecordEventRequest{CustomerId: id,
							Event: &goodwillv1.Event{Kind: goodwillv1.EventKind_EVENT_KIND_RELIABLE_DELIVERY}}); err != nil {
							b.Error(err)
							return
						}
					}
				})
				cpu.report(b)
			})
			// The same over REST (keep-alive HTTP/1.1, a JSON body): the
			// gateway's decoding and checks on top of the gRPC path.
			b.Run("RecordEvent-REST-parallel", func(b *testing.B) {
				var n atomic.Int64
				b.SetParallelism(8)
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
				cpu := startCPU()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						id := fmt.Sprintf("r%d", n.Add(1)%1000)
						req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.baseURL+"/v1/customers/"+id+"/events",
							strings.NewReader(`{"kind":"EVENT_KIND_RELIABLE_DELIVERY","magnitude":1,"note":"on time"}`))
						if err != nil {
							b.Error(err)
							return
						}
						req.Header.Set("Authorization", "Bearer "+s.token)
						resp, err := client.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							b.Errorf("HTTP %d", resp.StatusCode)
							return
						}
					}
				})
				cpu.report(b)
			})
		})
	}
}

// cpuClock reads the process's CPU time.
type cpuClock struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{processCPU()} }

func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(processCPU()-c.start)/float64(b.N), "cpu-ns/op")
}
