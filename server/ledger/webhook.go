package ledger

import (
	"errors"
	"slices"
	"time"
)

// Webhook is an HTTP endpoint a tenant's notifications are posted to.
type Webhook struct {
	TenantID string
	ID       string
	URL      string
	// Types are the notification types it receives (all when empty).
	Types       []NotificationType
	Description string
	// Secret signs every delivery. After a rotation the previous secret
	// signs too, until PreviousUntil, so receivers can switch without
	// refusing a delivery.
	Secret         string
	PreviousSecret string
	PreviousUntil  time.Time
	CreatedAt      time.Time
	// Cursor is the last notification (Seq) the webhook has taken up:
	// delivered, or waiting in its queue of retries.
	Cursor int64
	// Delivered and Failed count deliveries that succeeded and that were
	// given up; Attempts counts the attempts logged (the attempt log's
	// ring position; see attemptsToLog).
	Delivered, Failed, Attempts int64
	// LeaseOwner and LeaseUntil: the replica delivering it, and until when
	// the others leave it alone.
	LeaseOwner string
	LeaseUntil time.Time
}

// Wants reports whether the webhook receives notifications of type t.
func (w Webhook) Wants(t NotificationType) bool {
	return len(w.Types) == 0 || slices.Contains(w.Types, t)
}

// DeliveryState is where a notification that was not delivered at the
// first attempt stands.
type DeliveryState int

const (
	DeliveryUnspecified DeliveryState = iota
	// DeliveryPending: waiting for its next attempt, or for an earlier
	// notification of the same customer to be delivered first.
	DeliveryPending
	// DeliveryFailed: given up after the retry period.
	DeliveryFailed
)

// Delivery is one notification a webhook has not delivered yet, or gave
// up on: the queue of retries. A notification delivered at its first
// attempt has none (only a line in the attempt log).
type Delivery struct {
	TenantID, WebhookID string
	NotificationID      string
	Seq                 int64
	CustomerID          string
	Type                NotificationType
	State               DeliveryState
	Attempts            int
	FirstTryAt          time.Time
	NextTryAt           time.Time
	LastStatus          int
	LastError           string
}

// Attempt is one try at delivering a notification to a webhook, as the
// attempt log keeps it (the latest few hundred per webhook).
type Attempt struct {
	TenantID, WebhookID string
	// Slot is its place in the webhook's ring of attempts.
	Slot           int64
	NotificationID string
	Seq            int64
	Type           NotificationType
	CustomerID     string
	At             time.Time
	// Status is the HTTP status the receiver answered (0 when none did:
	// refused, timed out, unreachable); Error says what went wrong.
	Status    int
	Error     string
	Latency   time.Duration
	Delivered bool
}

// attemptRing is how many attempts a webhook's log keeps.
const attemptRing = 256

// errWebhookNotFound is the answer for a webhook the tenant does not have.
func errWebhookNotFound(id string) error { return notFound("webhook %q not found", id) }

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
