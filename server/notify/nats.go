package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Callers tell a broker that could not be reached (retry later; the message
// may or may not be stored, and resending it is safe thanks to its id) from
// one that answered and said no (retrying the same message will not help
// until someone changes the broker) with errors.Is.
var (
	ErrNATSUnreachable = errors.New("NATS broker unreachable")
	ErrNATSRefused     = errors.New("NATS broker refused")
)

// Defaults for NATSConfig's zero fields.
const (
	DefaultNATSStream         = "GOODWILL"
	DefaultNATSSubjectPrefix  = "goodwill"
	DefaultNATSConnectTimeout = 5 * time.Second
	DefaultNATSPublishTimeout = 5 * time.Second
	// A stream with no limit keeps every notification until the broker's
	// disk is full; a week is ample for a consumer to catch up after an
	// outage.
	DefaultNATSMaxAge = 7 * 24 * time.Hour
	// NATSDuplicateWindow is how long JetStream remembers a Nats-Msg-Id. It
	// must outlast the time within which the same notification is sent
	// again: a publish whose ack was lost (timeout, reconnect) is retried
	// within seconds to a minute, so 2 minutes makes those retries no-ops.
	// Longer would cost broker memory for every id in the window without
	// helping: a resend after hours is deduplicated by receivers, on the id
	// they see in every message.
	NATSDuplicateWindow = 2 * time.Minute
)

// NATSConfig says where and how notifications are published to NATS
// JetStream. Zero fields take the defaults above.
type NATSConfig struct {
	// URL is the broker, e.g. nats://127.0.0.1:4222; credentials may be
	// in it (nats://user:pass@host:4222) and are never logged.
	URL string
	// Stream is the JetStream stream that stores the notifications,
	// default "GOODWILL".
	Stream string
	// SubjectPrefix is the subjects' first token(s), default "goodwill":
	// messages go to "<prefix>.<tenant>.<type>". Only tests and
	// deployments that share a broker between ledgers change it.
	SubjectPrefix string
	// ConnectTimeout bounds the initial connection and each reconnect
	// attempt.
	ConnectTimeout time.Duration
	// PublishTimeout bounds a Publish whose ctx has no earlier deadline.
	PublishTimeout time.Duration
	// MaxAge applies only when DialNATS creates the stream.
	MaxAge time.Duration
	// ClientName shows in the broker's connection list, default
	// "goodwilld".
	ClientName string
}

// NATS publishes notifications to a JetStream stream. It is safe for
// concurrent use.
type NATS struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	stream  string
	prefix  string
	timeout time.Duration
	log     *slog.Logger

	closeOnce sync.Once
}

// DialNATS connects to the broker and makes sure the stream exists and
// takes every subject under the prefix. An existing stream's configuration
// is the operator's and is left alone; one that does not cover the prefix
// is an error, since publishing into it would fail message by message.
func DialNATS(ctx context.Context, cfg NATSConfig, log *slog.Logger) (*NATS, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.URL == "" {
		return nil, errors.New("NATS config: URL is empty")
	}
	if cfg.Stream == "" {
		cfg.Stream = DefaultNATSStream
	}
	if cfg.SubjectPrefix == "" {
		cfg.SubjectPrefix = DefaultNATSSubjectPrefix
	}
	if !validPrefix(cfg.SubjectPrefix) {
		return nil, fmt.Errorf("NATS config: subject prefix %q is not dot-separated tokens of [A-Za-z0-9_-]", cfg.SubjectPrefix)
	}
	if strings.ContainsAny(cfg.Stream, ".*> \t\r\n/\\") {
		return nil, fmt.Errorf("NATS config: stream name %q contains a character JetStream forbids", cfg.Stream)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultNATSConnectTimeout
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = DefaultNATSPublishTimeout
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultNATSMaxAge
	}
	if cfg.ClientName == "" {
		cfg.ClientName = "goodwilld"
	}
	where := redactURL(cfg.URL)
	log = log.With("nats", where, "stream", cfg.Stream)

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", where, err)
	}
	// nats.Connect takes no context; its dial timeout is the only bound, so
	// it must not outlast the caller's deadline.
	connectTimeout := cfg.ConnectTimeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < connectTimeout {
		connectTimeout = max(time.Until(d), time.Millisecond)
	}
	nc, err := nats.Connect(cfg.URL,
		nats.Name(cfg.ClientName),
		nats.Timeout(connectTimeout),
		// A service outlives broker restarts: reconnect for ever.
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		// Publish waits for the JetStream ack anyway, so buffering while
		// disconnected would only turn a clear "unreachable" into a
		// timeout.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return // Close, not a lost broker
			}
			log.Warn("NATS disconnected; reconnecting", "err", err)
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			log.Info("NATS reconnected")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("NATS asynchronous error", "err", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", where, classifyConnect(err))
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("NATS JetStream at %s: %w", where, err)
	}
	n := &NATS{
		nc:      nc,
		js:      js,
		stream:  cfg.Stream,
		prefix:  cfg.SubjectPrefix,
		timeout: cfg.PublishTimeout,
		log:     log,
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	if err := n.ensureStream(ctx, cfg.MaxAge); err != nil {
		nc.Close()
		return nil, fmt.Errorf("NATS at %s: %w", where, err)
	}
	return n, nil
}

func (n *NATS) ensureStream(ctx context.Context, maxAge time.Duration) error {
	want := n.prefix + ".>"
	s, err := n.js.Stream(ctx, n.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = n.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        n.stream,
			Description: "Goodwill ledger notifications, one subject per tenant and type",
			Subjects:    []string{want},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      maxAge,
			Duplicates:  NATSDuplicateWindow,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Another instance created it between our lookup and ours;
			// its configuration is then checked like any existing one.
			s, err = n.js.Stream(ctx, n.stream)
		} else if err == nil {
			n.log.Info("NATS stream created", "subjects", want, "duplicate_window", NATSDuplicateWindow, "max_age", maxAge)
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("look up or create stream %s: %w", n.stream, classifyAPI(err))
	}
	cfg := s.CachedInfo().Config
	if !slicesAnyCovers(cfg.Subjects, want) {
		return fmt.Errorf("%w: stream %s exists but its subjects %q do not cover %s; "+
			"add %s to them or configure another stream name", ErrNATSRefused, n.stream, cfg.Subjects, want, want)
	}
	if cfg.Duplicates > 0 && cfg.Duplicates < NATSDuplicateWindow {
		n.log.Warn("NATS stream's duplicate window is shorter than the publisher's retries; a retried notification may be stored twice",
			"duplicate_window", cfg.Duplicates, "recommended", NATSDuplicateWindow)
	}
	return nil
}

// Publish sends m.Body to "<prefix>.<tenant>.<type>" and waits until the
// stream has stored it. m.ID goes in Nats-Msg-Id, so a retry within the
// duplicate window is acknowledged without being stored again.
func (n *NATS) Publish(ctx context.Context, m Message) error {
	subject, err := NATSSubject(n.prefix, m.Tenant, m.Type)
	if err != nil {
		return fmt.Errorf("publish notification %s: %w", m.ID, err)
	}
	if m.ID == "" {
		return fmt.Errorf("publish to %s: message has no id, JetStream could not deduplicate it", subject)
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	msg := &nats.Msg{Subject: subject, Data: m.Body, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, m.ID)
	// The subject's tenant token is escaped; these give consumers the
	// values as the ledger knows them without decoding it.
	msg.Header.Set("Goodwill-Tenant", m.Tenant)
	msg.Header.Set("Goodwill-Type", m.Type)
	msg.Header.Set("Content-Type", "application/json")
	ack, err := n.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(n.stream))
	if err != nil {
		return fmt.Errorf("publish notification %s to %s: %w", m.ID, subject, n.classifyPublish(err))
	}
	if ack.Duplicate {
		n.log.Debug("NATS dropped a duplicate notification", "id", m.ID, "subject", subject, "seq", ack.Sequence)
	}
	return nil
}

// Close disconnects. Publish fails afterwards; Close again is a no-op.
func (n *NATS) Close() error {
	n.closeOnce.Do(n.nc.Close)
	return nil
}

// NATSSubject is where a tenant's notification of type typ is published:
// prefix, then the tenant as one token (EscapeNATSToken), then the type's
// own tokens ("customer.overdrawn" stays two tokens, so a consumer can take
// "<prefix>.<tenant>.customer.>").
func NATSSubject(prefix, tenant, typ string) (string, error) {
	if tenant == "" {
		return "", errors.New("NATS subject: tenant is empty")
	}
	if !validType(typ) {
		return "", fmt.Errorf("NATS subject: notification type %q is not dot-separated tokens of [a-z0-9_-]", typ)
	}
	return prefix + "." + EscapeNATSToken(tenant) + "." + typ, nil
}

// EscapeNATSToken turns a tenant id into exactly one subject token. Left
// as is, a dot would split it, so tenant "acme.eu" would publish under
// "goodwill.acme.>", tenant acme's space, and "*" or ">" tokens would be
// wildcards. Every byte outside [A-Za-z0-9_:@-] (the tenant alphabet less
// the dot) becomes '~' and two upper-case hex digits: "acme.eu" →
// "acme~2Eeu". '~' is itself escaped, so the mapping is injective — no two
// tenants share a token — over any string, not only valid tenant ids, and
// ordinary ids stay readable in subjects and subscriptions.
func EscapeNATSToken(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if tokenSafe(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('~')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xF])
	}
	return b.String()
}

func tokenSafe(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '-' || c == ':' || c == '@'
}

// validType: types are the ledger's own constants; anything else reaching
// here is a bug, and a wildcard or empty token must not reach a subject.
func validType(typ string) bool {
	return validTokens(typ, func(c byte) bool {
		return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-'
	})
}

func validPrefix(p string) bool {
	return validTokens(p, func(c byte) bool {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
	})
}

func validTokens(s string, ok func(byte) bool) bool {
	if s == "" {
		return false
	}
	for tok := range strings.SplitSeq(s, ".") {
		if tok == "" {
			return false
		}
		for i := 0; i < len(tok); i++ {
			if !ok(tok[i]) {
				return false
			}
		}
	}
	return true
}

func slicesAnyCovers(patterns []string, subject string) bool {
	for _, p := range patterns {
		if subjectCovers(p, subject) {
			return true
		}
	}
	return false
}

// subjectCovers reports whether every subject matched by sub is matched by
// pattern, so that a stream with that pattern stores all of them.
func subjectCovers(pattern, sub string) bool {
	pt := strings.Split(pattern, ".")
	st := strings.Split(sub, ".")
	for i, p := range pt {
		if p == ">" {
			return i < len(st)
		}
		if i >= len(st) {
			return false
		}
		switch s := st[i]; {
		case s == ">":
			return false
		case p == "*":
		case p != s || s == "*":
			return false
		}
	}
	return len(pt) == len(st)
}

func classifyConnect(err error) error {
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired) ||
		strings.Contains(strings.ToLower(err.Error()), "authorization") {
		return fmt.Errorf("%w the connection: %w", ErrNATSRefused, err)
	}
	return fmt.Errorf("%w: %w", ErrNATSUnreachable, err)
}

// classifyAPI is for stream management requests, made right after
// connecting.
func classifyAPI(err error) error {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrJetStreamNotEnabled):
		return fmt.Errorf("%w: JetStream is not enabled on the broker (start nats-server with -js): %w", ErrNATSRefused, err)
	case errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return fmt.Errorf("%w: JetStream is not enabled for this account: %w", ErrNATSRefused, err)
	case errors.As(err, &apiErr):
		return fmt.Errorf("%w: %s: %w", ErrNATSRefused, apiErr.Description, err)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		return fmt.Errorf("%w: no answer from JetStream in time: %w", ErrNATSUnreachable, err)
	}
	return fmt.Errorf("%w: %w", ErrNATSUnreachable, err)
}

func (n *NATS) classifyPublish(err error) error {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, nats.ErrConnectionClosed):
		return fmt.Errorf("%w: publisher is closed: %w", ErrNATSUnreachable, err)
	case errors.Is(err, nats.ErrReconnectBufExceeded) || errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrDisconnected) || !n.nc.IsConnected():
		return fmt.Errorf("%w: not connected (status %s): %w", ErrNATSUnreachable, n.nc.Status(), err)
	case errors.Is(err, jetstream.ErrNoStreamResponse):
		return fmt.Errorf("%w: no stream takes the subject (was stream %s deleted?): %w", ErrNATSRefused, n.stream, err)
	case errors.As(err, &apiErr):
		return fmt.Errorf("%w: %s: %w", ErrNATSRefused, apiErr.Description, err)
	case errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, jetstream.ErrInvalidJSAck):
		return fmt.Errorf("%w: %w", ErrNATSRefused, err)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		return fmt.Errorf("%w: no acknowledgement in time (publish timeout %s): %w", ErrNATSUnreachable, n.timeout, err)
	}
	return fmt.Errorf("%w: %w", ErrNATSUnreachable, err)
}

// redactURL keeps credentials in a NATS URL out of errors and logs.
func redactURL(raw string) string {
	var out []string
	// A NATS URL may list several servers, comma-separated.
	for s := range strings.SplitSeq(raw, ",") {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "://") {
			s = "nats://" + s // as nats.Connect reads it
		}
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			out = append(out, "(unparsable URL)")
			continue
		}
		if u.User != nil {
			u.User = url.User("REDACTED")
		}
		out = append(out, u.String())
	}
	return strings.Join(out, ",")
}
