package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// maxNameLen bounds a key's name; tenants follow the ledger's id rules.
const maxNameLen = 200

// CreateKey makes a key for tenant with role and returns it with its token,
// which exists nowhere else: show it once. by names who asked, for the
// audit log.
func CreateKey(ctx context.Context, st KeyStore, log *slog.Logger, tenant string, role Role, name, by string) (Key, string, error) {
	k, token, err := NewKey(tenant, role, name, by)
	if err != nil {
		return Key{}, "", err
	}
	if err := st.PutKey(ctx, k); err != nil {
		return Key{}, "", err
	}
	LogCreated(ctx, log, k)
	return k, token, nil
}

// NewKey makes a key and its token without storing it.
func NewKey(tenant string, role Role, name, by string) (Key, string, error) {
	if err := checkTenant(tenant); err != nil {
		return Key{}, "", err
	}
	if role == RoleUnspecified || role > Admin {
		return Key{}, "", ledger.Invalid("role", "must be reader, writer or admin")
	}
	if len(name) > maxNameLen {
		return Key{}, "", ledger.Invalid("name", "must be at most %d bytes", maxNameLen)
	}
	id, token := newToken()
	_, secret, _ := ParseToken(token)
	return Key{ID: id, Tenant: tenant, Role: role, Name: name, Hash: hashSecret(secret),
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond), CreatedBy: by}, token, nil
}

// LogCreated writes the audit line of a stored key.
func LogCreated(ctx context.Context, log *slog.Logger, k Key) {
	log.InfoContext(ctx, "admin action: API key created", "action", "key.create", "key_id", k.ID, "tenant", k.Tenant,
		"role", k.Role.String(), "name", k.Name, "by", k.CreatedBy)
}

// RevokeKey marks a key revoked in the store. Keys are revoked only through
// the CLI (goodwilld keys revoke), which shares no cache with any server, so
// every server keeps accepting the key until its cached copy expires: up
// to CacheTTL.
func RevokeKey(ctx context.Context, st KeyStore, log *slog.Logger, id, by string) error {
	k, err := st.Key(ctx, id)
	if errors.Is(err, ledger.ErrNotFound) {
		return fmt.Errorf("no API key %q: %w", id, ledger.ErrNotFound)
	}
	if err != nil {
		return err
	}
	if err := st.RevokeKey(ctx, id, time.Now().UTC().Truncate(time.Microsecond)); err != nil {
		return err
	}
	log.InfoContext(ctx, "admin action: API key revoked", "action", "key.revoke", "key_id", id, "tenant", k.Tenant,
		"role", k.Role.String(), "by", by)
	return nil
}

// checkTenant holds tenant names to the rules of customer ids: they appear
// in logs and in every key of the store.
func checkTenant(t string) error {
	switch {
	case t == "":
		return ledger.Invalid("tenant", "is required")
	case len(t) > 128:
		return ledger.Invalid("tenant", "must be at most 128 bytes")
	case strings.IndexFunc(t, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.", r))
	}) >= 0:
		return ledger.Invalid("tenant", "may hold only letters, digits, '-', '_' and '.'")
	}
	return nil
}
