package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// A token is "gwk_" + key id + "_" + secret: the id finds the key without
// a scan, the secret proves possession. The prefix makes leaked tokens easy
// to spot for secret scanners.
const (
	tokenPrefix = "gwk_"
	idBytes     = 8  // 16 hex characters
	secretBytes = 32 // 256 bits, base64url without padding: 43 characters
	idLen       = 2 * idBytes
	secretLen   = 43
	// TokenLen is the length of every token.
	TokenLen = len(tokenPrefix) + idLen + 1 + secretLen
)

// ErrMalformed is returned for a token that is not shaped like one.
var ErrMalformed = errors.New("malformed API key")

// newToken returns a fresh key id and its token.
func newToken() (id, token string) {
	b := make([]byte, idBytes+secretBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	id = hex.EncodeToString(b[:idBytes])
	return id, tokenPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(b[idBytes:])
}

// ParseToken splits a token into its key id and secret. It accepts exactly
// the shape newToken makes.
func ParseToken(token string) (id, secret string, err error) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok || len(token) != TokenLen {
		return "", "", ErrMalformed
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != idLen || len(secret) != secretLen {
		return "", "", ErrMalformed
	}
	if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id {
		return "", "", ErrMalformed
	}
	if raw, err := base64.RawURLEncoding.Strict().DecodeString(secret); err != nil || len(raw) != secretBytes {
		return "", "", ErrMalformed
	}
	return id, secret, nil
}

// hashSecret is what the store keeps instead of the secret.
func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// secretMatches compares in constant time.
func secretMatches(secret string, hash []byte) bool {
	return subtle.ConstantTimeCompare(hashSecret(secret), hash) == 1
}
