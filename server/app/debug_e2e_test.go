package app_test

import (
	"net"
	"net/http"
	"testing"

	"github.com/goodwill-ledger/goodwill/server/app"
)

// The profiler is off by default, and when on it is served only on its own
// address, never on the API's.
func TestProfilerOnlyOnDebugAddr(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := startServer(t, "", func(c *app.Config) { c.DebugAddr = addr })
	get := func(url string) int {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("http://" + addr + "/debug/pprof/"); code != http.StatusOK {
		t.Errorf("profiler index on --debug-addr: HTTP %d", code)
	}
	if code := get(s.baseURL + "/debug/pprof/"); code == http.StatusOK {
		t.Error("the API port serves the profiler")
	}
	plain := startServer(t, "")
	if code := get(plain.baseURL + "/debug/pprof/"); code == http.StatusOK {
		t.Error("the profiler is on without --debug-addr")
	}
}
