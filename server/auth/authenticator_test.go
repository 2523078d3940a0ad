package auth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/sqlite"
)

// countingKeys counts the key reads that reach the real store.
type countingKeys struct {
	auth.KeyStore
	reads atomic.Int64
}

func (c *countingKeys) Key(ctx context.Context, id string) (auth.Key, error) {
	c.reads.Add(1)
	return c.KeyStore.Key(ctx, id)
}

func openKeys(t *testing.T) *countingKeys {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "k.db"), sqlite.Options{Migrate: true, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &countingKeys{KeyStore: st}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestAuthenticator(t *testing.T) {
	ctx := t.Context()
	st := openKeys(t)
	k, token, err := auth.CreateKey(ctx, st, quiet(), "acme", auth.Writer, "ingest", "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Hash) != 32 || strings.Contains(string(k.Hash), token) {
		t.Fatalf("stored hash %x", k.Hash)
	}
	now := time.Unix(1_000_000, 0)
	a := auth.NewAuthenticator(st)
	auth.SetClock(a, func() time.Time { return now })

	p, err := a.Authenticate(ctx, token)
	if err != nil || p != (auth.Principal{KeyID: k.ID, Tenant: "acme", Role: auth.Writer}) {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	// A wrong secret for a real id, an unknown id, garbage.
	_, other, err := auth.CreateKey(ctx, openKeys(t), quiet(), "acme", auth.Writer, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	cut := len("gwk_") + auth.IDLen + 1
	wrongSecret := token[:cut] + other[cut:]
	for _, bad := range []string{wrongSecret, other, "nonsense", ""} {
		if _, err := a.Authenticate(ctx, bad); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("Authenticate(%q) err = %v, want ErrUnauthenticated", bad, err)
		}
	}

	// Cached: a second call within the TTL does not read the store.
	reads := st.reads.Load()
	if _, err := a.Authenticate(ctx, token); err != nil || st.reads.Load() != reads {
		t.Errorf("cached call: err %v, %d store reads", err, st.reads.Load()-reads)
	}
	// Revoked: still accepted from the cache within the TTL, refused after.
	if err := auth.RevokeKey(ctx, st, quiet(), k.ID, "test"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(auth.CacheTTL + time.Millisecond)
	if _, err := a.Authenticate(ctx, token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("revoked key after the TTL: %v, want ErrUnauthenticated", err)
	}
	if err := auth.RevokeKey(ctx, st, quiet(), "absent", "test"); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("revoking an unknown key: %v, want ErrNotFound", err)
	}
}

// An id the store does not have is remembered for CacheTTL: a repeated
// unknown token costs one store read, not one per call.
func TestAuthenticatorCachesUnknownIDs(t *testing.T) {
	ctx := t.Context()
	st := openKeys(t)
	now := time.Unix(1_000_000, 0)
	a := auth.NewAuthenticator(st)
	auth.SetClock(a, func() time.Time { return now })
	unknown := "gwk_0123456789abcdef_" + strings.Repeat("A", 43)
	call := func() {
		t.Helper()
		if _, err := a.Authenticate(ctx, unknown); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("unknown key: %v, want ErrUnauthenticated", err)
		}
	}
	for range 100 {
		call()
	}
	if n := st.reads.Load(); n != 1 {
		t.Errorf("100 calls with one unknown id: %d store reads, want 1", n)
	}
	now = now.Add(auth.CacheTTL + time.Millisecond)
	call()
	if n := st.reads.Load(); n != 2 {
		t.Errorf("after CacheTTL: %d store reads in all, want 2", n)
	}
	// Malformed tokens never reach the store, and a known key is unaffected.
	call()
	_, _ = a.Authenticate(ctx, "gwk_nonsense")
	_, token, err := auth.CreateKey(ctx, st, quiet(), "acme", auth.Reader, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, token); err != nil {
		t.Errorf("a new key: %v", err)
	}
	if n := st.reads.Load(); n != 3 {
		t.Errorf("%d store reads in all, want 3", n)
	}
}

func TestCreateKeyValidates(t *testing.T) {
	st := openKeys(t)
	for _, tc := range []struct {
		tenant, name, field string
		role                auth.Role
	}{
		{"", "", "tenant", auth.Reader}, {"a b", "", "tenant", auth.Reader}, {strings.Repeat("t", 129), "", "tenant", auth.Reader},
		{"acme", "", "role", auth.RoleUnspecified}, {"acme", "", "role", auth.Role(9)},
		{"acme", strings.Repeat("n", 201), "name", auth.Reader},
	} {
		_, _, err := auth.CreateKey(context.Background(), st, quiet(), tc.tenant, tc.role, tc.name, "test")
		var le *ledger.Error
		if !errors.As(err, &le) || le.Field != tc.field {
			t.Errorf("CreateKey(%q, %v, %d-byte name) = %v, want an error naming %s", tc.tenant, tc.role, len(tc.name), err, tc.field)
		}
	}
	if ks, err := st.Keys(context.Background(), ""); err != nil || len(ks) != 0 {
		t.Errorf("%d keys stored by invalid requests (%v)", len(ks), err)
	}
}

// A flood of well-formed tokens, each with a new random id, costs the store
// a bounded number of reads (a review found one read per request, before
// any rate limit). Keys already verified keep working during the flood,
// even once their cache entry has expired.
func TestAuthenticatorBoundsLookupsOfNewKeys(t *testing.T) {
	ctx := t.Context()
	st := openKeys(t)
	now := time.Unix(1_000_000, 0)
	a := auth.NewAuthenticator(st)
	auth.SetClock(a, func() time.Time { return now })
	_, token, err := auth.CreateKey(ctx, st, quiet(), "acme", auth.Reader, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, token); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	refused := 0
	const flood = 5000
	for i := range flood {
		random := fmt.Sprintf("gwk_%016x_%s", uint64(i)+1<<40, strings.Repeat("A", 43))
		switch _, err := a.Authenticate(ctx, random); {
		case errors.Is(err, auth.ErrTooManyNewKeys):
			refused++
		case !errors.Is(err, auth.ErrUnauthenticated):
			t.Fatalf("random token %d: %v", i, err)
		}
	}
	bound := auth.NewKeyLookupBurst + int64(time.Since(start).Seconds()*auth.NewKeyLookups) + 2
	if reads := st.reads.Load(); reads > bound || refused == 0 {
		t.Errorf("%d random tokens: %d store reads (bound %d), %d refused", flood, reads, bound, refused)
	}
	now = now.Add(auth.CacheTTL + time.Millisecond) // the verified key's entry expires
	if p, err := a.Authenticate(ctx, token); err != nil || p.Tenant != "acme" {
		t.Errorf("a verified key during the flood: %+v, %v", p, err)
	}
	// Ids recycled once their "missing" entries expire take tokens too (a
	// review read 10,000 times for 10 rounds of the same 1,000 ids).
	a2 := auth.NewAuthenticator(st)
	auth.SetClock(a2, func() time.Time { return now })
	before, start := st.reads.Load(), time.Now()
	for range 10 {
		for i := range 1000 {
			_, _ = a2.Authenticate(ctx, fmt.Sprintf("gwk_%016x_%s", uint64(i)+1<<41, strings.Repeat("A", 43)))
		}
		now = now.Add(auth.CacheTTL + time.Millisecond)
	}
	bound = auth.NewKeyLookupBurst + int64(time.Since(start).Seconds()*auth.NewKeyLookups) + 2
	if reads := st.reads.Load() - before; reads > bound {
		t.Errorf("10 rounds of 1,000 recycled ids: %d store reads, bound %d", reads, bound)
	}
}
