package notify_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/notify"
)

// The reference libraries' known answer (standard-webhooks/standard-webhooks,
// libraries/*/webhook test "sign function works", the same vector in Go,
// JavaScript, Python and the others): if Sign drifts from the spec in any
// detail (delimiters, timestamp unit, key decoding), this fails.
const (
	refSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	refID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	refTimestamp = 1614265330
	refPayload   = `{"test": 2432232314}`
	refSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignKnownAnswer(t *testing.T) {
	// The reference key is 24 bytes, the spec's floor, so it also proves
	// Sign accepts the minimum.
	got, err := notify.Sign(refSecret, refID, time.Unix(refTimestamp, 0), []byte(refPayload))
	if err != nil {
		t.Fatal(err)
	}
	if got != refSignature {
		t.Errorf("Sign = %s, want the reference libraries' %s", got, refSignature)
	}
	// Sub-second precision must not leak into the signed timestamp.
	got, err = notify.Sign(refSecret, refID, time.Unix(refTimestamp, 999_999_999), []byte(refPayload))
	if err != nil || got != refSignature {
		t.Errorf("Sign with nanoseconds = %s, %v; want %s", got, err, refSignature)
	}
}

func TestNewSecret(t *testing.T) {
	a, err := notify.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := notify.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two secrets are equal: %s", a)
	}
	enc, ok := strings.CutPrefix(a, "whsec_")
	if !ok {
		t.Fatalf("secret %q lacks the whsec_ prefix", a)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(key) != 32 {
		t.Fatalf("secret key: %d bytes, %v; want 32 bytes of standard base64", len(key), err)
	}
	if _, err := notify.Sign(a, "ntf_1", time.Now(), nil); err != nil {
		t.Errorf("Sign refuses a NewSecret secret: %v", err)
	}
}

func TestSignRefusesBadInput(t *testing.T) {
	key24 := base64.StdEncoding.EncodeToString(make([]byte, 24))
	for _, c := range []struct {
		name, secret, id, want string
	}{
		{"no prefix", strings.TrimPrefix(refSecret, "whsec_"), refID, `does not start with "whsec_"`},
		{"other prefix", "whsk_" + key24, refID, `does not start with "whsec_"`},
		{"bad base64", "whsec_not*base64", refID, "not standard base64"},
		{"url base64", "whsec_" + strings.Repeat("-_", 16), refID, "not standard base64"},
		{"empty key", "whsec_", refID, "empty key"},
		{"short key", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 23)), refID, "23 bytes"},
		{"empty id", refSecret, "", "webhook id is empty"},
		{"dotted id", refSecret, "ntf_1.1614265330", "contains '.'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := notify.Sign(c.secret, c.id, time.Unix(refTimestamp, 0), []byte(refPayload))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one saying %q", err, c.want)
			}
			if enc := strings.TrimPrefix(c.secret, "whsec_"); len(enc) > 8 && strings.Contains(err.Error(), enc) {
				t.Errorf("error %q echoes the secret", err)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	m := notify.Message{
		ID:        "ntf_0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		Tenant:    "default",
		Type:      "customer.overdrawn",
		Timestamp: time.Unix(1_700_000_000, 0),
		Body:      []byte(`{"type":"customer.overdrawn","timestamp":"2023-11-14T22:13:20Z","data":{}}`),
	}
	now := time.Unix(1_700_003_600, 500_000_000)
	h, err := notify.Headers(refSecret, m, now)
	if err != nil {
		t.Fatal(err)
	}
	want, err := notify.Sign(refSecret, m.ID, now, m.Body)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{
		"webhook-id":        m.ID,
		"webhook-timestamp": "1700003600", // the attempt, not m.Timestamp
		"webhook-signature": want,
		"Content-Type":      "application/json",
	} {
		if got := h.Get(name); got != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}

	m.ID = ""
	if _, err := notify.Headers(refSecret, m, now); err == nil || !strings.Contains(err.Error(), "webhook id is empty") {
		t.Errorf("Headers with no id: err = %v", err)
	}
}

// Bodies for the independent implementations: empty, a real payload, and
// bytes a careless implementation would mangle (multi-byte UTF-8, newlines,
// a NUL, dots like the delimiter, invalid UTF-8).
var toolBodies = [][]byte{
	nil,
	[]byte(`{"type":"customer.recovered","timestamp":"2026-01-02T03:04:05.678Z","data":{"customer_id":"c-1","balance":-0.5}}`),
	[]byte("{\"note\": \"caf\u00e9 \u2713 \U0001F600\"}\n\r\n.\x00.\xff\xfe trailing. "),
}

// TestSignMatchesOpenSSL: openssl decodes the key, and the shell builds the
// signed content, so nothing of Sign's is reused.
func TestSignMatchesOpenSSL(t *testing.T) {
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
	for i, body := range toolBodies {
		secret, id, ts := toolCase(t, i)
		out := run(t, body, []string{
			"OPENSSL=" + openssl,
			"WH_KEY_B64=" + strings.TrimPrefix(secret, "whsec_"),
			"WH_ID=" + id,
			"WH_TS=" + strconv.FormatInt(ts.Unix(), 10),
		}, "sh", "-c", script)
		checkSign(t, "openssl", secret, id, ts, body, "v1,"+out)
	}
}

// TestSignMatchesNode: Node's crypto module, handed the whole "whsec_"
// secret, strips the prefix and decodes it itself.
func TestSignMatchesNode(t *testing.T) {
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
	for i, body := range toolBodies {
		secret, id, ts := toolCase(t, i)
		out := run(t, body, []string{
			"WH_SECRET=" + secret,
			"WH_ID=" + id,
			"WH_TS=" + strconv.FormatInt(ts.Unix(), 10),
		}, node, "-e", script)
		checkSign(t, "node", secret, id, ts, body, out)
	}
}

// toolCase gives case i a fresh secret (so the key decoding is exercised on
// arbitrary bytes), the reference secret for the last case, and distinct
// ids and timestamps.
func toolCase(t *testing.T, i int) (secret, id string, ts time.Time) {
	t.Helper()
	secret = refSecret
	if i < len(toolBodies)-1 {
		var err error
		if secret, err = notify.NewSecret(); err != nil {
			t.Fatal(err)
		}
	}
	return secret, "ntf_case-" + strconv.Itoa(i), time.Unix(1_767_225_600+int64(i)*3_601, 0)
}

func checkSign(t *testing.T, tool, secret, id string, ts time.Time, body []byte, want string) {
	t.Helper()
	got, err := notify.Sign(secret, id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("id %s, body %q: Sign = %s, %s computed %s", id, body, got, tool, want)
	}
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

// run runs a command with stdin and extra environment and returns its
// trimmed stdout, failing the test on any error.
func run(t *testing.T, stdin []byte, env []string, name string, args ...string) string {
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
