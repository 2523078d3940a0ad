package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"pgregory.net/rapid"
)

// natsTestAddr is where the JetStream tests expect a broker: 127.0.0.1:4222
// unless GOODWILL_TEST_NATS_ADDR says otherwise (another server version on
// another port). .ci/run starts one there and sets
// GOODWILL_TEST_REQUIRE_NATS=1, which turns a missing broker from a skip
// into a failure.
func natsTestAddr() string {
	if a := os.Getenv("GOODWILL_TEST_NATS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:4222"
}

func natsTestURL(t *testing.T) string {
	t.Helper()
	addr := natsTestAddr()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		if os.Getenv("GOODWILL_TEST_REQUIRE_NATS") != "1" {
			t.Skipf("SKIPPED: no NATS at %s (%v); start `nats-server -js -a 127.0.0.1 -p 4222`, "+
				"or set GOODWILL_TEST_REQUIRE_NATS=1 to make this a failure", addr, err)
		}
		t.Fatalf("NATS required (GOODWILL_TEST_REQUIRE_NATS=1) but nothing listens on %s: %v", addr, err)
	}
	_ = c.Close()
	return "nats://" + addr
}

func natsRandomSuffix(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// natsTestConfig names a stream and a subject prefix of this test alone:
// two streams may not share subjects, so a fixed "goodwill.>" would clash
// with a running goodwilld or a parallel test run on the same broker.
func natsTestConfig(t *testing.T) NATSConfig {
	url := natsTestURL(t)
	id := natsRandomSuffix(t)
	cfg := NATSConfig{
		URL:           url,
		Stream:        "GOODWILL_TEST_" + strings.ToUpper(id),
		SubjectPrefix: "goodwilltest_" + id,
		ClientName:    "goodwill-notify-test",
	}
	t.Cleanup(func() {
		nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
		if err != nil {
			t.Logf("delete stream %s: %v", cfg.Stream, err)
			return
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Logf("delete stream %s: %v", cfg.Stream, err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, cfg.Stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Logf("delete stream %s: %v", cfg.Stream, err)
		}
	})
	return cfg
}

// natsTestLogger logs to t until t ends: the client's callbacks run on
// its own goroutine and may fire after that, when t.Log would panic.
func natsTestLogger(t *testing.T) *slog.Logger {
	w := &natsTestWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type natsTestWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (w *natsTestWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func dialNATSForTest(t *testing.T, cfg NATSConfig) *NATS {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := DialNATS(ctx, cfg, natsTestLogger(t))
	if err != nil {
		t.Fatalf("DialNATS: %v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// natsReadBack returns every stored message under filter, through an
// ephemeral consumer, so what the test sees is what the stream holds.
func natsReadBack(t *testing.T, n *NATS, filter string) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := n.js.CreateOrUpdateConsumer(ctx, n.stream, jetstream.ConsumerConfig{
		FilterSubject:     filter,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		t.Fatalf("consumer on %s: %v", filter, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatalf("consumer info: %v", err)
	}
	// One more than pending, so a message the count missed would show;
	// no wait, since everything asked for is already stored.
	batch, err := cons.FetchNoWait(int(info.NumPending) + 1)
	if err != nil {
		t.Fatalf("fetch %s: %v", filter, err)
	}
	var out []jetstream.Msg
	for m := range batch.Messages() {
		out = append(out, m)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("fetch %s: %v", filter, err)
	}
	if uint64(len(out)) != info.NumPending {
		t.Fatalf("fetch %s: got %d messages, consumer had %d pending", filter, len(out), info.NumPending)
	}
	return out
}

func natsTestMessage(id, tenant, typ string) Message {
	return Message{
		ID:        id,
		Tenant:    tenant,
		Type:      typ,
		Timestamp: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Body:      []byte(`{"type":"` + typ + `","timestamp":"2026-03-01T12:00:00Z","data":{"tenant":"` + tenant + `","id":"` + id + `"}}`),
	}
}

func TestEscapeNATSToken(t *testing.T) {
	for in, want := range map[string]string{
		"acme":              "acme",
		"acme.eu":           "acme~2Eeu",
		"Tenant_1:x@y-z":    "Tenant_1:x@y-z",
		"a~2Eb":             "a~7E2Eb",
		"*":                 "~2A",
		">":                 "~3E",
		"a b":               "a~20b",
		"$SYS":              "~24SYS",
		"..":                "~2E~2E",
		"caf\u00e9":         "caf~C3~A9",
		"goodwill.acme.>":   "goodwill~2Eacme~2E~3E",
		"tenant-with-dash_": "tenant-with-dash_",
	} {
		if got := EscapeNATSToken(in); got != want {
			t.Errorf("EscapeNATSToken(%q) = %q, want %q", in, got, want)
		}
	}
}

// natsUnescape inverts EscapeNATSToken; that it exists for every output is
// what makes the escaping injective.
func natsUnescape(tok string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(tok); i++ {
		if tok[i] != '~' {
			b.WriteByte(tok[i])
			continue
		}
		if i+2 >= len(tok) {
			return "", false
		}
		v, err := hex.DecodeString(tok[i+1 : i+3])
		if err != nil {
			return "", false
		}
		b.WriteByte(v[0])
		i += 2
	}
	return b.String(), true
}

func TestEscapeNATSTokenProperties(t *testing.T) {
	check := func(t *rapid.T, s string) {
		tok := EscapeNATSToken(s)
		if s != "" && tok == "" {
			t.Fatalf("%q escaped to nothing", s)
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; !tokenSafe(c) && c != '~' {
				t.Fatalf("%q escaped to %q, which holds %q", s, tok, c)
			}
		}
		back, ok := natsUnescape(tok)
		if !ok || back != s {
			t.Fatalf("%q escaped to %q, which reads back as %q", s, tok, back)
		}
	}
	t.Run("tenant alphabet", rapid.MakeCheck(func(t *rapid.T) {
		check(t, rapid.StringMatching(`[A-Za-z0-9._:@-]{1,24}`).Draw(t, "tenant"))
	}))
	t.Run("any string", rapid.MakeCheck(func(t *rapid.T) {
		check(t, rapid.String().Draw(t, "s"))
	}))
}

func TestNATSSubject(t *testing.T) {
	got, err := NATSSubject("goodwill", "acme.eu", "customer.overdrawn")
	if err != nil || got != "goodwill.acme~2Eeu.customer.overdrawn" {
		t.Fatalf("NATSSubject = %q, %v", got, err)
	}
	for _, typ := range []string{"event.recorded", "customer.overdrawn", "customer.recovered", "customer.advocate", "policy.activated"} {
		if _, err := NATSSubject("goodwill", "acme", typ); err != nil {
			t.Errorf("type %s: %v", typ, err)
		}
	}
	for _, typ := range []string{"", "event.*", "event.>", "event..recorded", ".event", "event.", "Event.Recorded", "event recorded"} {
		if s, err := NATSSubject("goodwill", "acme", typ); err == nil {
			t.Errorf("type %q accepted as %q", typ, s)
		}
	}
	if s, err := NATSSubject("goodwill", "", "event.recorded"); err == nil {
		t.Errorf("empty tenant accepted as %q", s)
	}
}

func TestSubjectCovers(t *testing.T) {
	for _, c := range []struct {
		pattern, sub string
		want         bool
	}{
		{">", "goodwill.>", true},
		{"goodwill.>", "goodwill.>", true},
		{"*.>", "goodwill.>", true},
		{"goodwill.*.>", "goodwill.>", false},
		{"goodwill.*", "goodwill.>", false},
		{"goodwill", "goodwill.>", false},
		{"other.>", "goodwill.>", false},
		{"goodwill.acme.>", "goodwill.>", false},
		{"goodwill.*.*", "goodwill.a.b", true},
		{"goodwill.a", "goodwill.*", false},
	} {
		if got := subjectCovers(c.pattern, c.sub); got != c.want {
			t.Errorf("subjectCovers(%q, %q) = %v, want %v", c.pattern, c.sub, got, c.want)
		}
	}
}

func TestNATSDialCreatesStream(t *testing.T) {
	cfg := natsTestConfig(t)
	n := dialNATSForTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := n.js.Stream(ctx, cfg.Stream)
	if err != nil {
		t.Fatalf("stream %s after DialNATS: %v", cfg.Stream, err)
	}
	got := s.CachedInfo().Config
	if len(got.Subjects) != 1 || got.Subjects[0] != cfg.SubjectPrefix+".>" {
		t.Errorf("subjects = %q, want [%s.>]", got.Subjects, cfg.SubjectPrefix)
	}
	if got.Duplicates != NATSDuplicateWindow {
		t.Errorf("duplicate window = %s, want %s", got.Duplicates, NATSDuplicateWindow)
	}
	if got.MaxAge != DefaultNATSMaxAge {
		t.Errorf("max age = %s, want %s", got.MaxAge, DefaultNATSMaxAge)
	}

	// A second publisher (another instance) finds it and changes nothing.
	dialNATSForTest(t, cfg)
}

func TestNATSDedup(t *testing.T) {
	cfg := natsTestConfig(t)
	n := dialNATSForTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := natsTestMessage("ntf_0192d5c2-0000-7000-8000-000000000001", "acme", "event.recorded")
	for i := range 2 {
		if err := n.Publish(ctx, m); err != nil {
			t.Fatalf("publish #%d: %v", i+1, err)
		}
	}
	other := natsTestMessage("ntf_0192d5c2-0000-7000-8000-000000000002", "acme", "event.recorded")
	if err := n.Publish(ctx, other); err != nil {
		t.Fatalf("publish other: %v", err)
	}
	s, err := n.js.Stream(ctx, cfg.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages after publishing one id twice and another once, want 2", info.State.Msgs)
	}
	var ids []string
	for _, got := range natsReadBack(t, n, cfg.SubjectPrefix+".>") {
		ids = append(ids, got.Headers().Get(jetstream.MsgIDHeader))
	}
	if len(ids) != 2 || ids[0] != m.ID || ids[1] != other.ID {
		t.Fatalf("stored ids = %q, want [%s %s]", ids, m.ID, other.ID)
	}
}

func TestNATSBodyAndHeadersIntact(t *testing.T) {
	cfg := natsTestConfig(t)
	n := dialNATSForTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := Message{
		ID:        "ntf_0192d5c2-0000-7000-8000-0000000000aa",
		Tenant:    "acme.eu:shop@1",
		Type:      "customer.overdrawn",
		Timestamp: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		// Non-ASCII, escapes, a CRLF and a NUL-free binary-ish tail: the
		// body must come back byte for byte.
		Body: []byte("{\"type\":\"customer.overdrawn\",\"data\":{\"name\":\"Zo\u00eb \\\"Z\\\" \u5c0f\u660e\",\"note\":\"a\\r\\nb\"}}\r\n\x01\xff"),
	}
	if err := n.Publish(ctx, m); err != nil {
		t.Fatalf("publish: %v", err)
	}
	got := natsReadBack(t, n, cfg.SubjectPrefix+".>")
	if len(got) != 1 {
		t.Fatalf("read back %d messages, want 1", len(got))
	}
	want, _ := NATSSubject(cfg.SubjectPrefix, m.Tenant, m.Type)
	if got[0].Subject() != want {
		t.Errorf("subject = %q, want %q", got[0].Subject(), want)
	}
	if string(got[0].Data()) != string(m.Body) {
		t.Errorf("body = %q, want %q", got[0].Data(), m.Body)
	}
	h := got[0].Headers()
	for k, v := range map[string]string{
		"Nats-Msg-Id":     m.ID,
		"Goodwill-Tenant": m.Tenant,
		"Goodwill-Type":   m.Type,
		"Content-Type":    "application/json",
	} {
		if h.Get(k) != v {
			t.Errorf("header %s = %q, want %q", k, h.Get(k), v)
		}
	}
}

func TestNATSTenantIsolation(t *testing.T) {
	cfg := natsTestConfig(t)
	n := dialNATSForTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// "acme.eu" unescaped would be "<prefix>.acme.eu.<type>", inside acme's
	// "<prefix>.acme.>"; "acme~2Eeu" would collide with a naive escape.
	tenants := []string{"acme", "acme.eu", "acme~2Eeu", "eu", "acme.eu.customer"}
	subjects := map[string]string{}
	for _, tenant := range tenants {
		s, err := NATSSubject(cfg.SubjectPrefix, tenant, "customer.overdrawn")
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := subjects[s]; dup {
			t.Fatalf("tenants %q and %q share subject %s", other, tenant, s)
		}
		subjects[s] = tenant
		if got := strings.Count(s, "."); got != strings.Count(cfg.SubjectPrefix, ".")+3 {
			t.Errorf("tenant %q: subject %s has %d dots, want the tenant as one token", tenant, s, got)
		}
	}

	// A live subscriber as well as the stored messages: both must see
	// acme's notifications only.
	nc, err := nats.Connect(cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	acmeFilter := cfg.SubjectPrefix + "." + EscapeNATSToken("acme") + ".>"
	sub, err := nc.SubscribeSync(acmeFilter)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	for i, tenant := range tenants {
		for j, typ := range []string{"event.recorded", "customer.overdrawn"} {
			m := natsTestMessage("ntf_iso_"+string(rune('a'+i))+string(rune('0'+j)), tenant, typ)
			if err := n.Publish(ctx, m); err != nil {
				t.Fatalf("publish for %q: %v", tenant, err)
			}
		}
	}

	for _, tenant := range tenants {
		filter := cfg.SubjectPrefix + "." + EscapeNATSToken(tenant) + ".>"
		got := natsReadBack(t, n, filter)
		if len(got) != 2 {
			t.Errorf("tenant %q (%s): %d stored messages, want its own 2", tenant, filter, len(got))
		}
		for _, m := range got {
			if owner := m.Headers().Get("Goodwill-Tenant"); owner != tenant {
				t.Errorf("tenant %q's filter %s got a message of tenant %q on %s", tenant, filter, owner, m.Subject())
			}
		}
	}

	var live []string
	for {
		m, err := sub.NextMsg(500 * time.Millisecond)
		if errors.Is(err, nats.ErrTimeout) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		live = append(live, m.Header.Get("Goodwill-Tenant")+" "+m.Subject)
	}
	if len(live) != 2 {
		t.Errorf("subscriber to %s saw %d messages, want acme's 2: %q", acmeFilter, len(live), live)
	}
	for _, l := range live {
		if !strings.HasPrefix(l, "acme ") {
			t.Errorf("subscriber to %s saw another tenant's message: %s", acmeFilter, l)
		}
	}
}

func TestNATSExistingStream(t *testing.T) {
	cfg := natsTestConfig(t)
	nc, err := nats.Connect(cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("subjects do not cover the prefix", func(t *testing.T) {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
			Name:     cfg.Stream,
			Subjects: []string{cfg.SubjectPrefix + ".only-this.>"},
			Storage:  jetstream.MemoryStorage,
		}); err != nil {
			t.Fatal(err)
		}
		_, err := DialNATS(ctx, cfg, natsTestLogger(t))
		if !errors.Is(err, ErrNATSRefused) || !strings.Contains(err.Error(), "do not cover") {
			t.Fatalf("DialNATS on a stream that does not cover %s.>: %v, want ErrNATSRefused saying so", cfg.SubjectPrefix, err)
		}
		t.Log(err)
	})

	t.Run("operator's configuration left alone", func(t *testing.T) {
		want := jetstream.StreamConfig{
			Name:       cfg.Stream,
			Subjects:   []string{cfg.SubjectPrefix + ".>", "elsewhere_" + cfg.SubjectPrefix + ".>"},
			Storage:    jetstream.MemoryStorage,
			MaxAge:     time.Hour,
			Duplicates: 5 * time.Minute,
		}
		if _, err := js.UpdateStream(ctx, want); err != nil {
			t.Fatal(err)
		}
		n := dialNATSForTest(t, cfg)
		if err := n.Publish(ctx, natsTestMessage("ntf_existing", "acme", "event.recorded")); err != nil {
			t.Fatalf("publish: %v", err)
		}
		s, err := js.Stream(ctx, cfg.Stream)
		if err != nil {
			t.Fatal(err)
		}
		got := s.CachedInfo().Config
		if strings.Join(got.Subjects, " ") != strings.Join(want.Subjects, " ") || got.MaxAge != want.MaxAge ||
			got.Duplicates != want.Duplicates || got.Storage != want.Storage {
			t.Fatalf("stream config changed: subjects %q max age %s duplicates %s storage %s",
				got.Subjects, got.MaxAge, got.Duplicates, got.Storage)
		}
		if s.CachedInfo().State.Msgs != 1 {
			t.Fatalf("stream holds %d messages, want 1", s.CachedInfo().State.Msgs)
		}
	})
}

func TestNATSStreamGone(t *testing.T) {
	cfg := natsTestConfig(t)
	n := dialNATSForTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.js.DeleteStream(ctx, cfg.Stream); err != nil {
		t.Fatal(err)
	}
	err := n.Publish(ctx, natsTestMessage("ntf_gone", "acme", "event.recorded"))
	if !errors.Is(err, ErrNATSRefused) {
		t.Fatalf("publish with the stream deleted: %v, want ErrNATSRefused", err)
	}
	t.Log(err)
}

func TestNATSRejectsBadMessages(t *testing.T) {
	cfg := natsTestConfig(t)
	n := dialNATSForTest(t, cfg)
	ctx := context.Background()
	for name, m := range map[string]Message{
		"no id":     natsTestMessage("", "acme", "event.recorded"),
		"no tenant": natsTestMessage("ntf_x", "", "event.recorded"),
		"wild type": natsTestMessage("ntf_x", "acme", "event.>"),
	} {
		if err := n.Publish(ctx, m); err == nil {
			t.Errorf("%s: published", name)
		}
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	err := n.Publish(ctx, natsTestMessage("ntf_closed", "acme", "event.recorded"))
	if !errors.Is(err, ErrNATSUnreachable) {
		t.Fatalf("publish after Close: %v, want ErrNATSUnreachable", err)
	}
}

func TestNATSUnreachable(t *testing.T) {
	// A port nothing listens on: refused at once.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := l.Addr().String()
	_ = l.Close()

	// A port that accepts and never speaks: only the timeout ends the wait.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()

	for name, addr := range map[string]string{"closed port": closedAddr, "silent server": silent.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			n, err := DialNATS(context.Background(), NATSConfig{URL: "nats://" + addr, ConnectTimeout: time.Second}, natsTestLogger(t))
			if err == nil {
				_ = n.Close()
				t.Fatal("DialNATS succeeded")
			}
			if !errors.Is(err, ErrNATSUnreachable) || !strings.Contains(err.Error(), addr) {
				t.Fatalf("DialNATS: %v, want ErrNATSUnreachable naming %s", err, addr)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("DialNATS took %s with a 1s connect timeout", d)
			}
			t.Log(err)
		})
	}

	t.Run("caller's deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := DialNATS(ctx, NATSConfig{URL: "nats://" + silent.Addr().String(), ConnectTimeout: time.Minute}, nil)
		if err == nil || time.Since(start) > 5*time.Second {
			t.Fatalf("DialNATS with a 300ms deadline: %v after %s", err, time.Since(start))
		}
	})

	t.Run("broker lost after dial", func(t *testing.T) {
		cfg := natsTestConfig(t)
		p := startNATSTestProxy(t, natsTestAddr())
		cfg.URL = "nats://" + p.addr()
		cfg.PublishTimeout = 2 * time.Second
		n := dialNATSForTest(t, cfg)
		ctx := context.Background()
		if err := n.Publish(ctx, natsTestMessage("ntf_before", "acme", "event.recorded")); err != nil {
			t.Fatalf("publish through the proxy: %v", err)
		}
		p.stop()
		for i := range 3 {
			start := time.Now()
			err := n.Publish(ctx, natsTestMessage("ntf_after", "acme", "event.recorded"))
			d := time.Since(start)
			if !errors.Is(err, ErrNATSUnreachable) {
				t.Fatalf("publish #%d with the broker gone: %v, want ErrNATSUnreachable", i+1, err)
			}
			if d > 4*time.Second {
				t.Fatalf("publish #%d with the broker gone took %s, publish timeout 2s", i+1, d)
			}
			t.Logf("after %s: %v", d.Round(time.Millisecond), err)
		}
	})
}

// natsTestProxy forwards TCP to the broker until stopped; stopping closes
// the listener and every connection, so the broker's URL, as the client
// knows it, becomes unreachable.
type natsTestProxy struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
	done  bool
}

func startNATSTestProxy(t *testing.T, target string) *natsTestProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &natsTestProxy{l: l}
	t.Cleanup(p.stop)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.DialTimeout("tcp", target, 2*time.Second)
			if err != nil {
				_ = c.Close()
				continue
			}
			if !p.track(c, up) {
				return
			}
			go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	}()
	return p
}

func (p *natsTestProxy) addr() string { return p.l.Addr().String() }

func (p *natsTestProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		for _, c := range cs {
			_ = c.Close()
		}
		return false
	}
	p.conns = append(p.conns, cs...)
	return true
}

func (p *natsTestProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	p.done = true
	_ = p.l.Close()
	for _, c := range p.conns {
		_ = c.Close()
	}
}
