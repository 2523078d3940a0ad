package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
)

// restFuzzEndpoints are the REST calls FuzzRESTDecoding sends fuzzed bodies
// to; {id} is replaced by the fuzzed path segment.
var restFuzzEndpoints = []struct{ method, path string }{
	{http.MethodPost, "/v1/customers/{id}/events"},
	{http.MethodPost, "/v1/events:batchRecord"},
	{http.MethodPut, "/v1/customers/{id}"},
	{http.MethodPost, "/v1/incidents"},
	{http.MethodPost, "/v1/customers/c1/events/{id}:reverse"},
	{http.MethodGet, "/v1/customers/{id}/balance"},
}

// FuzzRESTDecoding sends fuzzed JSON bodies and customer-id path segments
// through the real gateway to the real server (SQLite in a temporary
// directory, started once per fuzz worker). No request may get a 5xx, and
// every reply must be a JSON object; errors carry a code and a message.
func FuzzRESTDecoding(f *testing.F) {
	s := startServer(f, "sqlite:"+filepath.Join(f.TempDir(), "fuzz.db"))
	client := &http.Client{}
	// Requests carry the admin key, so the fuzzer reaches decoding and
	// validation rather than stopping at the 401 of a missing key.
	if r := s.rest(f, http.MethodPost, "/v1/customers/c1/events", `{"kind":"EVENT_KIND_CREDIT"}`); r.Status != http.StatusOK {
		f.Fatalf("a valid request is refused (HTTP %d %s): the fuzzer would test nothing", r.Status, r.Raw)
	}
	f.Fuzz(func(t *testing.T, endpoint uint8, id string, body []byte) {
		ep := restFuzzEndpoints[int(endpoint)%len(restFuzzEndpoints)]
		path := ep.path
		for i := 0; i+4 <= len(path); i++ {
			if path[i:i+4] == "{id}" {
				path = path[:i] + url.PathEscape(id) + path[i+4:]
				break
			}
		}
		req, err := http.NewRequestWithContext(t.Context(), ep.method, s.baseURL+path, bytes.NewReader(body))
		if err != nil {
			return // not a URL an HTTP client can send
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+s.token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", ep.method, path, err)
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s %q: HTTP %d: %s", ep.method, path, body, resp.StatusCode, raw)
		}
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s %q: HTTP %d, body is not a JSON object (%v): %q", ep.method, path, body, resp.StatusCode, err, raw)
		}
		if resp.StatusCode == http.StatusOK {
			return
		}
		if _, ok := out["code"].(float64); !ok {
			t.Errorf("%s %s: HTTP %d error without a numeric code: %s", ep.method, path, resp.StatusCode, raw)
		}
		if msg, _ := out["message"].(string); msg == "" {
			t.Errorf("%s %s: HTTP %d error without a message: %s", ep.method, path, resp.StatusCode, raw)
		}
	})
}
