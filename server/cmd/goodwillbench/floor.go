package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/goodwill-ledger/goodwill/client"
)

// The gRPC floor is the reads' baseline, as the raw driver is the writes':
// a bare grpc-go server in a process of its own, serving only the health
// check, called through the same client and the same loopback as
// GetBalance. Whatever tail it shows with 8 clients on two cores is the
// transport's and the scheduler's, not the ledger's: a reference a read
// that does real work cannot be expected to beat (not a strict bound: it
// runs in its own window, and at a higher call rate, being cheaper).

// floorFlag runs this program as the floor's server instead (a child
// process the benchmark starts; not for people).
const floorFlag = "serve-grpc-floor"

// serveFloor serves the health check on addr until the process is killed.
func serveFloor(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s := grpc.NewServer()
	healthpb.RegisterHealthServer(s, health.NewServer())
	return s.Serve(l)
}

// floor is the running floor server and a client of it.
type floor struct {
	cmd      *exec.Cmd
	client   *client.Client
	stopOnce sync.Once
}

// startFloor runs this program again as the floor's server and waits until
// it answers.
func startFloor(ctx context.Context) (*floor, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-"+floorFlag, addr)
	cmd.Stderr = os.Stderr
	// The child dies with this program, however this program ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c, err := client.Dial(addr)
	if err == nil {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = c.WaitReady(wctx)
		cancel()
	}
	if err != nil {
		if c != nil {
			c.Close()
		}
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("gRPC floor server: %w", err)
	}
	return &floor{cmd: cmd, client: c}, nil
}

func (f *floor) pid() int { return f.cmd.Process.Pid }

// check drives the floor's health check from clients callers for d.
func (f *floor) check(ctx context.Context, clients int, d time.Duration) stats {
	return drive(ctx, clients, d, func(ctx context.Context, cl, n int) (int, error) {
		_, err := f.client.Health.Check(ctx, &healthpb.HealthCheckRequest{})
		return 1, err
	})
}

// stop ends the floor's server; calling it again does nothing.
func (f *floor) stop() {
	f.stopOnce.Do(func() {
		f.client.Close()
		f.cmd.Process.Kill()
		f.cmd.Wait()
	})
}

// readResult runs a read scenario and sets its CPU per call: the serving
// process's (goodwilld's, or the floor's), PostgreSQL's when db, and this
// program's (the clients'). Read in clock ticks of 10 ms, over 3 s.
func readResult(store, name string, pid int, db bool, run func() stats) result {
	_, before := procCPU(pid)
	dbBefore, loadBefore := postgresCPUSeconds(), selfCPUSeconds()
	st := run()
	_, after := procCPU(pid)
	r := result{Store: store, Scenario: name, Rate: st.rate(), P50ms: st.pct(0.5), P99ms: st.pct(0.99), Note: st.note()}
	if st.events > 0 {
		r.CPUus = (after - before) / float64(st.events) * 1e6
		r.LoadCPUus = (selfCPUSeconds() - loadBefore) / float64(st.events) * 1e6
		if db {
			r.DBCPUus = (postgresCPUSeconds() - dbBefore) / float64(st.events) * 1e6
		}
	}
	return r
}
