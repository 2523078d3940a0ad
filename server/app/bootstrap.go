package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// bootstrapKey gives a store with no API key at all an admin key for the
// default tenant, written to path readable only by its owner. Nothing is
// served without a key, so this is what makes `make run` usable at once.
// A store that has keys is left alone, whatever the file holds.
func bootstrapKey(ctx context.Context, st auth.KeyStore, path string, log *slog.Logger) error {
	if path == "" {
		return nil
	}
	keys, err := st.Keys(ctx, "")
	if err != nil {
		return fmt.Errorf("bootstrap key: %w", err)
	}
	if len(keys) > 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("bootstrap key: %w", err)
	}
	// Opened before the key is made, so an unwritable path fails before a
	// key exists that nobody holds.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("bootstrap key: %w", err)
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil { // an existing file keeps its mode otherwise
		return fmt.Errorf("bootstrap key: %w", err)
	}
	k, token, err := auth.CreateKey(ctx, st, log, ledger.DefaultTenant, auth.Admin, "bootstrap admin", "goodwilld bootstrap")
	if err != nil {
		return fmt.Errorf("bootstrap key: %w", err)
	}
	if _, err := fmt.Fprintln(f, token); err != nil {
		return fmt.Errorf("bootstrap key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bootstrap key: %w", err)
	}
	log.Warn("the store had no API key: created an admin key for the default tenant",
		"key_id", k.ID, "file", path, "hint", "send it as 'authorization: Bearer <key>'; create narrower keys with 'goodwilld keys create'")
	return nil
}
