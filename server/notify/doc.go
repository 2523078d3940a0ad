// Package notify delivers the ledger's notifications outside the process:
// webhooks signed the Standard Webhooks way (sign.go), over an HTTP client
// that refuses private addresses unless allowed (ssrf.go), and NATS
// JetStream (nats.go). It knows the wire formats and the networks; what a
// notification says, and when one is due, is the ledger's (package ledger).
//
// It must never import the store, the API or the gateway.
package notify
