package client

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhooks from goodwilld follow Standard Webhooks
// (https://www.standardwebhooks.com): VerifyWebhook, or WebhookHandler
// around it, checks one with the endpoint's "whsec_" secret. Any Standard
// Webhooks library verifies them too.

// The Standard Webhooks headers.
const (
	WebhookIDHeader        = "webhook-id"
	WebhookTimestampHeader = "webhook-timestamp"
	WebhookSignatureHeader = "webhook-signature"
)

// DefaultWebhookTolerance is how far a webhook's timestamp may be from now,
// either way, before it is refused as a replay (or a badly wrong clock).
const DefaultWebhookTolerance = 5 * time.Minute

// MaxWebhookBytes bounds the body WebhookHandler reads: notifications are a
// few hundred bytes, so anything near this is not one of ours.
const MaxWebhookBytes = 1 << 20

// Why a webhook was refused; VerifyWebhook's errors wrap one of these, with
// the details, for errors.Is.
var (
	// ErrWebhookSecret: the secret given to VerifyWebhook is malformed, a
	// mistake of the receiver's configuration, not of the request.
	ErrWebhookSecret = errors.New("webhook secret is malformed")
	// ErrWebhookHeader: webhook-id, webhook-timestamp or
	// webhook-signature is missing or empty.
	ErrWebhookHeader = errors.New("webhook header missing")
	// ErrWebhookTimestamp: webhook-timestamp is not unix seconds, or is
	// outside the tolerance.
	ErrWebhookTimestamp = errors.New("webhook timestamp invalid or outside the tolerance")
	// ErrWebhookSignature: no v1 signature in webhook-signature matches.
	ErrWebhookSignature = errors.New("no matching webhook signature")
)

// VerifyWebhook checks that body and header come from the holder of secret
// ("whsec_" + base64) and that the attempt is recent: its timestamp is
// within tolerance of now (zero or negative tolerance means
// DefaultWebhookTolerance; a zero now means time.Now()). body must be the
// bytes as received: parsing and re-encoding JSON changes them.
//
// It proves authenticity and freshness, not uniqueness: a captured webhook
// can be replayed within the tolerance, so deduplicate on webhook-id, which
// stays the same on every retry.
func VerifyWebhook(secret string, header http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	key, err := webhookKey(secret)
	if err != nil {
		return err
	}
	return verifyWebhook(key, header, body, tolerance, now)
}

func verifyWebhook(key []byte, header http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	id := header.Get(WebhookIDHeader)
	ts := header.Get(WebhookTimestampHeader)
	sigs := header.Values(WebhookSignatureHeader)
	for _, h := range [...]struct{ name, value string }{
		{WebhookIDHeader, id}, {WebhookTimestampHeader, ts}, {WebhookSignatureHeader, strings.Join(sigs, "")},
	} {
		if strings.TrimSpace(h.value) == "" {
			return fmt.Errorf("%w: %s", ErrWebhookHeader, h.name)
		}
	}

	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	if now.IsZero() {
		now = time.Now()
	}
	// Checked before the signature because it is cheaper: a stale replay
	// of a genuine webhook costs no HMAC.
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %q is not unix seconds", ErrWebhookTimestamp, WebhookTimestampHeader, ts)
	}
	// time.Time.Sub saturates, so an absurd timestamp cannot overflow
	// into the window.
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s %d is %s from now, beyond the tolerance of %s",
			ErrWebhookTimestamp, WebhookTimestampHeader, sec, d.Abs().Round(time.Second), tolerance)
	}

	// The signed content uses the header's text as sent, not sec
	// re-formatted, exactly as the sender signed it.
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	want := mac.Sum(nil)

	// Several signatures appear while the sender rotates secrets (old and
	// new), and other schemes (v1a) may sit beside v1: any v1 match will
	// do. Entries that do not parse are skipped, not fatal, for the same
	// reason.
	seen := 0
	for _, line := range sigs {
		for _, entry := range strings.Fields(line) {
			version, enc, ok := strings.Cut(entry, ",")
			if !ok || version != "v1" {
				continue
			}
			seen++
			got, err := base64.StdEncoding.DecodeString(enc)
			if err != nil {
				continue
			}
			if hmac.Equal(got, want) {
				return nil
			}
		}
	}
	if seen == 0 {
		return fmt.Errorf("%w: %s has no v1 signature", ErrWebhookSignature, WebhookSignatureHeader)
	}
	return fmt.Errorf("%w: none of the %d v1 signatures matches this secret, id, timestamp and body", ErrWebhookSignature, seen)
}

// WebhookHandler verifies each request with VerifyWebhook (default tolerance)
// and passes the good ones to next with the body, which it has read (at most
// MaxWebhookBytes); r.Body is reset, so next may read it again. It answers
// 400 with the reason to a request that fails verification, 413 to one too
// large, and 500 to every request if secret is malformed: a receiver
// misconfiguration that the sender's retries should outlive, not a bad
// request.
func WebhookHandler(secret string, next func(w http.ResponseWriter, r *http.Request, body []byte)) http.Handler {
	key, keyErr := webhookKey(secret)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if keyErr != nil {
			http.Error(w, "webhook receiver misconfigured", http.StatusInternalServerError)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBytes))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				http.Error(w, fmt.Sprintf("webhook body over %d bytes", MaxWebhookBytes), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "reading webhook body failed", http.StatusBadRequest)
			return
		}
		if err := verifyWebhook(key, r.Header, body, 0, time.Time{}); err != nil {
			// The sentinel only: the details (how far off the clock is,
			// how many signatures) help a prober more than a sender.
			http.Error(w, webhookReason(err), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next(w, r, body)
	})
}

// webhookReason is the short reason a refusal gives the sender.
func webhookReason(err error) string {
	for _, s := range []error{ErrWebhookHeader, ErrWebhookTimestamp, ErrWebhookSignature} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "webhook verification failed"
}

// webhookKey decodes a "whsec_" secret into the HMAC key. It repeats the
// server's decoding rather than importing it: the client stands alone.
func webhookKey(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		// Never echo the secret: errors end up in logs.
		return nil, fmt.Errorf(`%w: it does not start with "whsec_"`, ErrWebhookSecret)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf(`%w: the part after "whsec_" is not standard base64 (%v)`, ErrWebhookSecret, err)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf(`%w: the key after "whsec_" is empty`, ErrWebhookSecret)
	}
	return key, nil
}
