package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// RunKeys is the conformance suite for auth.KeyStore. open must return a
// fresh, empty, migrated store.
func RunKeys(t *testing.T, open func(t *testing.T) auth.KeyStore) {
	t.Run("KeyRoundTrip", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		if _, err := s.Key(ctx, "absent"); !errors.Is(err, ledger.ErrNotFound) {
			t.Fatalf("Key(absent) error = %v, want ErrNotFound", err)
		}
		k := auth.Key{ID: "0123456789abcdef", Tenant: tenantA, Role: auth.Writer, Name: "crm ingest \"east\" ü",
			Hash: bytes.Repeat([]byte{0, 0xff, 7}, 11)[:32], CreatedAt: base, CreatedBy: "cli:root"}
		if err := s.PutKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		got, err := s.Key(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		equalKey(t, "Key", got, k)
		if err := s.PutKey(ctx, k); !errors.Is(err, ledger.ErrDuplicate) {
			t.Errorf("PutKey of an existing id: %v, want ErrDuplicate", err)
		}
	})
	t.Run("KeysByTenant", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		for i, spec := range []struct{ id, tenant string }{{"c3", tenantA}, {"a1", tenantB}, {"b2", tenantA}} {
			k := auth.Key{ID: spec.id, Tenant: spec.tenant, Role: auth.Role(1 + i%3), Hash: []byte{byte(i)}, CreatedAt: at(i)}
			if err := s.PutKey(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			tenant string
			want   []string
		}{{tenantA, []string{"b2", "c3"}}, {tenantB, []string{"a1"}}, {"", []string{"a1", "b2", "c3"}}, {"nobody", nil}} {
			ks, err := s.Keys(ctx, tc.tenant)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, k := range ks {
				ids = append(ids, k.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("Keys(%q) = %v, want %v", tc.tenant, ids, tc.want)
			}
		}
	})
	t.Run("PutFirstKey", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		// Servers bootstrapping an empty store at once: exactly one wins.
		const racers = 8
		var wg sync.WaitGroup
		var won atomic.Int64
		errs := make(chan error, racers)
		for i := range racers {
			wg.Go(func() {
				k := auth.Key{ID: fmt.Sprintf("first-%d", i), Tenant: tenantA, Role: auth.Admin, Hash: []byte{byte(i)}, CreatedAt: at(i)}
				put, err := s.PutFirstKey(ctx, k)
				if err != nil {
					errs <- err
				}
				if put {
					won.Add(1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("PutFirstKey: %v", err)
		}
		ks, err := s.Keys(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if won.Load() != 1 || len(ks) != 1 {
			t.Errorf("%d of %d racers put their key and the store holds %d; want exactly 1", won.Load(), racers, len(ks))
		}
		if put, err := s.PutFirstKey(ctx, auth.Key{ID: "late", Tenant: tenantA, Role: auth.Admin, Hash: []byte{1}, CreatedAt: base}); put || err != nil {
			t.Errorf("PutFirstKey on a keyed store = %v, %v; want false, nil", put, err)
		}
	})
	t.Run("RevokeKey", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		if err := s.RevokeKey(ctx, "absent", at(1)); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("RevokeKey(absent): %v, want ErrNotFound", err)
		}
		k := auth.Key{ID: "k1", Tenant: tenantA, Role: auth.Admin, Hash: []byte{1}, CreatedAt: base}
		if err := s.PutKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeKey(ctx, "k1", at(5)); err != nil {
			t.Fatal(err)
		}
		// Revoking again keeps the first time.
		if err := s.RevokeKey(ctx, "k1", at(9)); err != nil {
			t.Fatal(err)
		}
		got, err := s.Key(ctx, "k1")
		if err != nil {
			t.Fatal(err)
		}
		k.RevokedAt = at(5)
		equalKey(t, "revoked key", got, k)
	})
}

func equalKey(t *testing.T, what string, got, want auth.Key) {
	t.Helper()
	if got.ID != want.ID || got.Tenant != want.Tenant || got.Role != want.Role || got.Name != want.Name ||
		!bytes.Equal(got.Hash, want.Hash) || !got.CreatedAt.Equal(want.CreatedAt) || got.CreatedBy != want.CreatedBy ||
		!got.RevokedAt.Equal(want.RevokedAt) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}
