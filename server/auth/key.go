package auth

import (
	"context"
	"time"
)

// Key is an API key as the store keeps it: never its secret.
type Key struct {
	ID     string
	Tenant string
	Role   Role
	// Name says what the key is for ("crm-ingest", "analytics").
	Name string
	// Hash is SHA-256 of the secret.
	Hash      []byte
	CreatedAt time.Time
	// CreatedBy names who created it: an OS user for the CLI, a key id
	// for the bootstrap.
	CreatedBy string
	// RevokedAt is zero while the key is live.
	RevokedAt time.Time
}

// Revoked reports whether the key was revoked.
func (k Key) Revoked() bool { return !k.RevokedAt.IsZero() }

// KeyStore keeps API keys. Every backend implements it and passes the
// conformance suite in server/store/storetest.
type KeyStore interface {
	// PutKey inserts a new key. Errors: ledger.ErrDuplicate when the id
	// exists.
	PutKey(ctx context.Context, k Key) error
	// PutFirstKey inserts k only if the store holds no key at all, and
	// reports whether it did; check and insert are one transaction, so of
	// servers bootstrapping an empty store at once exactly one succeeds.
	PutFirstKey(ctx context.Context, k Key) (bool, error)
	// Key returns a key, revoked or not. Errors: ledger.ErrNotFound.
	Key(ctx context.Context, id string) (Key, error)
	// Keys lists keys, of one tenant or of all when tenant is "", in id
	// order.
	Keys(ctx context.Context, tenant string) ([]Key, error)
	// RevokeKey marks a key revoked at `at`; revoking twice keeps the
	// first time. Errors: ledger.ErrNotFound.
	RevokeKey(ctx context.Context, id string, at time.Time) error
}
