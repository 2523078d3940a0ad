// Package client is the Go client of the Goodwill Ledger gRPC API: Dial,
// then call the generated methods (the Client embeds them) or the typed
// helpers below.
package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// MaxResponseBytes is the largest response the client accepts.
const MaxResponseBytes = 64 << 20

// Client talks to one goodwilld.
type Client struct {
	goodwillv1.GoodwillServiceClient
	Health healthpb.HealthClient
	conn   *grpc.ClientConn
}

// Dial connects to a goodwilld gRPC address such as 127.0.0.1:50051. The
// connection is made lazily; WaitReady blocks until the server serves.
// Calls are retried on UNAVAILABLE, ABORTED and (for an attempt of a write)
// DEADLINE_EXCEEDED, with the same idempotency key: WithRetry,
// WithRetryBackoff, WithDefaultTimeout and WithAttemptTimeout tune it.
// Without a transport credentials option it uses plaintext, as the server
// does by default; WithTLS is the option for a server serving TLS.
func Dial(addr string, opts ...grpc.DialOption) (*Client, error) {
	// Defaults go first: options apply in order, so a caller's transport
	// credentials replace plaintext and a caller's receive limit replaces
	// ours (a batch response echoes every event and a page holds up to
	// 1,000, so responses outgrow gRPC's 4 MiB default long before requests
	// do).
	//
	// Every call is retried (see retry.go): writes get an idempotency key
	// when they have none, and calls without a deadline get DefaultTimeout.
	defaults := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxResponseBytes)),
	}, retryOptions()...)
	opts = append(defaults, opts...)
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return &Client{
		GoodwillServiceClient: goodwillv1.NewGoodwillServiceClient(conn),
		Health:                healthpb.NewHealthClient(conn),
		conn:                  conn,
	}, nil
}

// WithTLS is the Dial option for a goodwilld serving TLS (--tls-cert): it
// replaces Dial's plaintext default. cfg sets what to trust (RootCAs; nil
// means the system roots) and, against a server with --tls-client-ca, the
// client certificate (Certificates). A nil cfg verifies the server against
// the system roots with TLS 1.2 at least.
//
//	c, err := client.Dial("ledger.example.com:50051", client.WithTLS(&tls.Config{
//		RootCAs:      pool,                          // the CA that signed the server's certificate
//		Certificates: []tls.Certificate{clientCert}, // only for mutual TLS
//	}))
func WithTLS(cfg *tls.Config) grpc.DialOption {
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(cfg))
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// WaitReady polls the health service until the server reports SERVING or
// ctx ends.
func (c *Client) WaitReady(ctx context.Context) error {
	for {
		resp, err := c.Health.Check(ctx, &healthpb.HealthCheckRequest{})
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("goodwilld not ready: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Event describes one event for Record.
type Event struct {
	Kind      goodwillv1.EventKind
	Magnitude float64 // 0 means the server default (1)
	// OccurredAt defaults to the time the server records it.
	OccurredAt     time.Time
	IdempotencyKey string
	Source         string
	Note           string
	Attributes     map[string]string
}

// Record appends one event to a customer's ledger.
func (c *Client) Record(ctx context.Context, customerID string, e Event) (*goodwillv1.RecordEventResponse, error) {
	pe := &goodwillv1.Event{
		Kind:           e.Kind,
		IdempotencyKey: e.IdempotencyKey,
		Source:         e.Source,
		Note:           e.Note,
		Attributes:     e.Attributes,
	}
	if e.Magnitude != 0 {
		pe.Magnitude = &e.Magnitude
	}
	if !e.OccurredAt.IsZero() {
		pe.OccurredAt = timestamppb.New(e.OccurredAt)
	}
	return c.RecordEvent(ctx, &goodwillv1.RecordEventRequest{CustomerId: customerID, Event: pe})
}

// Balance returns a customer's trust balance now.
func (c *Client) Balance(ctx context.Context, customerID string) (*goodwillv1.Balance, error) {
	resp, err := c.GetBalance(ctx, &goodwillv1.GetBalanceRequest{CustomerId: customerID})
	if err != nil {
		return nil, err
	}
	return resp.GetBalance(), nil
}

// BalanceAsOf returns a customer's trust balance at a moment (now when at
// is zero).
func (c *Client) BalanceAsOf(ctx context.Context, customerID string, at time.Time) (*goodwillv1.Balance, error) {
	req := &goodwillv1.GetBalanceRequest{CustomerId: customerID}
	if !at.IsZero() {
		req.AsOf = timestamppb.New(at)
	}
	resp, err := c.GetBalance(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.GetBalance(), nil
}
