package notify

import "time"

// Message is one notification as it leaves the process: the same ID on
// every attempt and every channel, so receivers can deduplicate.
type Message struct {
	// ID is the notification's id ("ntf_" + a UUIDv7).
	ID string
	// Tenant owns the notification; NATS subjects and webhooks are per
	// tenant.
	Tenant string
	// Type is the notification type, Standard Webhooks style:
	// "event.recorded", "customer.overdrawn", "customer.recovered",
	// "customer.advocate", "policy.activated".
	Type string
	// Timestamp is when the notification's cause happened.
	Timestamp time.Time
	// Body is the JSON document delivered as is:
	// {"type": ..., "timestamp": ..., "data": {...}}.
	Body []byte
}
