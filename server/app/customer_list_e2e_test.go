package app_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/auth"
)

// ListCustomers pages through every profile by id, whole (attributes and
// the customer's own overdraft limit), filters by segment, refuses a
// forged token naming the field, and answers over REST; another tenant's
// customers never appear.
func TestListCustomers(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	limit := -25.0
	for i := range 7 {
		c := &goodwillv1.Customer{Segment: []string{"gold", "basic"}[i%2], DisplayName: fmt.Sprintf("Customer %d", i),
			Attributes: map[string]string{"plan": fmt.Sprint("p", i)}}
		if i == 0 {
			c.OverdraftLimit = &limit
		}
		if _, err := s.UpsertCustomer(ctx, &goodwillv1.UpsertCustomerRequest{CustomerId: fmt.Sprintf("lc%d", i), Customer: c}); err != nil {
			t.Fatal(err)
		}
	}
	other := s.dialAs(t, s.newKey(t, "tenant-y", auth.Admin))
	if _, err := other.UpsertCustomer(ctx, &goodwillv1.UpsertCustomerRequest{CustomerId: "lc-other", Customer: &goodwillv1.Customer{}}); err != nil {
		t.Fatal(err)
	}

	list := func(req *goodwillv1.ListCustomersRequest) (ids []string, pages int) {
		t.Helper()
		for {
			resp, err := s.ListCustomers(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, c := range resp.GetCustomers() {
				ids = append(ids, c.GetCustomerId())
				if c.GetCustomerId() == "lc0" && (c.GetOverdraftLimit() != -25 || c.GetAttributes()["plan"] != "p0" || c.GetSegment() != "gold") {
					t.Errorf("lc0 listed as %v", c)
				}
			}
			if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
				return ids, pages
			}
		}
	}
	if ids, pages := list(&goodwillv1.ListCustomersRequest{PageSize: 3}); strings.Join(ids, ",") != "lc0,lc1,lc2,lc3,lc4,lc5,lc6" || pages != 3 {
		t.Errorf("pages of 3: %v in %d pages", ids, pages)
	}
	if ids, _ := list(&goodwillv1.ListCustomersRequest{PageSize: 2, Segment: "gold"}); strings.Join(ids, ",") != "lc0,lc2,lc4,lc6" {
		t.Errorf("gold: %v", ids)
	}
	_, err := s.ListCustomers(ctx, &goodwillv1.ListCustomersRequest{Segment: strings.Repeat("s", 65)})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "segment") {
		t.Errorf("a 65-character segment: %v, want INVALID_ARGUMENT naming segment", err)
	}
	_, err = s.ListCustomers(ctx, &goodwillv1.ListCustomersRequest{PageToken: "not a token!"})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "page_token") {
		t.Errorf("forged token: %v, want INVALID_ARGUMENT naming page_token", err)
	}

	r := s.rest(t, "GET", "/v1/customers?pageSize=2&segment=basic", nil)
	if r.Status != 200 {
		t.Fatalf("REST: %d %s", r.Status, r.Raw)
	}
	cs, _ := r.Body["customers"].([]any)
	if len(cs) != 2 || get(cs[0].(map[string]any), "customerId") != "lc1" || r.Body["nextPageToken"] == "" {
		t.Errorf("REST page: %s", r.Raw)
	}
	if r := s.rest(t, "GET", "/v1/customers?pageSize=5000", nil); r.Status != 400 || !strings.Contains(string(r.Raw), "pageSize") {
		t.Errorf("page size 5000 over REST: %d %s", r.Status, r.Raw)
	}
}
