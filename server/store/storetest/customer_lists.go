package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// walkFixture stores tenant A's customers with ids unrelated to their
// insertion order, plus tenant B look-alikes whose ids interleave. It
// returns tenant A's customers in id order.
func walkFixture(t *testing.T, s ledger.Store) []ledger.Customer {
	t.Helper()
	ids := []string{"cu-k", "cu-c", "cu-m", "cu-a", "cu-f", "cu-b", "cu-z", "cu-d"}
	var mine []ledger.Customer
	for i, id := range ids {
		c := newCustomer(tenantA, id)
		if i%2 == 0 {
			c = fullCustomer(tenantA, id)
		}
		// Tells rows apart, so a mix-up between customers shows.
		c.State.Count = int64(100 + i)
		c.Profile.DisplayName = "customer " + id
		mine = append(mine, c)
	}
	for _, batch := range [][]int{{6, 0}, {3}, {7, 1, 5}, {2, 4}} {
		mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
			for _, i := range batch {
				if err := tx.PutCustomer(ctx, mine[i]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for _, id := range []string{"cu-a", "cu-bb", "cu-e", "cu-y"} {
			c := fullCustomer(tenantB, id)
			c.Profile.DisplayName = "tenant b's " + id
			if err := tx.PutCustomer(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	want := slices.Clone(mine)
	slices.SortFunc(want, byCustomerID)
	if got := strings.Join(customerIDs(want), " "); got != "cu-a cu-b cu-c cu-d cu-f cu-k cu-m cu-z" {
		t.Fatalf("fixture order = %s", got)
	}
	return want
}

// expectCustomers is the suite's model of Customers over customers already
// in id order.
func expectCustomers(all []ledger.Customer, after string, limit int) []ledger.Customer {
	var out []ledger.Customer
	for _, c := range all {
		if c.ID > after {
			out = append(out, c)
		}
	}
	return out[:min(len(out), limit)]
}

func testCustomers(t *testing.T, s ledger.Store) {
	all := walkFixture(t, s)
	tests := []struct {
		name  string
		after string
		limit int
		// want pins the expected ids so that the suite's model cannot drift.
		want string
	}{
		{name: "all, in id order", limit: 100, want: "cu-a cu-b cu-c cu-d cu-f cu-k cu-m cu-z"},
		{name: "limit", limit: 3, want: "cu-a cu-b cu-c"},
		{name: "limit equal to count", limit: 8, want: "cu-a cu-b cu-c cu-d cu-f cu-k cu-m cu-z"},
		{name: "limit 1", limit: 1, want: "cu-a"},
		{name: "after a stored id", after: "cu-c", limit: 100, want: "cu-d cu-f cu-k cu-m cu-z"},
		{name: "after a stored id, limit", after: "cu-c", limit: 2, want: "cu-d cu-f"},
		{name: "after an id between stored ids", after: "cu-e", limit: 100, want: "cu-f cu-k cu-m cu-z"},
		{name: "after a prefix of every id", after: "cu-", limit: 1, want: "cu-a"},
		{name: "after an id of another tenant", after: "cu-bb", limit: 2, want: "cu-c cu-d"},
		{name: "after the last id", after: "cu-z", limit: 100},
		{name: "after every id", after: "cu-zz", limit: 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			model := expectCustomers(all, tc.after, tc.limit)
			if got := strings.Join(customerIDs(model), " "); got != tc.want {
				t.Fatalf("suite model gives %q, case wants %q", got, tc.want)
			}
			got := listCustomers(t, s, tenantA, tc.after, tc.limit)
			equalCustomerLists(t, fmt.Sprintf("Customers(after %q, limit %d)", tc.after, tc.limit), got, model)
		})
	}
	t.Run("other tenant", func(t *testing.T) {
		t.Parallel()
		got := listCustomers(t, s, tenantB, "", 100)
		if ids := strings.Join(customerIDs(got), " "); ids != "cu-a cu-bb cu-e cu-y" {
			t.Fatalf("Customers of tenant B = %s, want cu-a cu-bb cu-e cu-y", ids)
		}
		for _, c := range got {
			if c.TenantID != tenantB || c.Profile.DisplayName != "tenant b's "+c.ID {
				t.Errorf("Customers of tenant B returned %s/%s %q", c.TenantID, c.ID, c.Profile.DisplayName)
			}
		}
	})
	t.Run("unknown tenant", func(t *testing.T) {
		t.Parallel()
		if got := listCustomers(t, s, "tenant-c", "", 100); len(got) != 0 {
			t.Fatalf("Customers of an unknown tenant = %v, want none", customerIDs(got))
		}
	})
	t.Run("inside Update", func(t *testing.T) {
		t.Parallel()
		// A recompute job pages with Customers in the transaction that
		// writes; it must see the transaction's own rows.
		const tenant = "tenant-own-writes"
		c1, c2 := newCustomer(tenant, "cu-b"), newCustomer(tenant, "cu-a")
		c2.State.Count = 9
		mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
			if err := tx.PutCustomer(ctx, c1); err != nil {
				return err
			}
			if err := tx.PutCustomer(ctx, c2); err != nil {
				return err
			}
			got, err := tx.Customers(ctx, tenant, "", 10)
			if err != nil {
				return fmt.Errorf("Customers: %w", err)
			}
			equalCustomerLists(t, "Customers in the writing Update", got, []ledger.Customer{c2, c1})
			return nil
		})
	})
}

// walkCustomers pages through Customers with the last id of each page as
// the next page's after, calling between(page, after) after every page.
func walkCustomers(t *testing.T, s ledger.Store, tenant string, limit int, between func(page int, after string)) []ledger.Customer {
	t.Helper()
	var out []ledger.Customer
	after := ""
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatalf("paging did not end after 1000 pages; last after %q", after)
		}
		got := listCustomers(t, s, tenant, after, limit)
		if len(got) > limit {
			t.Fatalf("page %d holds %d customers, limit %d", page, len(got), limit)
		}
		out = append(out, got...)
		if len(got) < limit {
			return out
		}
		after = got[len(got)-1].ID
		if between != nil {
			between(page, after)
		}
	}
}

// testCustomersPaging walks the table the way a recompute job does.
func testCustomersPaging(t *testing.T, s ledger.Store) {
	all := walkFixture(t, s)
	for _, limit := range []int{1, 2, 3, 7, 8, 9} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			t.Parallel()
			got := walkCustomers(t, s, tenantA, limit, nil)
			checkOnce(t, got)
			equalCustomerLists(t, "walk", got, all)
		})
	}
	// Customers added between pages behind the cursor must not appear; one
	// just after the cursor must.
	t.Run("customers added between pages", func(t *testing.T) {
		t.Parallel()
		const tenant = "tenant-walk"
		var want []ledger.Customer
		for _, id := range []string{"cu-b", "cu-d", "cu-f", "cu-h", "cu-j"} {
			want = append(want, newCustomer(tenant, id))
		}
		mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
			for _, c := range want {
				if err := tx.PutCustomer(ctx, c); err != nil {
					return err
				}
			}
			return nil
		})
		var behind []string
		got := walkCustomers(t, s, tenant, 2, func(page int, after string) {
			// Digits sort before letters: "cu-0" is behind every cursor.
			b := newCustomer(tenant, fmt.Sprintf("cu-%d", page))
			a := newCustomer(tenant, after+"0")
			mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
				if err := tx.PutCustomer(ctx, b); err != nil {
					return err
				}
				return tx.PutCustomer(ctx, a)
			})
			behind = append(behind, b.ID)
			want = append(want, a)
		})
		if len(behind) == 0 {
			t.Fatal("no customers were added between pages")
		}
		checkOnce(t, got)
		slices.SortFunc(want, byCustomerID)
		equalCustomerLists(t, "walk with customers added between pages", got, want)
		for _, c := range got {
			if slices.Contains(behind, c.ID) {
				t.Errorf("customer %s, added behind the cursor, appeared in a later page", c.ID)
			}
		}
	})
}

func testCountCustomers(t *testing.T, s ledger.Store) {
	walkFixture(t, s)
	for _, tc := range []struct {
		tenant string
		want   int64
	}{{tenantA, 8}, {tenantB, 4}, {"tenant-c", 0}} {
		if got := countCustomers(t, s, tc.tenant); got != tc.want {
			t.Errorf("CountCustomers(%s) = %d, want %d", tc.tenant, got, tc.want)
		}
	}
	// Replacing a row counts it once; a new row and the transaction's own
	// writes count.
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		c := newCustomer(tenantA, "cu-k")
		c.State.Count = 7
		if err := tx.PutCustomer(ctx, c); err != nil {
			return err
		}
		if err := tx.PutCustomer(ctx, newCustomer(tenantA, "cu-new")); err != nil {
			return err
		}
		n, err := tx.CountCustomers(ctx, tenantA)
		if err != nil {
			return fmt.Errorf("CountCustomers: %w", err)
		}
		if n != 9 {
			t.Errorf("CountCustomers in the writing Update = %d, want 9", n)
		}
		return nil
	})
	for _, tc := range []struct {
		tenant string
		want   int64
	}{{tenantA, 9}, {tenantB, 4}, {"tenant-c", 0}} {
		if got := countCustomers(t, s, tc.tenant); got != tc.want {
			t.Errorf("CountCustomers(%s) after the second Update = %d, want %d", tc.tenant, got, tc.want)
		}
	}
	// A rolled back Update leaves the count alone.
	err := s.Update(t.Context(), func(tx ledger.Tx) error {
		if err := tx.PutCustomer(t.Context(), newCustomer(tenantA, "cu-lost")); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update error = %v, want errBoom", err)
	}
	if got := countCustomers(t, s, tenantA); got != 9 {
		t.Errorf("CountCustomers after a rolled back Update = %d, want 9", got)
	}
}
