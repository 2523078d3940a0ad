package client_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/client"
	"github.com/goodwill-ledger/goodwill/server/notify"
)

// The reference libraries' known answer (standard-webhooks/standard-webhooks,
// libraries/*/webhook test "sign function works").
const (
	refSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	refID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	refTimestamp = 1614265330
	refPayload   = `{"test": 2432232314}`
	refSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var refNow = time.Unix(refTimestamp, 0)

func webhookHeader(id, ts, sig string) http.Header {
	h := http.Header{}
	for name, v := range map[string]string{"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sig} {
		if v != "" {
			h.Set(name, v)
		}
	}
	return h
}

func refHeader() http.Header {
	return webhookHeader(refID, strconv.Itoa(refTimestamp), refSignature)
}

func TestVerifyWebhookKnownAnswer(t *testing.T) {
	for _, now := range []time.Time{refNow, refNow.Add(-5 * time.Minute), refNow.Add(5 * time.Minute)} {
		if err := client.VerifyWebhook(refSecret, refHeader(), []byte(refPayload), 0, now); err != nil {
			t.Errorf("now %s from the timestamp: %v", now.Sub(refNow), err)
		}
	}
}

// A receiver sees webhooks signed by the server's notify.Headers, over real
// HTTP, through WebhookHandler: the two halves agree.
func TestWebhookHandlerAcceptsTheServersSignature(t *testing.T) {
	secret, err := notify.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	var gotBody, gotReread []byte
	srv := httptest.NewServer(client.WebhookHandler(secret, func(w http.ResponseWriter, r *http.Request, body []byte) {
		gotBody = body
		gotReread, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	m := notify.Message{ID: "ntf_0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Body: []byte(`{"type":"customer.overdrawn","data":{}}`)}
	h, err := notify.Headers(secret, m, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp := post(t, srv.URL, h, m.Body)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d, want 204", resp.StatusCode)
	}
	if !bytes.Equal(gotBody, m.Body) || !bytes.Equal(gotReread, m.Body) {
		t.Errorf("next got body %q and re-read %q, want %q", gotBody, gotReread, m.Body)
	}

	// The same request with one byte changed is refused, and next is not
	// called.
	gotBody = nil
	resp = post(t, srv.URL, h, append(bytes.Clone(m.Body), ' '))
	if resp.StatusCode != http.StatusBadRequest || gotBody != nil {
		t.Errorf("tampered body: status %d, next called %v; want 400 and not called", resp.StatusCode, gotBody != nil)
	}
}

func TestWebhookHandlerRefusals(t *testing.T) {
	called := false
	next := func(http.ResponseWriter, *http.Request, []byte) { called = true }
	good := httptest.NewServer(client.WebhookHandler(refSecret, next))
	defer good.Close()
	bad := httptest.NewServer(client.WebhookHandler("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", next))
	defer bad.Close()

	now := strconv.FormatInt(time.Now().Unix(), 10)
	fresh := webhookHeader(refID, now, sign(refSecret, refID, now, []byte(refPayload)))
	for _, c := range []struct {
		name   string
		url    string
		header http.Header
		body   []byte
		status int
		reason string
	}{
		{"stale", good.URL, refHeader(), []byte(refPayload), 400, "webhook timestamp invalid or outside the tolerance"},
		{"no signature", good.URL, webhookHeader(refID, now, ""), []byte(refPayload), 400, "webhook header missing"},
		{"forged", good.URL, webhookHeader(refID, now, refSignature), []byte(refPayload), 400, "no matching webhook signature"},
		{"too large", good.URL, fresh, bytes.Repeat([]byte("x"), client.MaxWebhookBytes+1), 413, "over 1048576 bytes"},
		{"bad secret", bad.URL, fresh, []byte(refPayload), 500, "webhook receiver misconfigured"},
	} {
		called = false
		resp := post(t, c.url, c.header, c.body)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.status || !strings.Contains(string(body), c.reason) {
			t.Errorf("%s: %d %q, want %d %q", c.name, resp.StatusCode, body, c.status, c.reason)
		}
		if called {
			t.Errorf("%s: next was called", c.name)
		}
	}
	// The control: the fresh request passes.
	if resp := post(t, good.URL, fresh, []byte(refPayload)); resp.StatusCode != 200 || !called {
		t.Errorf("fresh request: status %d, next called %v", resp.StatusCode, called)
	}
}

func TestVerifyWebhookRefusals(t *testing.T) {
	body := []byte(refPayload)
	ts := strconv.Itoa(refTimestamp)
	other := newSecret(t)
	otherSig := sign(other, refID, ts, body)
	for _, c := range []struct {
		name      string
		secret    string
		header    http.Header
		body      []byte
		tolerance time.Duration
		now       time.Time
		want      error
		says      string
	}{
		{"tampered body", refSecret, refHeader(), []byte(`{"test": 2432232315}`), 0, refNow, client.ErrWebhookSignature, "none of the 1 v1 signatures"},
		{"body with a trailing newline", refSecret, refHeader(), []byte(refPayload + "\n"), 0, refNow, client.ErrWebhookSignature, ""},
		{"wrong secret", other, refHeader(), body, 0, refNow, client.ErrWebhookSignature, ""},
		{"tampered id", refSecret, webhookHeader("msg_other", ts, refSignature), body, 0, refNow, client.ErrWebhookSignature, ""},
		{"timestamp re-spelled", refSecret, webhookHeader(refID, "0"+ts, refSignature), body, 0, refNow, client.ErrWebhookSignature, ""},
		{"stale", refSecret, refHeader(), body, 0, refNow.Add(5*time.Minute + time.Second), client.ErrWebhookTimestamp, "5m1s from now, beyond the tolerance of 5m0s"},
		{"future", refSecret, refHeader(), body, 0, refNow.Add(-5*time.Minute - time.Second), client.ErrWebhookTimestamp, "5m1s from now"},
		{"stale for a 1m tolerance", refSecret, refHeader(), body, time.Minute, refNow.Add(61 * time.Second), client.ErrWebhookTimestamp, "tolerance of 1m0s"},
		{"stale by years", refSecret, refHeader(), body, 0, time.Time{}, client.ErrWebhookTimestamp, ""},
		{"absurd timestamp", refSecret, webhookHeader(refID, "-9223372036854775808", refSignature), body, 0, refNow, client.ErrWebhookTimestamp, ""},
		{"timestamp in milliseconds", refSecret, webhookHeader(refID, ts+"000", refSignature), body, 0, refNow, client.ErrWebhookTimestamp, ""},
		{"timestamp not a number", refSecret, webhookHeader(refID, "yesterday", refSignature), body, 0, refNow, client.ErrWebhookTimestamp, `"yesterday" is not unix seconds`},
		{"missing id", refSecret, webhookHeader("", ts, refSignature), body, 0, refNow, client.ErrWebhookHeader, "webhook-id"},
		{"missing timestamp", refSecret, webhookHeader(refID, "", refSignature), body, 0, refNow, client.ErrWebhookHeader, "webhook-timestamp"},
		{"missing signature", refSecret, webhookHeader(refID, ts, ""), body, 0, refNow, client.ErrWebhookHeader, "webhook-signature"},
		{"blank signature", refSecret, webhookHeader(refID, ts, "   "), body, 0, refNow, client.ErrWebhookHeader, "webhook-signature"},
		{"no headers", refSecret, http.Header{}, body, 0, refNow, client.ErrWebhookHeader, ""},
		{"only v1a", refSecret, webhookHeader(refID, ts, "v1a,"+strings.TrimPrefix(refSignature, "v1,")), body, 0, refNow, client.ErrWebhookSignature, "no v1 signature"},
		{"right bytes, wrong version", refSecret, webhookHeader(refID, ts, "v2,"+strings.TrimPrefix(refSignature, "v1,")), body, 0, refNow, client.ErrWebhookSignature, "no v1 signature"},
		{"no comma", refSecret, webhookHeader(refID, ts, strings.TrimPrefix(refSignature, "v1,")), body, 0, refNow, client.ErrWebhookSignature, ""},
		{"truncated", refSecret, webhookHeader(refID, ts, refSignature[:20]), body, 0, refNow, client.ErrWebhookSignature, ""},
		{"empty v1", refSecret, webhookHeader(refID, ts, "v1,"), body, 0, refNow, client.ErrWebhookSignature, ""},
		{"several, none matching", refSecret, webhookHeader(refID, ts, otherSig+" v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1,!!"), body, 0, refNow, client.ErrWebhookSignature, "none of the 3 v1 signatures"},
		{"secret without prefix", strings.TrimPrefix(refSecret, "whsec_"), refHeader(), body, 0, refNow, client.ErrWebhookSecret, `does not start with "whsec_"`},
		{"secret not base64", "whsec_not*base64", refHeader(), body, 0, refNow, client.ErrWebhookSecret, "not standard base64"},
		{"empty key", "whsec_", refHeader(), body, 0, refNow, client.ErrWebhookSecret, "empty"},
	} {
		err := client.VerifyWebhook(c.secret, c.header, c.body, c.tolerance, c.now)
		if !errors.Is(err, c.want) || !strings.Contains(fmtErr(err), c.says) {
			t.Errorf("%s: err = %v, want %v saying %q", c.name, err, c.want, c.says)
		}
		if enc := strings.TrimPrefix(c.secret, "whsec_"); len(enc) > 8 && strings.Contains(fmtErr(err), enc) {
			t.Errorf("%s: error %q echoes the secret", c.name, err)
		}
	}
}

// During a rotation the sender signs with the old and the new secret; the
// receiver holding either accepts, whichever position its signature is in,
// among entries of other schemes and junk.
func TestVerifyWebhookSeveralSignatures(t *testing.T) {
	body := []byte(refPayload)
	ts := strconv.Itoa(refTimestamp)
	old := newSecret(t)
	oldSig := sign(old, refID, ts, body)
	for name, sigs := range map[string]string{
		"second of two":     oldSig + " " + refSignature,
		"first of two":      refSignature + " " + oldSig,
		"among others":      "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg== v1,!! v2,x  " + oldSig + "\t" + refSignature,
		"two header fields": "",
	} {
		h := webhookHeader(refID, ts, sigs)
		if sigs == "" {
			h.Add("webhook-signature", oldSig)
			h.Add("webhook-signature", refSignature)
		}
		if err := client.VerifyWebhook(refSecret, h, body, 0, refNow); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The old secret's holder accepts the same headers.
	h := webhookHeader(refID, ts, refSignature+" "+oldSig)
	if err := client.VerifyWebhook(old, h, body, 0, refNow); err != nil {
		t.Errorf("old secret: %v", err)
	}
}

// Signatures computed by openssl and by Node.js, from the secret, id,
// timestamp and body alone, verify.
func TestVerifyWebhookFromOpenSSL(t *testing.T) {
	openssl := requireTool(t, "openssl")
	for _, tool := range []string{"sh", "od", "tr"} {
		requireTool(t, tool)
	}
	script := `set -e
key=$(printf '%s' "$WH_KEY_B64" | "$OPENSSL" base64 -d -A | od -An -v -tx1 | tr -d ' \n')
test -n "$key"
{ printf '%s.%s.' "$WH_ID" "$WH_TS"; cat; } |
	"$OPENSSL" dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary |
	"$OPENSSL" base64 -A`
	checkIndependent(t, func(secret, id, ts string, body []byte) string {
		return "v1," + runTool(t, body, []string{
			"OPENSSL=" + openssl, "WH_KEY_B64=" + strings.TrimPrefix(secret, "whsec_"), "WH_ID=" + id, "WH_TS=" + ts,
		}, "sh", "-c", script)
	})
}

func TestVerifyWebhookFromNode(t *testing.T) {
	node := requireTool(t, "node")
	script := `
const crypto = require("crypto");
const secret = process.env.WH_SECRET;
if (!secret.startsWith("whsec_")) throw new Error("secret lacks whsec_");
const key = Buffer.from(secret.slice("whsec_".length), "base64");
const body = require("fs").readFileSync(0);
const content = Buffer.concat([Buffer.from(process.env.WH_ID + "." + process.env.WH_TS + "."), body]);
process.stdout.write("v1," + crypto.createHmac("sha256", key).update(content).digest("base64"));
`
	checkIndependent(t, func(secret, id, ts string, body []byte) string {
		return runTool(t, body, []string{"WH_SECRET=" + secret, "WH_ID=" + id, "WH_TS=" + ts}, node, "-e", script)
	})
}

// checkIndependent has signer sign a few webhooks and checks VerifyWebhook
// accepts each, and refuses it once its body is changed.
func checkIndependent(t *testing.T, signer func(secret, id, ts string, body []byte) string) {
	t.Helper()
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	for i, body := range [][]byte{
		nil,
		[]byte(`{"type":"customer.recovered","timestamp":"2026-01-02T03:04:05.678Z","data":{"customer_id":"c-1"}}`),
		[]byte("{\"note\": \"caf\u00e9 \u2713 \U0001F600\"}\n\r\n.\x00.\xff\xfe trailing. "),
	} {
		secret := newSecret(t)
		id := "ntf_case-" + strconv.Itoa(i)
		h := webhookHeader(id, ts, signer(secret, id, ts, body))
		if err := client.VerifyWebhook(secret, h, body, 0, now); err != nil {
			t.Errorf("body %q: %v", body, err)
		}
		if err := client.VerifyWebhook(secret, h, append(bytes.Clone(body), '!'), 0, now); !errors.Is(err, client.ErrWebhookSignature) {
			t.Errorf("body %q with a byte added: err = %v, want ErrWebhookSignature", body, err)
		}
	}
}

// sign is the test's own signer, for the cases no tool is needed for; the
// tests above keep it honest against openssl and Node.js.
func sign(secret, id, ts string, body []byte) string {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func newSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func post(t *testing.T, url string, h http.Header, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// requireTool finds a program on PATH or skips the test, unless
// GOODWILL_TEST_REQUIRE_TOOLS=1 (as in CI) makes a missing one a failure.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("GOODWILL_TEST_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s is needed to check signatures against an independent implementation: %v", name, err)
		}
		t.Skipf("SKIPPED: %s is not installed (%v); set GOODWILL_TEST_REQUIRE_TOOLS=1 to make this a failure", name, err)
	}
	return path
}

func runTool(t *testing.T, stdin []byte, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstderr: %s", name, err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}
