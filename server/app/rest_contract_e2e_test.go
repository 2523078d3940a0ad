package app_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// violationFields lists the fields of a REST error's BadRequest detail.
func violationFields(r restResponse) []string {
	var out []string
	details, _ := r.Body["details"].([]any)
	for _, d := range details {
		vs, _ := d.(map[string]any)["fieldViolations"].([]any)
		for _, v := range vs {
			f, _ := v.(map[string]any)["field"].(string)
			out = append(out, f)
		}
	}
	return out
}

// What a REST client sees when it gets a request wrong: every mistake at
// once, named as it spelled it, with the values it could have used; never
// a silently ignored parameter (a new user's ?kind= returned unfiltered
// events) and never the Go library's words.
func TestRESTErrorsSpeakREST(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	record(t, s, pev("c1", credit, 1, time.Now().Add(-time.Hour)))

	t.Run("unknown query parameters", func(t *testing.T) {
		r := s.rest(t, http.MethodGet, "/v1/customers/c1/events?kind=EVENT_KIND_OUTAGE&segmnt=gold&pageSize=5", nil)
		wantRESTError(t, r, http.StatusBadRequest, codes.InvalidArgument,
			`kind: is not a parameter of this call; it takes pageSize, pageToken, kinds, startTime, endTime`, "segmnt: ")
		if got := violationFields(r); !slices.Equal(got, []string{"kind", "segmnt"}) {
			t.Errorf("violations %v, want kind and segmnt", got)
		}
		r = s.rest(t, http.MethodGet, "/v1/balances?segmnt=gold", nil)
		wantRESTError(t, r, http.StatusBadRequest, codes.InvalidArgument, "segmnt: is not a parameter")
		r = s.rest(t, http.MethodGet, "/v1/customers/c1/balance?customerId=c2", nil)
		wantRESTError(t, r, http.StatusBadRequest, codes.InvalidArgument, "customerId: is taken from the request path")
		r = s.rest(t, http.MethodPost, "/v1/events:batchRecord?dryRun=true", map[string]any{"events": []any{map[string]any{"customerId": "c1", "kind": "EVENT_KIND_CREDIT"}}})
		wantRESTError(t, r, http.StatusBadRequest, codes.InvalidArgument, "dryRun: is not a parameter of this call, which takes none in the query")
		// The proto spelling is accepted too, as the gateway always did.
		wantREST(t, s.rest(t, http.MethodGet, "/v1/customers/c1/events?page_size=5", nil), http.StatusOK)
	})

	t.Run("query values", func(t *testing.T) {
		r := s.rest(t, http.MethodGet, "/v1/customers/c1/events?kinds=EVENT_KIND_BOGUS&startTime=2026-01&pageSize=ten", nil)
		wantRESTError(t, r, http.StatusBadRequest, codes.InvalidArgument,
			`kinds[0]: "EVENT_KIND_BOGUS" is not one of EVENT_KIND_CREDIT, EVENT_KIND_RELIABLE_DELIVERY`,
			`startTime: "2026-01" is not an RFC 3339 time, such as 2026-11-20T14:00:00Z`,
			`pageSize: "ten" is not a whole number`)
		if strings.Contains(string(r.Raw), "2006-01-02") {
			t.Errorf("an error shows Go's time layout: %s", r.Raw)
		}
		r = s.rest(t, http.MethodGet, "/v1/customers/c1/balance/history?start=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00Z&step=1h", nil)
		wantRESTError(t, r, http.StatusBadRequest, codes.InvalidArgument, `step: "1h" is not a duration in seconds, such as 3600s`)
		r = s.rest(t, http.MethodGet, "/v1/balances?status=BROKE&allowStale=maybe&pageSize=1&pageSize=2", nil)
		wantRESTError(t, r, http.StatusBadRequest, codes.InvalidArgument,
			`status: "BROKE" is not one of BALANCE_STATUS_HEALTHY, BALANCE_STATUS_OVERDRAWN`,
			`allowStale: "maybe" is not true or false`, "pageSize: is given 2 times")
	})

	t.Run("body fields", func(t *testing.T) {
		r := s.rest(t, http.MethodPost, "/v1/customers/c1/events",
			`{"kind":"EVENT_KIND_BOGUS","magnitdue":2,"occuredAt":"2026-01-01T00:00:00Z","occurredAt":"soon"}`)
		wantRESTError(t, r, http.StatusBadRequest, codes.InvalidArgument,
			`kind: "EVENT_KIND_BOGUS" is not one of EVENT_KIND_CREDIT`, "magnitdue: is not a field of Event; its fields are eventId, customerId, kind, magnitude",
			"occuredAt: is not a field", `occurredAt: "soon" is not an RFC 3339 time`)
		if got := violationFields(r); len(got) != 4 {
			t.Errorf("violations %v, want all four", got)
		}
		r = s.rest(t, http.MethodPost, "/v1/events:batchRecord",
			`{"events":[{"customerId":"c1","kind":"EVENT_KIND_CREDIT"},{"customer":"c2","kind":"NOPE"}]}`)
		wantRESTError(t, r, http.StatusBadRequest, codes.InvalidArgument, "events[1].customer: is not a field of Event",
			`events[1].kind: "NOPE" is not one of`)
		// protojson takes these two; the API does not (the body is checked
		// only once protojson has refused it or the enum guard has).
		r = s.rest(t, http.MethodPost, "/v1/events:batchRecord",
			`{"events":[{"customerId":"c1","kind":"EVENT_KIND_CREDIT"},{"customerId":"c2","kind":77}]}`)
		wantRESTError(t, r, http.StatusBadRequest, codes.InvalidArgument, `events[1].kind: "77" is not one of`)
		r = s.rest(t, http.MethodPost, "/v1/customers/c1/events", `{"kind":"EVENT_KIND_CREDIT"} {"kind":"EVENT_KIND_OUTAGE"}`)
		wantRESTError(t, r, http.StatusBadRequest, codes.InvalidArgument, "request body must be a single JSON value")
	})

	t.Run("every invalid field, REST names", func(t *testing.T) {
		// Two fields only the ledger's own checks catch.
		r := s.rest(t, http.MethodPost, "/v1/customers/c1/events",
			map[string]any{"kind": "EVENT_KIND_CREDIT", "idempotencyKey": "a b", "note": "x\u0000y"})
		wantRESTError(t, r, http.StatusBadRequest, codes.InvalidArgument,
			"idempotencyKey: must be printable ASCII", "note: must be valid UTF-8 without NUL")
		if got := violationFields(r); !slices.Equal(got, []string{"idempotencyKey", "note"}) {
			t.Errorf("violations %v, want idempotencyKey and note", got)
		}
		// Two the proto's annotations catch.
		r = s.rest(t, http.MethodPost, "/v1/customers/c1/events",
			map[string]any{"kind": "EVENT_KIND_CREDIT", "magnitude": 0, "source": strings.Repeat("s", 65)})
		wantRESTError(t, r, http.StatusBadRequest, codes.InvalidArgument, "magnitude: must be greater than 0", "source: must be at most 64")
		// Over gRPC the same request names proto fields.
		_, err := s.RecordEvent(t.Context(), &goodwillv1.RecordEventRequest{CustomerId: "c1",
			Event: &goodwillv1.Event{Kind: credit, IdempotencyKey: "a b", Note: "x\x00y"}})
		if st := status.Convert(err); st.Code() != codes.InvalidArgument ||
			!strings.Contains(st.Message(), "event.idempotency_key: ") || !strings.Contains(st.Message(), "event.note: ") {
			t.Errorf("gRPC: %v, want both proto field names", err)
		}
		r = s.rest(t, http.MethodGet, "/v1/customers/c1/balance/history", nil)
		wantRESTError(t, r, http.StatusBadRequest, codes.InvalidArgument, "start: is required", "end: is required")
	})

	t.Run("headers", func(t *testing.T) {
		r := s.restAs(t, "", http.MethodGet, "/v1/customers/c1", nil)
		if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") != `Bearer realm="goodwill"` {
			t.Errorf("no key: HTTP %d, WWW-Authenticate %q", r.Status, r.Header.Get("WWW-Authenticate"))
		}
		r = s.restAs(t, "gwk_0123456789abcdef_"+strings.Repeat("A", 43), http.MethodGet, "/v1/customers/c1", nil)
		if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") != `Bearer realm="goodwill", error="invalid_token"` {
			t.Errorf("bad key: HTTP %d, WWW-Authenticate %q", r.Status, r.Header.Get("WWW-Authenticate"))
		}
		for _, resp := range []restResponse{s.rest(t, http.MethodGet, "/v1/customers/c1", nil), s.rest(t, http.MethodGet, "/v1/customers/nobody", nil)} {
			for k := range resp.Header {
				if strings.HasPrefix(strings.ToLower(k), "grpc-") {
					t.Errorf("HTTP %d carries gRPC header %s: %v", resp.Status, k, resp.Header[k])
				}
			}
		}
	})

	t.Run("no nulls", func(t *testing.T) {
		// A customer without an overdraft limit, a job not finished: the
		// schema says number and date-time, so the fields are left out.
		r := s.rest(t, http.MethodGet, "/v1/customers/c1", nil)
		wantREST(t, r, http.StatusOK)
		if strings.Contains(string(r.Raw), "null") {
			t.Errorf("GET customer has a null: %s", r.Raw)
		}
		if _, ok := get(r.Body, "customer").(map[string]any)["overdraftLimit"]; ok {
			t.Errorf("an unset overdraft limit is present: %s", r.Raw)
		}
		for _, p := range []string{"/v1/policy", "/v1/customers/c1/events", "/v1/balances", "/v1/outreach?purpose=OUTREACH_PURPOSE_RECOVERY",
			"/v1/balances:summarize", "/v1/customers/c1/balance:explain"} {
			if r := s.rest(t, http.MethodGet, p, nil); r.Status != http.StatusOK || strings.Contains(string(r.Raw), "null") {
				t.Errorf("GET %s: HTTP %d %s", p, r.Status, r.Raw)
			}
		}
	})
}

// What a second review found the REST checks still let through.
func TestRESTChecksHoldUnderAbuse(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	record(t, s, pev("c1", credit, 1, time.Now().Add(-time.Hour)))

	t.Run("a body of many unknown keys costs a bounded reply, before any key check", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("{")
		for i := range 200000 {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"k%d":0`, i)
		}
		b.WriteString("}")
		r := s.restAs(t, "", http.MethodPost, "/v1/customers/c1/events", b.String())
		if r.Status != http.StatusBadRequest || len(r.Raw) > 64<<10 || len(violationFields(r)) != 100 {
			t.Errorf("HTTP %d, %d bytes, %d violations; want 400, at most 64 KiB, 100", r.Status, len(r.Raw), len(violationFields(r)))
		}
	})
	t.Run("a form POST does not stand in for a GET", func(t *testing.T) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.baseURL+"/v1/balances?bogus=1", strings.NewReader("x=1"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-HTTP-Method-Override", "GET")
		req.Header.Set("Authorization", "Bearer "+s.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
			t.Errorf("HTTP %d, Allow %q; want 405 and Allow: GET", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
	t.Run("body type errors are all reported", func(t *testing.T) {
		r := s.rest(t, http.MethodPost, "/v1/customers/c1/events",
			`{"kind":"EVENT_KIND_CREDIT","magnitude":"abc","occurred_at":"x","attributes":{"a":1},"note":7}`)
		wantRESTError(t, r, http.StatusBadRequest, codes.InvalidArgument, "magnitude: must be a number",
			`occurredAt: "x" is not an RFC 3339 time`, `attributes["a"]: must be a string`, "note: must be a string")
	})
	for _, tc := range []struct{ path, want string }{
		{"/v1/customers/c1/events?page_size=1&pageSize=2", "pageSize: is given twice, as pageSize and as page_size"},
		{"/v1/customers/c1/balance/history?start=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00Z&step=10000000000s",
			`step: "10000000000s" is longer than any duration`},
		{"/v1/balances?status=99", `status: "99" is not one of BALANCE_STATUS_HEALTHY, BALANCE_STATUS_OVERDRAWN`},
		{"/v1/balances?minBalance=Infinity", "minBalance: must be finite"},
		{"/v1/balances?minBalance=Inf", `minBalance: "Inf" is not a number`},
		{"/v1/customers/c1/balance?asOf=0000-01-01T00:00:00Z", `asOf: "0000-01-01T00:00:00Z" is not an RFC 3339 time`},
		{"/v1/customers/c1/balance?asOf=2026-01-01T00:00:00.1234567891Z", `asOf: "2026-01-01T00:00:00.1234567891Z" is not an RFC 3339 time`},
	} {
		r := s.rest(t, http.MethodGet, tc.path, nil)
		wantRESTError(t, r, http.StatusBadRequest, codes.InvalidArgument, tc.want)
		for _, bad := range []string{"time:", "proto:", "parsing", "min_balance", "as_of", "page_size:"} {
			if strings.Contains(get(r.Body, "message").(string), bad) {
				t.Errorf("GET %s: message shows %q: %s", tc.path, bad, r.Raw)
			}
		}
	}
	t.Run("another auth scheme gets the bare challenge", func(t *testing.T) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.baseURL+"/v1/customers/c1", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Basic dXNlcjpwdw==")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Bearer realm="goodwill"` {
			t.Errorf("HTTP %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("item errors name no field", func(t *testing.T) {
		r := s.rest(t, http.MethodPost, "/v1/events:batchRecord", map[string]any{"events": []any{
			map[string]any{"customerId": "c1", "kind": "EVENT_KIND_CREDIT", "idempotencyKey": "x1"},
			map[string]any{"customerId": "c1", "kind": "EVENT_KIND_OUTAGE", "idempotencyKey": "x1"}}})
		wantREST(t, r, http.StatusOK)
		if e := get(r.Body, "results").([]any)[1].(map[string]any)["error"]; e != `idempotency key "x1" was already used for a different event` {
			t.Errorf("batch item error %q", e)
		}
	})
}
