package ledger

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Event is one immutable ledger entry about one customer.
type Event struct {
	TenantID   string
	CustomerID string
	ID         string
	Kind       Kind
	Magnitude  float64
	OccurredAt time.Time
	RecordedAt time.Time
	// IdempotencyKey is unique per (tenant, customer) when not empty.
	IdempotencyKey string
	// Fingerprint is a hash of what the client sent (see fingerprint). It
	// decides whether a repeated idempotency key is a replay or a conflict,
	// and breaks ties in OccurredAt so replay order never depends on arrival
	// order.
	Fingerprint     string
	Source          string
	Note            string
	Attributes      map[string]string
	IncidentID      string
	ReversesEventID string
	// ReversedByEventID is derived on read: the REVERSAL that cancels this
	// event, if any. It is never stored on the event itself.
	ReversedByEventID string
}

// Position is where an event sits in a customer's replay order.
type Position struct {
	At          time.Time
	Kind        Kind
	Fingerprint string
	ID          string
}

// Pos returns the event's position in replay order.
func (e Event) Pos() Position {
	return Position{At: e.OccurredAt, Kind: e.Kind, Fingerprint: e.Fingerprint, ID: e.ID}
}

// Compare orders positions by time, then by kind (kindInfo.instant),
// then fingerprint, then id. Two events that tie on time, kind and
// fingerprint carry the same payload, so their relative order cannot change
// any balance; the id only makes the order total.
func (p Position) Compare(q Position) int {
	if c := p.At.Compare(q.At); c != 0 {
		return c
	}
	if c := cmp.Compare(p.Kind.info().instant, q.Kind.info().instant); c != 0 {
		return c
	}
	if c := strings.Compare(p.Fingerprint, q.Fingerprint); c != 0 {
		return c
	}
	return strings.Compare(p.ID, q.ID)
}

// IsZero reports whether no event has been applied.
func (p Position) IsZero() bool { return p.At.IsZero() && p.ID == "" }

// fingerprint hashes the fields of a request as the client sent them.
// Server-filled values (a defaulted occurred_at, the id, recorded_at) are
// left out so that a retry of the same request matches the original.
func fingerprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		// Length-prefix every part so ("ab","c") and ("a","bc") differ.
		h.Write([]byte(strconv.Itoa(len(p))))
		h.Write([]byte{':'})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func fmtTime(t time.Time, supplied bool) string {
	if !supplied {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func fmtAttrs(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(strconv.Quote(k))
		b.WriteByte('=')
		b.WriteString(strconv.Quote(m[k]))
		b.WriteByte(';')
	}
	return b.String()
}
