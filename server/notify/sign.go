package notify

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers (https://www.standardwebhooks.com). Receivers
// verify them with client.VerifyWebhook or any Standard Webhooks library.
const (
	WebhookIDHeader        = "webhook-id"
	WebhookTimestampHeader = "webhook-timestamp"
	WebhookSignatureHeader = "webhook-signature"
)

// SecretPrefix marks a symmetric (HMAC-SHA256) signing secret, as the spec
// serializes them, so a secret pasted in the wrong place is recognisable.
const SecretPrefix = "whsec_"

// secretBytes is what NewSecret draws. The spec asks for at least 24 bytes
// (192 bits); 32 is SHA-256's output size, so the key is never the weaker
// half of HMAC-SHA256.
const secretBytes = 32

// minKeyBytes is the spec's floor for a signing key: Sign refuses less, so a
// truncated secret fails loudly instead of signing weakly.
const minKeyBytes = 24

// NewSecret returns a fresh signing secret, "whsec_" + base64 of 32 random
// bytes. Each endpoint gets its own: the spec warns that a secret shared
// across customers lets one forge webhooks to another.
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// Sign returns the webhook-signature value for one attempt: "v1," + base64
// of HMAC-SHA256(key, id + "." + unix seconds of ts + "." + body). During a
// secret rotation, send the old and the new secret's values joined by a
// space: receivers accept either.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := webhookKey(secret)
	if err != nil {
		return "", err
	}
	// The signed content is dot-delimited, so a dot in the id would let
	// one (id, timestamp) pair pass for another; the spec forbids it.
	if id == "" {
		return "", fmt.Errorf("webhook id is empty")
	}
	if strings.Contains(id, ".") {
		return "", fmt.Errorf("webhook id %q contains '.', which the signed content uses as its delimiter", id)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Headers returns the headers of one delivery attempt of m. The timestamp is
// now, the attempt's time, not m.Timestamp: a retry hours later must still
// fall inside the receiver's replay window, and the body already says when
// the cause happened.
func Headers(secret string, m Message, now time.Time) (http.Header, error) {
	sig, err := Sign(secret, m.ID, now, m.Body)
	if err != nil {
		return nil, fmt.Errorf("notification %s: %w", m.ID, err)
	}
	h := make(http.Header, 4)
	h.Set(WebhookIDHeader, m.ID)
	h.Set(WebhookTimestampHeader, strconv.FormatInt(now.Unix(), 10))
	h.Set(WebhookSignatureHeader, sig)
	h.Set("Content-Type", "application/json")
	return h, nil
}

// webhookKey decodes a "whsec_" secret into the HMAC key.
func webhookKey(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		// Never echo the secret: errors end up in logs.
		return nil, fmt.Errorf("webhook secret does not start with %q", SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("webhook secret after %q is not standard base64: %w", SecretPrefix, err)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("webhook secret has an empty key after %q", SecretPrefix)
	}
	if len(key) < minKeyBytes {
		return nil, fmt.Errorf("webhook secret key is %d bytes; the Standard Webhooks spec asks for at least %d", len(key), minKeyBytes)
	}
	return key, nil
}
