package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goodwill-ledger/goodwill/client"
)

// buildServer compiles goodwilld into a temporary folder.
func buildServer() (string, func(), error) {
	dir, err := os.MkdirTemp("", "goodwillbench")
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, "goodwilld")
	cmd := exec.Command("go", "build", "-o", bin, "./server/cmd/goodwilld")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("build goodwilld (run from the repository root): %w", err)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// server is one running goodwilld child process.
type server struct {
	cmd      *exec.Cmd
	grpcAddr string
	httpAddr string
	client   *client.Client
	// token is the admin key goodwilld bootstrapped into keyFile.
	token string
	// extra is the flags it was started with beyond startServer's own, so
	// a restart keeps them (--debug-addr for the profiles).
	extra []string
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startServer runs goodwilld on db with extra flags and waits until it
// serves. The first start on a store bootstraps an admin key into keyFile;
// later starts find the store keyed and the file still there. Rate limits
// are off: the benchmark is one key sending as fast as it can.
func startServer(ctx context.Context, bin, db, keyFile string, extra ...string) (*server, error) {
	g, err := freePort()
	if err != nil {
		return nil, err
	}
	h, err := freePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--db", db, "--grpc-addr", g, "--http-addr", h, "--log-level", "warn",
		"--bootstrap-key-file", keyFile, "--rate-limit", "0", "--webhook-allow-private"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// The key file is written before the server listens.
	var token []byte
	for i := 0; ; i++ {
		if token, err = os.ReadFile(keyFile); err == nil || i == 600 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("bootstrap key: %w", err)
	}
	tok := strings.TrimSpace(string(token))
	c, err := client.Dial(g, client.WithToken(tok))
	if err != nil {
		cmd.Process.Kill()
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := c.WaitReady(wctx); err != nil {
		cmd.Process.Kill()
		return nil, err
	}
	return &server{cmd: cmd, grpcAddr: g, httpAddr: h, client: c, token: tok, extra: extra}, nil
}

// peakRSSMB reads the child's high-water resident set size.
func (s *server) peakRSSMB() float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// cpuSeconds reads the child's CPU time so far, user and system.
func (s *server) cpuSeconds() float64 {
	_, cpu := procCPU(s.cmd.Process.Pid)
	return cpu
}

// procCPU reads a process's command name and CPU time so far, user and
// system, from /proc/<pid>/stat (fields 14 and 15, in clock ticks of
// 1/100 s on Linux).
func procCPU(pid int) (string, float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0
	}
	// The command name (field 2, in parentheses) may hold spaces: count
	// from after it.
	open, end := strings.IndexByte(string(b), '('), strings.LastIndexByte(string(b), ')')
	if open < 0 || end < open {
		return "", 0
	}
	fields := strings.Fields(string(b[end+1:]))
	if len(fields) < 13 {
		return "", 0
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return string(b[open+1 : end]), (utime + stime) / 100
}

// selfCPUSeconds is this program's CPU time so far.
func selfCPUSeconds() float64 {
	_, cpu := procCPU(os.Getpid())
	return cpu
}

// postgresCPUSeconds sums the CPU time so far of every PostgreSQL process
// on this machine (the server and its backends): the database's share of
// a scenario, when it runs here. A backend that exits takes its time with
// it, so this undercounts connections closed mid-scenario (the service's
// pool keeps its own open).
func postgresCPUSeconds() float64 {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var total float64
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if name, cpu := procCPU(pid); name == "postgres" {
			total += cpu
		}
	}
	return total
}

func (s *server) stop() {
	s.client.Close()
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
	}
}

// freshPostgres creates an empty database and returns its URL and a drop
// function.
func freshPostgres(ctx context.Context, admin string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("no PostgreSQL: %w", err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "goodwill_bench_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	conn.Close(ctx)
	u, err := url.Parse(admin)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}

// profileCPU fetches a CPU profile of d from the server's --debug-addr into
// path, in the background; the channel reports how it went.
func profileCPU(ctx context.Context, debugAddr, path string, d time.Duration) <-chan error {
	return fetchProfile(ctx, debugAddr, "profile", path, d)
}

// profileAllocs saves what the server allocated over the next d (pprof's
// delta of allocs: go tool pprof -sample_index=alloc_space).
func profileAllocs(ctx context.Context, debugAddr, path string, d time.Duration) <-chan error {
	return fetchProfile(ctx, debugAddr, "allocs", path, d)
}

func fetchProfile(ctx context.Context, debugAddr, kind, path string, d time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			url := fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", debugAddr, kind, max(1, int(d.Seconds())))
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", url, resp.Status)
			}
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, resp.Body); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}()
	}()
	return done
}
