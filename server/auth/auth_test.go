package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestTokenRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, token := newToken()
		if len(token) != TokenLen || !strings.HasPrefix(token, "gwk_") {
			t.Fatalf("token %q: length %d", token, len(token))
		}
		gotID, secret, err := ParseToken(token)
		if err != nil || gotID != id || secret == "" {
			t.Fatalf("ParseToken(%q) = %q, %q, %v", token, gotID, secret, err)
		}
		if seen[id] {
			t.Fatalf("id %s made twice", id)
		}
		seen[id] = true
	}
}

func TestParseTokenRejects(t *testing.T) {
	_, good := newToken()
	for _, tok := range []string{
		"", "gwk_", "Bearer " + good, good + "x", good[:len(good)-1], strings.ToUpper(good),
		strings.Replace(good, "gwk_", "gwx_", 1), strings.Replace(good, "_", "-", 2),
		good[:4] + "zzzzzzzzzzzzzzzz" + good[20:], // id not hex
		good[:len(good)-1] + "=",                  // padding is not base64url raw
		good[:21] + strings.Repeat("+", 43),       // standard, not URL, alphabet
	} {
		if _, _, err := ParseToken(tok); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseToken(%q) err = %v, want ErrMalformed", tok, err)
		}
	}
}

func TestRoleAllows(t *testing.T) {
	for _, tc := range []struct {
		have, need Role
		want       bool
	}{
		{Admin, Admin, true}, {Admin, Writer, true}, {Admin, Reader, true},
		{Writer, Writer, true}, {Writer, Reader, false}, {Writer, Admin, false},
		{Reader, Reader, true}, {Reader, Writer, false}, {Reader, Admin, false},
		{Admin, RoleUnspecified, false}, {RoleUnspecified, Reader, false},
	} {
		if got := tc.have.Allows(tc.need); got != tc.want {
			t.Errorf("%v.Allows(%v) = %v, want %v", tc.have, tc.need, got, tc.want)
		}
	}
	for _, r := range []Role{Reader, Writer, Admin} {
		if got, err := ParseRole(r.String()); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %v, %v", r.String(), got, err)
		}
	}
	if _, err := ParseRole("unspecified"); err == nil {
		t.Error("ParseRole accepted unspecified")
	}
}

func TestLimiter(t *testing.T) {
	l := NewLimiter(RateLimits{PerSecond: 1, Burst: 3})
	for i := range 3 {
		if !l.Allow("a") {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	if l.Allow("a") {
		t.Error("request beyond the burst allowed")
	}
	if !l.Allow("b") {
		t.Error("another key shares a's bucket")
	}
	if off := NewLimiter(RateLimits{}); off != nil || !off.Allow("a") {
		t.Error("a zero rate must mean no limit")
	}
}
