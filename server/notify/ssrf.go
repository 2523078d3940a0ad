package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Webhook URLs come from customers, so without a guard a customer could make
// goodwilld call its own network: the cloud metadata service, an admin port,
// a database speaking HTTP. NewHTTPClient refuses such addresses where it
// counts, at connect time on the address actually dialled; ValidateURL
// refuses them early, when a URL is registered, with a clearer message.

// ErrForbiddenAddress is wrapped by every refusal of a non-public address,
// from ValidateURL and from NewHTTPClient's requests alike.
var ErrForbiddenAddress = errors.New("webhook destination refused")

// DefaultWebhookTimeout bounds a delivery attempt when NewHTTPClient is given
// none: the spec recommends 15 to 30 seconds, and a receiver is expected to
// acknowledge first and work later.
const DefaultWebhookTimeout = 15 * time.Second

// allowPrivateFlag is the goodwilld flag that lifts the guard, named in every
// refusal so an operator testing against a local receiver knows the way out.
const allowPrivateFlag = "--webhook-allow-private"

// resolveTimeout bounds ValidateURL's DNS lookup: registration should not
// hang on a slow resolver, and the dialer checks again anyway.
const resolveTimeout = 2 * time.Second

type addrRange struct {
	prefix netip.Prefix
	what   string
}

func addrRanges(pairs ...string) []addrRange {
	out := make([]addrRange, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, addrRange{netip.MustParsePrefix(pairs[i]), pairs[i+1]})
	}
	return out
}

// The first match names the reason, so the specific ranges (metadata) come
// before the ranges holding them (link-local). Documentation ranges
// (192.0.2.0/24, 2001:db8::/32) are left alone: they route nowhere, and tests
// use them as stand-ins for public addresses.
var (
	forbiddenV4 = addrRanges(
		"0.0.0.0/8", `in 0.0.0.0/8 ("this network", unspecified included)`,
		"10.0.0.0/8", "a private address (RFC 1918)",
		"100.64.0.0/10", "a carrier-grade NAT address (100.64.0.0/10)",
		"127.0.0.0/8", "a loopback address",
		"169.254.169.254/32", "the cloud metadata address",
		"169.254.0.0/16", "a link-local address",
		"172.16.0.0/12", "a private address (RFC 1918)",
		"192.0.0.0/24", "an IETF protocol assignment (192.0.0.0/24)",
		"192.168.0.0/16", "a private address (RFC 1918)",
		"198.18.0.0/15", "a benchmarking address (198.18.0.0/15)",
		"224.0.0.0/4", "a multicast address",
		"240.0.0.0/4", "a reserved address (240.0.0.0/4, broadcast included)",
	)
	forbiddenV6 = addrRanges(
		"::/128", "the unspecified address",
		"::1/128", "a loopback address",
		// IPv4-compatible addresses are deprecated and never public.
		"::/96", "an IPv4-compatible address (::/96)",
		"fd00:ec2::254/128", "the cloud metadata address",
		"fc00::/7", "a private address (unique local, fc00::/7)",
		"fe80::/10", "a link-local address",
		"fec0::/10", "a site-local address (fec0::/10)",
		"ff00::/8", "a multicast address",
		"64:ff9b:1::/48", "a local-use NAT64 address (64:ff9b:1::/48)",
		"100::/64", "a discard-only address (100::/64)",
	)
	// These embed an IPv4 address that a NAT64 gateway or a 6to4 relay
	// would reach on our behalf, so the embedded address is what counts.
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// forbiddenAddr says why ip is not a public address, or "" if it is.
func forbiddenAddr(ip netip.Addr) string {
	if !ip.IsValid() {
		return "not a valid IP address"
	}
	// Prefix.Contains never matches an address with a zone, so fe80::1%eth0
	// would slip through with it.
	ip = ip.WithZone("")
	if ip.Is4In6() {
		v4 := ip.Unmap()
		if why := forbiddenAddr(v4); why != "" {
			return fmt.Sprintf("%s (IPv4-mapped %s)", why, v4)
		}
		return ""
	}
	table := forbiddenV6
	if ip.Is4() {
		table = forbiddenV4
	}
	for _, r := range table {
		if r.prefix.Contains(ip) {
			return r.what
		}
	}
	if ip.Is6() {
		b := ip.As16()
		var v4 netip.Addr
		switch {
		case nat64.Contains(ip):
			v4 = netip.AddrFrom4([4]byte(b[12:16]))
		case sixToFour.Contains(ip):
			v4 = netip.AddrFrom4([4]byte(b[2:6]))
		}
		if v4.IsValid() {
			if why := forbiddenAddr(v4); why != "" {
				return fmt.Sprintf("%s (embedded IPv4 %s)", why, v4)
			}
		}
	}
	return ""
}

// refuseAddr is the error for a forbidden address; subject says where it came
// from ("127.0.0.1", or `host "x" resolves to 127.0.0.1`).
func refuseAddr(subject, why string) error {
	return fmt.Errorf("%w: %s is %s; goodwilld delivers webhooks to private addresses only with %s",
		ErrForbiddenAddress, subject, why, allowPrivateFlag)
}

// refusePrivate is the dialer's Control: it runs after DNS, on the address
// about to be connected, so a name that resolved to a public address when
// validated and to 127.0.0.1 now (DNS rebinding) is still refused.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: dialled address %q does not parse: %v", ErrForbiddenAddress, address, err)
	}
	if why := forbiddenAddr(ap.Addr()); why != "" {
		return refuseAddr(ap.Addr().String(), why)
	}
	return nil
}

// NewHTTPClient returns the client webhooks are delivered with. Unless
// allowPrivate, it refuses to connect to non-public addresses (see
// forbiddenAddr). It never follows redirects: a 3xx is the attempt's answer
// (the spec counts it a failure), and following one would let a receiver
// point us anywhere. It ignores HTTP_PROXY and friends: a proxy would dial for us and
// bypass the guard, and deliveries should not ride whatever proxy the host
// set for other traffic. timeout bounds a whole attempt (zero or negative
// means DefaultWebhookTimeout).
func NewHTTPClient(allowPrivate bool, timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultWebhookTimeout
	}
	dialer := &net.Dialer{Timeout: min(timeout, 10*time.Second), KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = refusePrivate
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   min(timeout, 10*time.Second),
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          100,
		// As many as the ledger posts to one webhook at once (its
		// WebhookOptions.Parallel): a busy receiver is never redialled.
		MaxIdleConnsPerHost:    16,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport:     transport,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ValidateURL checks a webhook URL when it is registered: absolute, http or
// https (https only, unless allowPrivate), no user info, a host and, unless
// allowPrivate, a host that is not a forbidden address nor a name resolving
// to one. A name that does not resolve now is accepted: DNS may be down at
// registration, and NewHTTPClient checks every address it dials anyway.
func ValidateURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL, password included; the cause alone
		// says what is wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("webhook URL does not parse: %w", err)
	}
	shown := u.Redacted()
	switch {
	case !u.IsAbs():
		return fmt.Errorf("webhook URL %q is not absolute: it needs https://", shown)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("webhook URL %q: scheme %q is neither https nor http", shown, u.Scheme)
	case u.Scheme == "http" && !allowPrivate:
		return fmt.Errorf("webhook URL %q: scheme http is refused, use https (plain http needs %s, for local testing)", shown, allowPrivateFlag)
	case u.User != nil:
		return fmt.Errorf("webhook URL %q has user info (user:password@), which is refused: credentials in a URL end up in logs", shown)
	case u.Hostname() == "":
		return fmt.Errorf("webhook URL %q has no host", shown)
	}
	if allowPrivate {
		return nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if why := forbiddenAddr(ip); why != "" {
			return fmt.Errorf("webhook URL %q: %w", shown, refuseAddr(host, why))
		}
		return nil
	}
	// 127.1, 2130706433 and 0x7f.0.0.1 are 127.0.0.1 to inet_aton (the
	// cgo resolver) and to browsers, but no IP to netip: refuse the shape
	// rather than guess which reading the dialer will meet.
	if endsInNumber(host) {
		return fmt.Errorf("webhook URL %q: %w", shown, refuseAddr(fmt.Sprintf("host %q", host),
			"an IPv4 address in a non-standard form (write it as four decimal parts)"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	// A lookup error is no verdict (see above); the dialer decides then.
	ips, _ := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	for _, ip := range ips {
		if why := forbiddenAddr(ip); why != "" {
			return fmt.Errorf("webhook URL %q: %w", shown, refuseAddr(fmt.Sprintf("host %q resolves to %s, which", host, ip), why))
		}
	}
	// RFC 6761: these names are loopback whatever this resolver says, and
	// the resolver the dialer meets later may say so.
	if name := strings.ToLower(strings.TrimSuffix(host, ".")); name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return fmt.Errorf("webhook URL %q: %w", shown, refuseAddr(fmt.Sprintf("host %q", host), "a loopback name"))
	}
	return nil
}

// endsInNumber reports whether host's last label is a number (decimal, or
// hex with 0x), the WHATWG URL test for "this host is an IPv4 address": no
// top-level domain is numeric.
func endsInNumber(host string) bool {
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	last := labels[len(labels)-1]
	if hex, ok := strings.CutPrefix(strings.ToLower(last), "0x"); ok {
		return strings.Trim(hex, "0123456789abcdef") == ""
	}
	return last != "" && strings.Trim(last, "0123456789") == ""
}
