// Command goodwill is the command-line client of goodwilld: it records
// events, reads balances and lists, and manages the policy and webhooks,
// over gRPC through the client package, so every call it makes is retried
// the client's way and every write carries an idempotency key.
//
// It never prints or logs an API key: not in a listing of profiles, not in
// an error message.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
