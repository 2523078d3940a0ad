package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The bootstrap key file replaces whatever is at its path: a symbolic link
// there is not followed (its target is untouched), and the file is a
// regular file only its owner can read.
func TestBootstrapKeyFileDoesNotFollowSymlinks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "admin.key")
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	db := freshDB(t)
	keyFiles.Store(db, path)
	s := startServer(t, db)

	if raw, err := os.ReadFile(victim); err != nil || string(raw) != "keep me\n" {
		t.Errorf("the symlink's target was written: %q, %v", raw, err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file is %v, want a regular file with mode 0600", fi.Mode())
	}
	if !strings.HasPrefix(s.token, "gwk_") {
		t.Errorf("key file holds %q", s.token)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".admin-key-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
