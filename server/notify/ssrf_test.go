package notify_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/notify"
)

// receiver is a loopback webhook receiver counting the requests that reach
// it, so a test can tell "refused" from "reached and failed".
func receiver(t *testing.T, network, addr string, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	if network != "" {
		l, err := net.Listen(network, addr)
		if err != nil {
			t.Skipf("SKIPPED: cannot listen on %s %s: %v", network, addr, err)
		}
		srv.Listener.Close()
		srv.Listener = l
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &hits
}

func ok(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }

func TestHTTPClientRefusesPrivateAddresses(t *testing.T) {
	v4, v4hits := receiver(t, "", "", ok)
	_, port, _ := net.SplitHostPort(v4.Listener.Addr().String())
	urls := map[string]string{
		"IPv4 loopback": v4.URL,
		// A name passes no literal-IP check: the refusal comes from the
		// address it resolved to, where DNS rebinding would strike.
		"a name resolving to loopback": "http://localhost:" + port,
		"IPv4-mapped IPv6 loopback":    "http://[::ffff:127.0.0.1]:" + port,
	}
	v6, v6hits := receiver(t, "tcp6", "[::1]:0", ok)
	urls["IPv6 loopback"] = v6.URL

	c := notify.NewHTTPClient(false, 5*time.Second)
	for name, u := range urls {
		resp, err := c.Post(u, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s (%s): delivered with status %d, want a refusal", name, u, resp.StatusCode)
			continue
		}
		if !errors.Is(err, notify.ErrForbiddenAddress) {
			t.Errorf("%s: err = %v, want ErrForbiddenAddress", name, err)
		}
		for _, want := range []string{"loopback", "--webhook-allow-private"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not say %q", name, err, want)
			}
		}
	}
	// Non-standard IPv4 spellings: refused, or (to a resolver that does
	// not read them as IPs) unresolvable; never delivered.
	for _, host := range []string{"2130706433", "0x7f000001", "127.1", "0"} {
		u := "http://" + net.JoinHostPort(host, port)
		if resp, err := c.Post(u, "application/json", strings.NewReader("{}")); err == nil {
			resp.Body.Close()
			t.Errorf("%s: delivered with status %d", u, resp.StatusCode)
		}
	}
	if n := v4hits.Load() + v6hits.Load(); n != 0 {
		t.Errorf("%d requests reached a receiver", n)
	}
}

func TestHTTPClientAllowsPrivateWithTheFlag(t *testing.T) {
	srv, hits := receiver(t, "", "", ok)
	resp, err := notify.NewHTTPClient(true, 5*time.Second).Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "ok" || hits.Load() != 1 {
		t.Errorf("status %d, body %q, %d hits; want 200, ok, 1", resp.StatusCode, body, hits.Load())
	}
}

// A receiver answering 3xx gets its 3xx back as the attempt's result: the
// client goes nowhere else, neither to the same server nor to the metadata
// address.
func TestHTTPClientDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Int32
	srv, _ := receiver(t, "", "", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hook":
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		case "/metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		default:
			followed.Add(1)
		}
	})
	c := notify.NewHTTPClient(true, 5*time.Second)
	for path, want := range map[string]int{"/hook": 307, "/metadata": 302} {
		resp, err := c.Post(srv.URL+path, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != want || resp.Header.Get("Location") == "" {
			t.Errorf("%s: status %d, Location %q; want %d and the Location", path, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	if followed.Load() != 0 {
		t.Errorf("a redirect was followed")
	}
}

func TestHTTPClientSettings(t *testing.T) {
	c := notify.NewHTTPClient(false, 0)
	if c.Timeout != notify.DefaultWebhookTimeout {
		t.Errorf("timeout %s, want the default %s", c.Timeout, notify.DefaultWebhookTimeout)
	}
	tr, ok := c.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport is %T", c.Transport)
	}
	// A proxy would dial on our behalf, past the guard.
	if tr.Proxy != nil {
		t.Error("the transport uses a proxy function; HTTP_PROXY must not apply")
	}
	if tr.ResponseHeaderTimeout == 0 || tr.TLSHandshakeTimeout == 0 {
		t.Errorf("response header timeout %s, TLS handshake timeout %s; want both set", tr.ResponseHeaderTimeout, tr.TLSHandshakeTimeout)
	}

	// A receiver that never answers costs the timeout, no more.
	release := make(chan struct{})
	srv, _ := receiver(t, "", "", func(http.ResponseWriter, *http.Request) { <-release })
	defer close(release)
	start := time.Now()
	resp, err := notify.NewHTTPClient(true, 200*time.Millisecond).Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
		t.Fatal("a hung receiver answered")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("a 200ms timeout took %s", d)
	}
}

func TestValidateURLAddresses(t *testing.T) {
	for _, c := range []struct {
		host string
		why  string // "" for allowed
	}{
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"[::1]", "loopback"},
		{"10.1.2.3", "private address (RFC 1918)"},
		{"172.16.0.1", "private address (RFC 1918)"},
		{"172.31.255.255", "private address (RFC 1918)"},
		{"192.168.1.1", "private address (RFC 1918)"},
		{"[fc00::1]", "unique local"},
		{"[fd12:3456:789a::1]", "unique local"},
		{"169.254.1.1", "link-local"},
		{"169.254.169.254", "cloud metadata"},
		{"[fd00:ec2::254]", "cloud metadata"},
		{"[fe80::1]", "link-local"},
		{"[fe80::1%25eth0]", "link-local"},
		{"0.0.0.0", "0.0.0.0/8"},
		{"0.1.2.3", "0.0.0.0/8"},
		{"[::]", "unspecified"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"[ff02::1]", "multicast"},
		{"100.64.0.1", "carrier-grade NAT"},
		{"100.100.100.200", "carrier-grade NAT"}, // Alibaba Cloud's metadata
		{"100.127.255.255", "carrier-grade NAT"},
		{"255.255.255.255", "reserved"},
		{"198.18.0.1", "benchmarking"},
		// IPv4 inside IPv6: mapped (both spellings), NAT64, 6to4, compatible.
		{"[::ffff:127.0.0.1]", "loopback address (IPv4-mapped 127.0.0.1)"},
		{"[::ffff:7f00:1]", "loopback address (IPv4-mapped 127.0.0.1)"},
		{"[::ffff:169.254.169.254]", "cloud metadata address (IPv4-mapped"},
		{"[::ffff:10.0.0.1]", "private address (RFC 1918) (IPv4-mapped 10.0.0.1)"},
		{"[::ffff:100.64.0.1]", "carrier-grade NAT"},
		{"[64:ff9b::10.0.0.1]", "private address (RFC 1918) (embedded IPv4 10.0.0.1)"},
		{"[2002:7f00:1::]", "loopback address (embedded IPv4 127.0.0.1)"},
		{"[::127.0.0.1]", "IPv4-compatible"},

		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"172.15.255.255", ""},
		{"172.32.0.0", ""},
		{"169.253.255.255", ""},
		{"[2606:4700:4700::1111]", ""},
		{"[::ffff:8.8.8.8]", ""},
		{"[64:ff9b::8.8.8.8]", ""},
		{"[2002:808:808::]", ""},
	} {
		u := "https://" + c.host + "/hooks/goodwill"
		err := notify.ValidateURL(u, false)
		if c.why == "" {
			if err != nil {
				t.Errorf("%s: %v, want it allowed", u, err)
			}
			continue
		}
		if !errors.Is(err, notify.ErrForbiddenAddress) || !strings.Contains(fmtErr(err), c.why) || !strings.Contains(fmtErr(err), "--webhook-allow-private") {
			t.Errorf("%s: err = %v, want ErrForbiddenAddress saying %q and the flag", u, err, c.why)
		}
		if err := notify.ValidateURL(u, true); err != nil {
			t.Errorf("%s with allowPrivate: %v", u, err)
		}
	}
}

func TestValidateURLShape(t *testing.T) {
	for _, c := range []struct {
		url          string
		allowPrivate bool
		says         string // "" for valid
	}{
		{"https://hooks.example.test/goodwill?tenant=a", false, ""},
		{"https://hooks.example.test:8443/goodwill", false, ""},
		{"http://127.0.0.1:8080/hook", true, ""},
		{"http://hooks.example.test/goodwill", false, "scheme http is refused, use https (plain http needs --webhook-allow-private"},
		{"ftp://hooks.example.test/", true, `scheme "ftp" is neither https nor http`},
		{"javascript:alert(1)", true, `scheme "javascript"`},
		{"/relative/hook", true, "is not absolute"},
		{"hooks.example.test/goodwill", true, "is not absolute"},
		{"https:///no-host", true, "has no host"},
		{"https:opaque", true, "has no host"},
		{"https://user:hunter2@hooks.example.test/", false, "has user info"},
		{"https://user@hooks.example.test/", true, "has user info"},
		{"https://hooks.example.test/%zz", false, "does not parse"},
		{"https://user:hunter2@[::1/", false, "does not parse"},
		{"https://localhost/hook", false, "loopback"},
		{"https://LOCALHOST./hook", false, "loopback"},
		{"https://api.localhost/hook", false, "loopback"},
		{"https://localhost/hook", true, ""},
		// A name that does not resolve (.invalid never does) is left to
		// the dialer.
		{"https://nowhere.invalid/hook", false, ""},
		{"https://2130706433/hook", false, "non-standard form"},
		{"https://0x7f.0.0.1/hook", false, "non-standard form"},
		{"https://127.1/hook", false, "non-standard form"},
		{"https://0/hook", false, "non-standard form"},
		{"https://10.0.0.1./hook", false, "non-standard form"},
		{"https://hooks.example.test./hook", false, ""},
		{"https://2130706433/hook", true, ""},
	} {
		err := notify.ValidateURL(c.url, c.allowPrivate)
		if c.says == "" {
			if err != nil {
				t.Errorf("%s (allowPrivate %v): %v, want it valid", c.url, c.allowPrivate, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s (allowPrivate %v): err = %v, want one saying %q", c.url, c.allowPrivate, err, c.says)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error %q repeats the password", c.url, err)
		}
	}
}

// A name resolving to loopback is refused by ValidateURL too, with the
// address it resolved to in the message.
func TestValidateURLResolves(t *testing.T) {
	ips, err := net.DefaultResolver.LookupNetIP(t.Context(), "ip", "localhost")
	if err != nil || len(ips) == 0 {
		t.Skipf("SKIPPED: localhost does not resolve here: %v", err)
	}
	err = notify.ValidateURL("https://localhost:8443/hook", false)
	if !errors.Is(err, notify.ErrForbiddenAddress) || !strings.Contains(fmtErr(err), `host "localhost" resolves to `+ips[0].String()) ||
		!strings.Contains(fmtErr(err), "loopback") {
		t.Errorf("err = %v, want a refusal naming %s, the address localhost resolves to", err, ips[0])
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
