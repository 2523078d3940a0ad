package store_test

import (
	"strings"
	"testing"

	"github.com/goodwill-ledger/goodwill/server/store"
)

func TestRedact(t *testing.T) {
	const secret = "s3cret-pw"
	tests := []struct {
		name, in, want string
	}{
		{"password in user info", "postgres://alice:" + secret + "@db.internal:5432/goodwill?sslmode=require",
			"postgres://alice:xxxxx@db.internal:5432/goodwill?sslmode=require"},
		{"password query parameter", "postgresql://alice@db.internal/goodwill?sslmode=disable&password=" + secret,
			"postgresql://alice@db.internal/goodwill?password=xxxxx&sslmode=disable"},
		{"both", "postgres://alice:" + secret + "@db/goodwill?PassWord=" + secret,
			"postgres://alice:xxxxx@db/goodwill?PassWord=xxxxx"},
		{"no password", "postgres://alice@db.internal:5432/goodwill?sslmode=disable",
			"postgres://alice@db.internal:5432/goodwill?sslmode=disable"},
		{"sqlite path", "sqlite:data/goodwill.db", "sqlite:data/goodwill.db"},
		{"sqlite path with odd characters", "sqlite:///tmp/a b%zz?x=1", "sqlite:///tmp/a b%zz?x=1"},
		{"unknown scheme", "mysql://bob:" + secret + "@x/db", "mysql://bob:xxxxx@x/db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := store.Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	// Whatever cannot be read as a URL is not shown at all.
	for _, in := range []string{
		"host=db.internal user=alice password=" + secret + " dbname=goodwill", // key=value DSN
		"postgres://alice:" + secret + "@[::1",                                // unclosed bracket
		"postgres://alice:" + secret + "@db/%zz",                              // bad escape
		"postgres://alice:" + secret + "@db:port/x",                           // bad port
		"alice:" + secret + "@db/goodwill",                                    // no scheme
		"postgres:alice:" + secret,                                            // opaque
	} {
		if got := store.Redact(in); strings.Contains(got, secret) {
			t.Errorf("Redact(%q) = %q leaks the password", in, got)
		}
	}
}

// A bare path is the usual mistake: the error says how to write it.
func TestOpenSuggestsTheSQLiteScheme(t *testing.T) {
	for _, in := range []string{"data/goodwill.db", "/var/lib/goodwill/ledger.db", "goodwill.db"} {
		_, err := store.Open(t.Context(), in, store.Options{})
		if err == nil || !strings.Contains(err.Error(), "--db sqlite:"+in) {
			t.Errorf("Open(%q) = %v, want a hint naming sqlite:%s", in, err, in)
		}
	}
	for _, in := range []string{"mysql://bob:s3cret@x/db", "postgres:alice:s3cret", "alice:s3cret@db/goodwill"} {
		_, err := store.Open(t.Context(), in, store.Options{})
		if err == nil || !strings.Contains(err.Error(), "unknown scheme") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q) = %v, want an unknown scheme without the password", in, err)
		}
	}
}
