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
//
// The token goes to a new temporary file first (created exclusively, mode
// 0600), the key is stored only if the store still holds none (servers
// starting together on one empty store: one wins, the others remove their
// file), and the file is then renamed over path. A rename replaces what is
// at path, a symbolic link included, instead of writing through it.
func bootstrapKey(ctx context.Context, st auth.KeyStore, path string, log *slog.Logger) (err error) {
	if path == "" {
		return nil
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("bootstrap key (--bootstrap-key-file %s): %w", path, err)
		}
	}()
	keys, err := st.Keys(ctx, "")
	if err != nil || len(keys) > 0 {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	k, token, err := auth.NewKey(ledger.DefaultTenant, auth.Admin, "bootstrap admin", "goodwilld bootstrap")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".admin-key-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone after the rename; removed on every other way out
	if _, err := fmt.Fprintln(tmp, token); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	put, err := st.PutFirstKey(ctx, k)
	if err != nil || !put {
		return err // !put: another server bootstrapped this store first
	}
	auth.LogCreated(ctx, log, k)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("key %s is stored but its file could not be written (revoke it and create another with 'goodwilld keys create'): %w", k.ID, err)
	}
	log.Warn("the store had no API key: created an admin key for the default tenant",
		"key_id", k.ID, "file", path, "hint", "send it as 'authorization: Bearer <key>'; create narrower keys with 'goodwilld keys create'")
	return nil
}
