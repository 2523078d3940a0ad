package app_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/app"
)

// logLines decodes the server's JSON log.
func logLines(t *testing.T, logs *syncBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, l)
		}
		out = append(out, m)
	}
	return out
}

// linesOf returns the log lines where key has value.
func linesOf(lines []map[string]any, key, value string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if l[key] == value {
			out = append(out, l)
		}
	}
	return out
}

// generatedID reports whether id looks like one the server makes up (26
// base32 characters).
func generatedID(id string) bool {
	if len(id) != 26 {
		return false
	}
	for _, c := range id {
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// A call's id, the caller's (gRPC metadata or HTTP header) or one the
// server makes up, comes back in the response and is on every line the
// call logs: here the admin action's audit line and the per-call line.
func TestRequestIDInResponseAndEveryLogLine(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	s := startServer(t, "", func(c *app.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ctx := t.Context()
	webhook := func(url string) *goodwillv1.CreateWebhookRequest {
		return &goodwillv1.CreateWebhookRequest{Url: url, Types: []string{"policy.activated"}}
	}
	// callLines are the lines one CreateWebhook call writes: its audit
	// line names the webhook it created, and the per-call line follows.
	callLines := func(t *testing.T, webhookID string) []map[string]any {
		t.Helper()
		lines := logLines(t, &logs)
		for i, l := range lines {
			if l["action"] == "webhook.create" && l["webhook"] == webhookID {
				for _, next := range lines[i+1:] {
					if next["grpc.method"] == "CreateWebhook" && next["msg"] == "finished call" {
						return []map[string]any{l, next}
					}
				}
				t.Fatalf("no per-call line after the audit line of %s:\n%s", webhookID, logs.String())
			}
		}
		t.Fatalf("no audit line for %s:\n%s", webhookID, logs.String())
		return nil
	}
	wantID := func(t *testing.T, lines []map[string]any, id string) {
		t.Helper()
		for _, l := range lines {
			if l["request_id"] != id {
				t.Errorf("line %q has request_id %v, want %q", l["msg"], l["request_id"], id)
			}
		}
	}

	t.Run("gRPC, the caller's id", func(t *testing.T) {
		const id = "crm-7f3a/call:1"
		var header metadata.MD
		url := "https://192.0.2.1/grpc-given"
		resp, err := s.CreateWebhook(metadata.AppendToOutgoingContext(ctx, "x-request-id", id), webhook(url), grpc.Header(&header))
		if err != nil {
			t.Fatal(err)
		}
		if got := header.Get("x-request-id"); len(got) != 1 || got[0] != id {
			t.Errorf("response header x-request-id %v, want [%s]", got, id)
		}
		wantID(t, callLines(t, resp.GetWebhook().GetWebhookId()), id)
	})
	t.Run("gRPC, no id", func(t *testing.T) {
		var header metadata.MD
		url := "https://192.0.2.1/grpc-none"
		resp, err := s.CreateWebhook(ctx, webhook(url), grpc.Header(&header))
		if err != nil {
			t.Fatal(err)
		}
		got := header.Get("x-request-id")
		if len(got) != 1 || !generatedID(got[0]) {
			t.Fatalf("response header x-request-id %v, want one generated id", got)
		}
		wantID(t, callLines(t, resp.GetWebhook().GetWebhookId()), got[0])
	})
	t.Run("gRPC, ids refused", func(t *testing.T) {
		seen := map[string]bool{}
		for i, bad := range [][]string{{"has space"}, {strings.Repeat("x", 129)}, {"one", "two"}} {
			var header metadata.MD
			url := "https://192.0.2.1/grpc-bad-" + string(rune('a'+i))
			md := metadata.MD{"x-request-id": bad}
			resp, err := s.CreateWebhook(metadata.NewOutgoingContext(ctx, md), webhook(url), grpc.Header(&header))
			if err != nil {
				t.Fatal(err)
			}
			got := header.Get("x-request-id")
			if len(got) != 1 || !generatedID(got[0]) || seen[got[0]] {
				t.Fatalf("x-request-id %q: answered with %v, want a new generated id", bad, got)
			}
			seen[got[0]] = true
			wantID(t, callLines(t, resp.GetWebhook().GetWebhookId()), got[0])
		}
		// The longest id accepted.
		long := strings.Repeat("y", 128)
		var header metadata.MD
		if _, err := s.GetCaller(metadata.AppendToOutgoingContext(ctx, "x-request-id", long), &goodwillv1.GetCallerRequest{}, grpc.Header(&header)); err != nil {
			t.Fatal(err)
		}
		if got := header.Get("x-request-id"); len(got) != 1 || got[0] != long {
			t.Errorf("a 128-character id came back as %v", got)
		}
	})
	t.Run("REST, the caller's id", func(t *testing.T) {
		const id = "rest-given-42"
		url := "https://192.0.2.1/rest-given"
		r := s.restWith(t, http.MethodPost, "/v1/webhooks", webhook(url), http.Header{"X-Request-Id": {id}})
		if r.Status != http.StatusOK {
			t.Fatalf("HTTP %d %s", r.Status, r.Raw)
		}
		if got := r.Header.Get("X-Request-Id"); got != id {
			t.Errorf("X-Request-Id %q, want %q", got, id)
		}
		wantID(t, callLines(t, get(r.Body, "webhook", "webhookId").(string)), id)
	})
	t.Run("REST, no id", func(t *testing.T) {
		url := "https://192.0.2.1/rest-none"
		r := s.restWith(t, http.MethodPost, "/v1/webhooks", webhook(url), nil)
		if r.Status != http.StatusOK {
			t.Fatalf("HTTP %d %s", r.Status, r.Raw)
		}
		id := r.Header.Get("X-Request-Id")
		if !generatedID(id) {
			t.Fatalf("X-Request-Id %q, want a generated id", id)
		}
		wantID(t, callLines(t, get(r.Body, "webhook", "webhookId").(string)), id)
	})
	t.Run("REST, ids refused", func(t *testing.T) {
		for _, bad := range []string{"café", "has space"} {
			r := s.restWith(t, http.MethodGet, "/v1/caller", nil, http.Header{"X-Request-Id": {bad}})
			if r.Status != http.StatusOK || !generatedID(r.Header.Get("X-Request-Id")) {
				t.Errorf("X-Request-Id %q: HTTP %d, answered with %q, want a generated id", bad, r.Status, r.Header.Get("X-Request-Id"))
			}
		}
	})
	t.Run("REST stream, refused", func(t *testing.T) {
		// ExportEvents travels over the gateway's gRPC connection, not
		// in-process: the id crosses it in metadata, so the refusal is
		// logged with it.
		const id = "rest-stream-refused"
		r := s.restAsWith(t, "", http.MethodGet, "/v1/events:export", nil, http.Header{"X-Request-Id": {id}})
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("HTTP %d %s", r.Status, r.Raw)
		}
		if got := r.Header.Get("X-Request-Id"); got != id {
			t.Errorf("X-Request-Id %q, want %q", got, id)
		}
		refused := linesOf(linesOf(logLines(t, &logs), "msg", "call refused"), "method", goodwillv1.GoodwillService_ExportEvents_FullMethodName)
		if len(refused) != 1 {
			t.Fatalf("%d refusal lines for ExportEvents, want 1:\n%s", len(refused), logs.String())
		}
		wantID(t, refused, id)
	})
	t.Run("other paths", func(t *testing.T) {
		r := s.restWith(t, http.MethodGet, "/healthz", nil, http.Header{"X-Request-Id": {"probe-1"}})
		if r.Status != http.StatusOK || r.Header.Get("X-Request-Id") != "probe-1" {
			t.Errorf("/healthz: HTTP %d, X-Request-Id %q", r.Status, r.Header.Get("X-Request-Id"))
		}
		r = s.restWith(t, http.MethodGet, "/v1/nowhere", nil, nil)
		if r.Status != http.StatusNotFound || !generatedID(r.Header.Get("X-Request-Id")) {
			t.Errorf("no route: HTTP %d, X-Request-Id %q", r.Status, r.Header.Get("X-Request-Id"))
		}
	})
}
