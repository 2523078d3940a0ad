package main

import (
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The real binary, its drain delay from GOODWILL_DRAIN_DELAY: on SIGTERM
// /healthz turns 503 at once while the API still answers, and the process
// exits, cleanly, once the delay has passed; a second SIGTERM ends the
// delay at once.
func TestDrainDelayOnSIGTERM(t *testing.T) {
	bin := buildBinary(t)

	t.Run("the delay runs out", func(t *testing.T) {
		const delay = 2 * time.Second
		t.Setenv("GOODWILL_DRAIN_DELAY", delay.String())
		db := "sqlite:" + filepath.Join(t.TempDir(), "goodwill.db")
		cmd, base, out := serve(t, bin, db)
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		token := readToken(t, db)

		began := time.Now()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitHealthz(t, base, began, delay/2)
		if resp := call(t, token, http.MethodPost, base+"/v1/customers/d1/events", `{"kind":"EVENT_KIND_CREDIT"}`); resp.StatusCode != http.StatusOK {
			t.Errorf("a write during the drain: HTTP %d\n%s", resp.StatusCode, out.String())
		}
		if checked := time.Since(began); checked >= delay {
			t.Fatalf("the checks took %s, longer than the drain delay: they proved nothing", checked)
		}
		select {
		case err := <-exited:
			took := time.Since(began)
			if err != nil {
				t.Errorf("exit: %v\n%s", err, out.String())
			}
			if took < delay {
				t.Errorf("exited %s after SIGTERM, before the drain delay of %s", took, delay)
			}
		case <-time.After(delay + 15*time.Second):
			t.Fatalf("still running %s after SIGTERM\n%s", delay+15*time.Second, out.String())
		}
	})

	t.Run("a second signal ends it", func(t *testing.T) {
		t.Setenv("GOODWILL_DRAIN_DELAY", "10m")
		db := "sqlite:" + filepath.Join(t.TempDir(), "goodwill.db")
		cmd, base, out := serve(t, bin, db)
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()

		began := time.Now()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitHealthz(t, base, began, 10*time.Second)
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("exit: %v\n%s", err, out.String())
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("still draining 15s after a second SIGTERM\n%s", out.String())
		}
	})
}

// waitHealthz waits (within limit of began) for /healthz to answer 503.
func waitHealthz(t *testing.T, base string, began time.Time, limit time.Duration) {
	t.Helper()
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				return
			}
		}
		if time.Since(began) > limit {
			t.Fatalf("/healthz not 503 %s after SIGTERM (last: %v %v)", time.Since(began), resp, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
