package app_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/auth"
)

// exportFixture gives the default tenant 4 customers in two segments, 5
// events each (a credit and 4 deliveries, hours apart), and returns every
// event id in export order (customer id, then occurred_at, then id).
func exportFixture(t *testing.T, s *testServer) []string {
	t.Helper()
	ctx := t.Context()
	for id, seg := range map[string]string{"cust-a": "gold", "cust-b": "basic", "cust-c": "gold", "cust-d": "basic"} {
		if _, err := s.UpsertCustomer(ctx, &goodwillv1.UpsertCustomerRequest{CustomerId: id,
			Customer: &goodwillv1.Customer{Segment: seg}}); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Now().Add(-48 * time.Hour).Truncate(time.Hour)
	var batch []*goodwillv1.Event
	for _, c := range []string{"cust-d", "cust-b", "cust-a", "cust-c"} {
		for i := range 5 {
			kind := goodwillv1.EventKind_EVENT_KIND_RELIABLE_DELIVERY
			if i == 2 {
				kind = goodwillv1.EventKind_EVENT_KIND_CREDIT
			}
			batch = append(batch, pev(c, kind, 1, base.Add(time.Duration(4-i)*time.Hour)))
		}
	}
	resp, err := s.RecordEvents(ctx, &goodwillv1.RecordEventsRequest{Events: batch})
	if err != nil {
		t.Fatal(err)
	}
	events := make([]*goodwillv1.Event, 0, len(batch))
	for _, r := range resp.GetResults() {
		events = append(events, r.GetEvent())
	}
	slices.SortFunc(events, func(a, b *goodwillv1.Event) int {
		if c := strings.Compare(a.GetCustomerId(), b.GetCustomerId()); c != 0 {
			return c
		}
		if c := a.GetOccurredAt().AsTime().Compare(b.GetOccurredAt().AsTime()); c != 0 {
			return c
		}
		return strings.Compare(a.GetEventId(), b.GetEventId())
	})
	var ids []string
	for _, e := range events {
		ids = append(ids, e.GetEventId())
	}
	return ids
}

// exportGRPC reads a whole export over gRPC and returns its chunks.
func exportGRPC(t *testing.T, s *testServer, req *goodwillv1.ExportEventsRequest) []*goodwillv1.ExportEventsResponse {
	t.Helper()
	st, err := s.ExportEvents(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	var out []*goodwillv1.ExportEventsResponse
	for {
		resp, err := st.Recv()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("export: %v", err)
		}
		out = append(out, resp)
	}
}

func chunkIDs(chunks []*goodwillv1.ExportEventsResponse) []string {
	var ids []string
	for _, c := range chunks {
		for _, e := range c.GetEvents() {
			ids = append(ids, e.GetEventId())
		}
	}
	return ids
}

// ExportEvents over gRPC: every event of the tenant once, in export order,
// in chunks of page_size; the filters; a resumed export returns exactly
// the rest, and leaves out events recorded after the export began.
func TestExportEvents(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	loadDefaultPolicy(t, s)
	all := exportFixture(t, s)
	// Another tenant's events never appear.
	other := s.dialAs(t, s.newKey(t, "tenant-x", auth.Admin))
	if _, err := other.RecordEvent(t.Context(), &goodwillv1.RecordEventRequest{CustomerId: "cust-a",
		Event: &goodwillv1.Event{Kind: goodwillv1.EventKind_EVENT_KIND_CREDIT}}); err != nil {
		t.Fatal(err)
	}

	chunks := exportGRPC(t, s, &goodwillv1.ExportEventsRequest{PageSize: 6})
	if got := chunkIDs(chunks); !slices.Equal(got, all) {
		t.Fatalf("export = %v\nwant     %v", got, all)
	}
	if len(chunks) != 4 { // 6, 6, 6, 2
		t.Errorf("%d chunks, want 4", len(chunks))
	}
	through := chunks[0].GetRecordedThrough().AsTime()
	for i, c := range chunks {
		if len(c.GetEvents()) > 6 || c.GetPageToken() == "" || !c.GetRecordedThrough().AsTime().Equal(through) {
			t.Errorf("chunk %d: %d events, token %q, recorded_through %v (first %v)", i, len(c.GetEvents()),
				c.GetPageToken(), c.GetRecordedThrough().AsTime(), through)
		}
	}
	// The default chunk holds them all.
	if got := exportGRPC(t, s, &goodwillv1.ExportEventsRequest{}); len(got) != 1 || len(got[0].GetEvents()) != len(all) {
		t.Errorf("default page size: %d chunks", len(got))
	}

	// Events recorded now, one before the resume position (cust-a) and one
	// after it (cust-d), are both left out of the resumed export: it is
	// the log as it stood when the export began.
	time.Sleep(2 * time.Millisecond)
	record(t, s, pev("cust-a", goodwillv1.EventKind_EVENT_KIND_RESPONSE, 1, time.Now().Add(-time.Minute)))
	record(t, s, pev("cust-d", goodwillv1.EventKind_EVENT_KIND_RESPONSE, 1, time.Now().Add(-time.Minute)))
	rest := exportGRPC(t, s, &goodwillv1.ExportEventsRequest{PageSize: 6, PageToken: chunks[1].GetPageToken()})
	if got := chunkIDs(rest); !slices.Equal(got, all[12:]) {
		t.Errorf("resumed export = %v\nwant            %v", got, all[12:])
	}
	if !rest[0].GetRecordedThrough().AsTime().Equal(through) {
		t.Errorf("resumed recorded_through %v, want %v", rest[0].GetRecordedThrough().AsTime(), through)
	}
	// The last chunk's token resumes to nothing.
	if got := chunkIDs(exportGRPC(t, s, &goodwillv1.ExportEventsRequest{PageToken: chunks[3].GetPageToken()})); len(got) != 0 {
		t.Errorf("after the last chunk: %v", got)
	}
	// A new export sees them.
	if got := chunkIDs(exportGRPC(t, s, &goodwillv1.ExportEventsRequest{})); len(got) != len(all)+2 {
		t.Errorf("a new export has %d events, want %d", len(got), len(all)+2)
	}

	// Filters: the segment, kinds, and occurred_at in [start, end).
	gold := exportGRPC(t, s, &goodwillv1.ExportEventsRequest{Segment: "gold", PageSize: 3})
	for _, e := range gold {
		for _, ev := range e.GetEvents() {
			if c := ev.GetCustomerId(); c != "cust-a" && c != "cust-c" {
				t.Errorf("segment gold exported %s's event", c)
			}
		}
	}
	if n := len(chunkIDs(gold)); n != 11 { // 5 + 5 + the response above
		t.Errorf("segment gold: %d events, want 11", n)
	}
	credits := chunkIDs(exportGRPC(t, s, &goodwillv1.ExportEventsRequest{
		Kinds: []goodwillv1.EventKind{goodwillv1.EventKind_EVENT_KIND_CREDIT}}))
	if len(credits) != 4 {
		t.Errorf("kind CREDIT: %d events, want 4", len(credits))
	}
	start := time.Now().Add(-48 * time.Hour).Truncate(time.Hour)
	window := chunkIDs(exportGRPC(t, s, &goodwillv1.ExportEventsRequest{StartTime: ts(start.Add(time.Hour)),
		EndTime: ts(start.Add(3 * time.Hour))}))
	if len(window) != 8 { // the events 1 and 2 hours after start, of 4 customers
		t.Errorf("time window: %d events, want 8", len(window))
	}
}

// Bad input is INVALID_ARGUMENT naming the field, before anything is sent.
func TestExportEventsBadInput(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	now := time.Now()
	for _, tc := range []struct {
		name  string
		req   *goodwillv1.ExportEventsRequest
		field string
	}{
		{"page size", &goodwillv1.ExportEventsRequest{PageSize: 1001}, "page_size"},
		{"negative page size", &goodwillv1.ExportEventsRequest{PageSize: -1}, "page_size"},
		{"undefined kind", &goodwillv1.ExportEventsRequest{Kinds: []goodwillv1.EventKind{99}}, "kinds[0]"},
		{"repeated kind", &goodwillv1.ExportEventsRequest{Kinds: []goodwillv1.EventKind{1, 1}}, "kinds"},
		{"end before start", &goodwillv1.ExportEventsRequest{StartTime: ts(now), EndTime: ts(now.Add(-time.Hour))}, "end_time"},
		{"forged token", &goodwillv1.ExportEventsRequest{PageToken: "eC8xMjM0L2EvYi9j"}, "page_token"},
		{"garbage token", &goodwillv1.ExportEventsRequest{PageToken: "!!"}, "page_token"},
		{"segment", &goodwillv1.ExportEventsRequest{Segment: strings.Repeat("s", 65)}, "segment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := s.ExportEvents(t.Context(), tc.req)
			if err == nil {
				_, err = st.Recv()
			}
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("%v, want InvalidArgument", err)
			}
			var fields []string
			for _, d := range status.Convert(err).Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						fields = append(fields, v.GetField())
					}
				}
			}
			if !slices.Contains(fields, tc.field) || !strings.HasPrefix(status.Convert(err).Message(), tc.field) {
				t.Errorf("violations %v, message %q: want %s named", fields, status.Convert(err).Message(), tc.field)
			}
		})
	}
}

// Over REST, GET /v1/events:export streams newline-delimited JSON, one
// {"result": chunk} per line, with the query's filters and pageToken; a
// refusal is one {"error": ...} line.
func TestExportEventsREST(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	loadDefaultPolicy(t, s)
	all := exportFixture(t, s)
	read := func(query string) (results []*goodwillv1.ExportEventsResponse, errs []map[string]any, code int) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.baseURL+"/v1/events:export?"+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+s.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var line struct {
				Result json.RawMessage `json:"result"`
				Error  map[string]any  `json:"error"`
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			if line.Error != nil {
				errs = append(errs, line.Error)
				continue
			}
			var chunk goodwillv1.ExportEventsResponse
			if err := protojson.Unmarshal(line.Result, &chunk); err != nil {
				t.Fatalf("result %s: %v", line.Result, err)
			}
			results = append(results, &chunk)
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		return results, errs, resp.StatusCode
	}
	chunks, errs, code := read("pageSize=7")
	if code != http.StatusOK || len(errs) != 0 {
		t.Fatalf("HTTP %d, errors %v", code, errs)
	}
	if got := chunkIDs(chunks); !slices.Equal(got, all) || len(chunks) != 3 {
		t.Fatalf("%d chunks: %v\nwant %v", len(chunks), got, all)
	}
	rest, _, _ := read("pageSize=7&pageToken=" + url.QueryEscape(chunks[0].GetPageToken()))
	if got := chunkIDs(rest); !slices.Equal(got, all[7:]) {
		t.Errorf("resumed: %v\nwant %v", got, all[7:])
	}
	gold, _, _ := read("segment=gold&kinds=EVENT_KIND_CREDIT&kinds=EVENT_KIND_RELIABLE_DELIVERY")
	if n := len(chunkIDs(gold)); n != 10 {
		t.Errorf("segment gold over REST: %d events, want 10", n)
	}
	_, errs, code = read("pageSize=5000")
	if len(errs) != 1 || !strings.HasPrefix(errs[0]["message"].(string), "pageSize") && !strings.HasPrefix(errs[0]["message"].(string), "page_size") {
		t.Errorf("pageSize=5000: HTTP %d, errors %v", code, errs)
	}
	t.Logf("bad page size over REST: HTTP %d %v", code, errs)
}

// ListBalances values every page of one listing at the same moment: the
// first page's as_of (given, or now), carried by the page token; each
// value equals GetBalance at that moment.
func TestListBalancesAsOf(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	loadDefaultPolicy(t, s)
	exportFixture(t, s)
	ctx := t.Context()
	check := func(what string, pages []*goodwillv1.ListBalancesResponse, want time.Time) {
		t.Helper()
		n := 0
		for _, p := range pages {
			if !p.GetAsOf().AsTime().Equal(want) {
				t.Errorf("%s: page as_of %v, want %v", what, p.GetAsOf().AsTime(), want)
			}
			for _, e := range p.GetBalances() {
				n++
				b := e.GetBalance()
				if !b.GetAsOf().AsTime().Equal(want) {
					t.Errorf("%s: %s valued at %v, want %v", what, b.GetCustomerId(), b.GetAsOf().AsTime(), want)
				}
				one, err := s.GetBalance(ctx, &goodwillv1.GetBalanceRequest{CustomerId: b.GetCustomerId(), AsOf: ts(want)})
				if err != nil {
					t.Fatal(err)
				}
				if got := one.GetBalance().GetBalance(); got != b.GetBalance() {
					t.Errorf("%s: %s listed %v, GetBalance at as_of %v", what, b.GetCustomerId(), b.GetBalance(), got)
				}
			}
		}
		if n != 4 {
			t.Errorf("%s: %d balances, want 4", what, n)
		}
	}
	list := func(req *goodwillv1.ListBalancesRequest) []*goodwillv1.ListBalancesResponse {
		t.Helper()
		var pages []*goodwillv1.ListBalancesResponse
		for {
			resp, err := s.ListBalances(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, resp)
			if resp.GetNextPageToken() == "" {
				return pages
			}
			time.Sleep(5 * time.Millisecond) // "now" moves on; the listing's moment does not
			req = proto.Clone(req).(*goodwillv1.ListBalancesRequest)
			req.PageToken = resp.GetNextPageToken()
			req.AsOf = ts(time.Now()) // ignored after the first page
		}
	}
	pinned := list(&goodwillv1.ListBalancesRequest{PageSize: 1})
	if len(pinned) != 4 {
		t.Fatalf("%d pages, want 4", len(pinned))
	}
	check("as_of omitted", pinned, pinned[0].GetAsOf().AsTime())
	past := time.Now().Add(-46*time.Hour - 30*time.Minute).Truncate(time.Microsecond)
	check("as_of in the past", list(&goodwillv1.ListBalancesRequest{PageSize: 3, AsOf: ts(past)}), past)

	// Over REST, asOf in the query.
	r := s.rest(t, http.MethodGet, "/v1/balances?pageSize=2&asOf="+past.Format(time.RFC3339Nano), nil)
	got, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(get(r.Body, "asOf")))
	if r.Status != http.StatusOK || !got.Equal(past) || len(get(r.Body, "balances").([]any)) != 2 {
		t.Errorf("REST: HTTP %d, asOf %v, want %s: %s", r.Status, get(r.Body, "asOf"), past.Format(time.RFC3339Nano), r.Raw)
	}
	r = s.rest(t, http.MethodGet, "/v1/balances?asOf=1969-01-01T00:00:00Z", nil)
	if r.Status != http.StatusBadRequest || !strings.HasPrefix(get(r.Body, "message").(string), "asOf") {
		t.Errorf("REST asOf before 1970: HTTP %d %s", r.Status, r.Raw)
	}
}
