package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/goodwill-ledger/goodwill/server/app"
	"github.com/goodwill-ledger/goodwill/server/buildinfo"
)

// GET /version answers without a key, like /healthz, with the build's
// four fields; /metrics carries the same build as goodwill_build_info.
func TestVersionEndpointAndBuildInfoMetric(t *testing.T) {
	t.Parallel()
	metricsAddr := freeLoopbackAddr(t)
	s := startServer(t, "", func(c *app.Config) { c.MetricsAddr = metricsAddr })
	want := buildinfo.Get()

	resp, err := http.Get(s.baseURL + "/version") // no Authorization header
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /version: HTTP %d, Content-Type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	var body map[string]string
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("GET /version: %v: %s", err, raw)
	}
	wantBody := map[string]string{"version": want.Version, "commit": want.Commit, "buildDate": want.BuildDate, "goVersion": want.GoVersion}
	if len(body) != len(wantBody) {
		t.Errorf("GET /version = %s, want exactly the fields %v", raw, wantBody)
	}
	for k, v := range wantBody {
		if body[k] != v || v == "" {
			t.Errorf("GET /version: %s = %q, want %q", k, body[k], v)
		}
	}

	resp, err = http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	// The text format sorts labels by name.
	sample := `goodwill_build_info{commit="` + want.Commit + `",go_version="` + want.GoVersion + `",version="` + want.Version + `"} 1`
	if !strings.Contains(string(raw), "\n"+sample+"\n") {
		t.Errorf("/metrics lacks %s", sample)
	}
}
