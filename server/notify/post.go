package notify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxResponseBytes is how much of a receiver's answer is read (and
// dropped): enough to reuse the connection, never a memory risk.
const maxResponseBytes = 64 << 10

// Post delivers m to url, signed with every secret given (the current one
// first; after a rotation the previous one too, so the receiver accepts
// either), and returns the receiver's status. Any 2xx is success; any
// other status, a timeout or a refused connection is an error, and the
// caller retries with the same m.ID.
func Post(ctx context.Context, client *http.Client, url string, secrets []string, m Message, now time.Time) (int, error) {
	if len(secrets) == 0 {
		return 0, fmt.Errorf("webhook %s: no signing secret", m.ID)
	}
	header, err := Headers(secrets[0], m, now)
	if err != nil {
		return 0, err
	}
	for _, s := range secrets[1:] {
		sig, err := Sign(s, m.ID, now, m.Body)
		if err != nil {
			return 0, err
		}
		header.Set(WebhookSignatureHeader, header.Get(WebhookSignatureHeader)+" "+sig)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(m.Body))
	if err != nil {
		return 0, err
	}
	req.Header = header
	req.Header.Set("User-Agent", "goodwill-ledger-webhooks/1")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("the receiver answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}
