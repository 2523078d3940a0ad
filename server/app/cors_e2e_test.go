package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/goodwill-ledger/goodwill/server/app"
)

// preflight sends a browser's CORS preflight for a POST with a bearer
// token and a JSON body, from origin.
func preflight(t *testing.T, base, origin string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodOptions, base+"/v1/customers/c1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// corsHeaders lists the Access-Control-* headers of a response.
func corsHeaders(h http.Header) []string {
	var out []string
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			out = append(out, k+": "+h.Get(k))
		}
	}
	return out
}

func TestCORS(t *testing.T) {
	t.Parallel()
	const app1, app2 = "https://app.example.com", "http://localhost:3000"

	t.Run("configured origins", func(t *testing.T) {
		t.Parallel()
		srv := runServer(t, app.Config{CORSOrigins: []string{app1, " " + app2}})
		base := "http://" + srv.HTTPAddr()
		waitHealthy(t, http.DefaultClient, base)

		for _, origin := range []string{app1, app2} {
			resp := preflight(t, base, origin)
			h := resp.Header
			if resp.StatusCode/100 != 2 || h.Get("Access-Control-Allow-Origin") != origin {
				t.Errorf("preflight from %s: %s, headers %v; want 2xx allowing the origin", origin, resp.Status, corsHeaders(h))
			}
			if !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
				!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "authorization") {
				t.Errorf("preflight from %s does not allow POST with Authorization: %v", origin, corsHeaders(h))
			}
			if h.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("preflight allows credentials: %v", corsHeaders(h))
			}
		}

		// The actual request from the allowed origin carries the header too.
		req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/v1/customers/c1/balance", nil)
		req.Header.Set("Origin", app1)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Access-Control-Allow-Origin") != app1 {
			t.Errorf("GET from %s: headers %v, want it allowed", app1, corsHeaders(resp.Header))
		}

		for _, tt := range []struct{ name, origin, method, headers string }{
			{"other origin", "https://evil.example.net", "POST", "authorization"},
			{"allowed origin's subdomain", "https://x.app.example.com", "POST", "authorization"},
			{"method not allowed", app1, "TRACE", ""},
			{"header not allowed", app1, "POST", "x-secret"},
		} {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodOptions, base+"/v1/customers/c1/events", nil)
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Access-Control-Request-Method", tt.method)
			if tt.headers != "" {
				req.Header.Set("Access-Control-Request-Headers", tt.headers)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("%s: preflight got Access-Control-Allow-Origin %q, want none", tt.name, got)
			}
		}
	})

	t.Run("subdomain wildcard", func(t *testing.T) {
		t.Parallel()
		srv := runServer(t, app.Config{CORSOrigins: []string{"https://*.example.com", "http://*.example.org:3000"}})
		base := "http://" + srv.HTTPAddr()
		waitHealthy(t, http.DefaultClient, base)
		for _, tt := range []struct {
			origin string
			allow  bool
		}{
			{"https://app.example.com", true},
			{"https://a.b.example.com", true},
			{"http://dev.example.org:3000", true},
			{"https://evilexample.com", false},
			{"https://example.com", false},
			{"http://app.example.com", false},
			{"https://app.example.com.evil.net", false},
			{"http://dev.example.org:3001", false},
		} {
			got := preflight(t, base, tt.origin).Header.Get("Access-Control-Allow-Origin")
			if allowed := got == tt.origin; allowed != tt.allow {
				t.Errorf("preflight from %s: Access-Control-Allow-Origin %q, want allowed %v", tt.origin, got, tt.allow)
			}
		}
	})

	t.Run("no origins by default", func(t *testing.T) {
		t.Parallel()
		srv := runServer(t, app.Config{})
		base := "http://" + srv.HTTPAddr()
		waitHealthy(t, http.DefaultClient, base)
		resp := preflight(t, base, app1)
		if got := corsHeaders(resp.Header); len(got) != 0 {
			t.Errorf("preflight with no origins configured got CORS headers %v", got)
		}
		req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/v1/customers/c1/balance", nil)
		req.Header.Set("Origin", app1)
		get, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		get.Body.Close()
		if got := corsHeaders(get.Header); len(got) != 0 {
			t.Errorf("GET with no origins configured got CORS headers %v", got)
		}
	})
}
