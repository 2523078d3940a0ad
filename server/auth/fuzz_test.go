package auth

import (
	"strings"
	"testing"
)

// FuzzParseToken: no input panics, and whatever is accepted has the exact
// shape newToken makes and splits back into its parts.
func FuzzParseToken(f *testing.F) {
	_, good := newToken()
	for _, s := range []string{good, "", "gwk_", "gwk__", good + good, "Bearer " + good, "gwk_0123456789abcdef_" + strings.Repeat("A", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, err := ParseToken(s)
		if err != nil {
			return
		}
		if len(s) != TokenLen || s != tokenPrefix+id+"_"+secret {
			t.Fatalf("accepted %q as id %q secret %q", s, id, secret)
		}
	})
}
