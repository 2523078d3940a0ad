package auth

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// Principal is who is calling: the key and what it grants.
type Principal struct {
	KeyID  string
	Tenant string
	Role   Role
}

// ErrUnauthenticated is returned for a missing, malformed, unknown or
// revoked key. Callers are told no more than that.
var ErrUnauthenticated = errors.New("a valid API key is required")

// CacheTTL is how long a verified key is trusted without reading the store
// again: the longest a revocation takes to reach another server.
const CacheTTL = 5 * time.Second

// maxCached bounds each cache (keys found, ids not found); when full it is
// emptied (keys in use come back on their next call).
const maxCached = 10_000

// Store reads for key ids this server has not verified before (not in the
// cache of found keys, fresh or expired) take a token from one bucket per
// server: NewKeyLookups a second, NewKeyLookupBurst at once. A flood of
// well-formed tokens with ever-new random ids, or with ids recycled once
// their "missing" entry expires, then costs the store at most that many
// reads; refreshing keys already verified is not limited.
const (
	NewKeyLookups     = 100
	NewKeyLookupBurst = 1000
)

// ErrTooManyNewKeys is returned when a token names a key id this server
// has not verified yet and the bucket of such lookups is empty. The caller
// should retry shortly; keys in use are not affected.
var ErrTooManyNewKeys = errors.New("too many calls with API keys this server has not verified yet; retry shortly")

// Authenticator checks tokens against a KeyStore, caching verified keys
// for CacheTTL so a request costs no store round trip.
//
// Ids the store does not have are cached too, for the same CacheTTL, so
// repeating a well-formed token with an unknown id costs no store read
// either. They are kept apart from the found keys, so a flood of random
// ids never evicts a key in use. A negative entry cannot hide a real key
// in practice: an id is random and unknown to anyone before the key is
// created, so nobody can have asked for it in the CacheTTL before.
type Authenticator struct {
	store   KeyStore
	now     func() time.Time
	mu      sync.Mutex
	cache   map[string]cached
	missing map[string]time.Time // id -> when the store said not found
	// newKeys bounds store reads for ids not in either cache.
	newKeys *rate.Limiter
}

type cached struct {
	key     Key
	fetched time.Time
}

// NewAuthenticator returns an Authenticator over st.
func NewAuthenticator(st KeyStore) *Authenticator {
	return &Authenticator{store: st, now: time.Now, cache: map[string]cached{}, missing: map[string]time.Time{},
		newKeys: rate.NewLimiter(NewKeyLookups, NewKeyLookupBurst)}
}

// Authenticate returns the principal a token stands for. Errors:
// ErrUnauthenticated, ErrTooManyNewKeys, or the store's error when it
// cannot answer.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (Principal, error) {
	id, secret, err := ParseToken(token)
	if err != nil {
		return Principal{}, ErrUnauthenticated
	}
	k, err := a.key(ctx, id)
	if errors.Is(err, ledger.ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	if k.Revoked() || !secretMatches(secret, k.Hash) {
		return Principal{}, ErrUnauthenticated
	}
	return Principal{KeyID: k.ID, Tenant: k.Tenant, Role: k.Role}, nil
}

func (a *Authenticator) key(ctx context.Context, id string) (Key, error) {
	now := a.now()
	a.mu.Lock()
	c, ok := a.cache[id]
	missingSince, missing := a.missing[id]
	a.mu.Unlock()
	if ok && now.Sub(c.fetched) < CacheTTL {
		return c.key, nil
	}
	if missing && now.Sub(missingSince) < CacheTTL {
		return Key{}, ledger.ErrNotFound
	}
	// Only a key found before (its cache entry expired) is read again
	// freely; an id never found, or found missing before, takes a token.
	if !ok && !a.newKeys.Allow() {
		return Key{}, ErrTooManyNewKeys
	}
	k, err := a.store.Key(ctx, id)
	if errors.Is(err, ledger.ErrNotFound) {
		a.mu.Lock()
		if len(a.missing) >= maxCached {
			clear(a.missing)
		}
		a.missing[id] = now
		a.mu.Unlock()
	}
	if err != nil {
		return k, err
	}
	a.mu.Lock()
	if len(a.cache) >= maxCached {
		clear(a.cache)
	}
	a.cache[id] = cached{key: k, fetched: now}
	a.mu.Unlock()
	return k, nil
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller the request was authenticated as.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
