package ledger

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// ListQuery asks for one page of a customer's events.
type ListQuery struct {
	CustomerID string
	PageSize   int
	PageToken  string
	Kinds      []Kind
	Start, End time.Time
}

// ListEvents returns one page of a customer's events, newest first, and the
// token of the next page ("" on the last). Errors: ErrInvalidArgument,
// ErrNotFound.
func (s *Service) ListEvents(ctx context.Context, tenant string, q ListQuery) ([]Event, string, error) {
	if err := checkID("customer_id", q.CustomerID, s.limits.MaxIDLength); err != nil {
		return nil, "", err
	}
	size, err := s.limits.pageSize(q.PageSize)
	if err != nil {
		return nil, "", err
	}
	for _, k := range q.Kinds {
		if !k.Valid() {
			return nil, "", Invalid("kinds", "contains an unknown event kind")
		}
	}
	if !q.Start.IsZero() && !q.End.IsZero() && !q.Start.Before(q.End) {
		return nil, "", Invalid("end_time", "must be after start_time")
	}
	// Times are stored to the microsecond: round bounds up, so a start of
	// 12:00:00.0000005 excludes an event at 12:00:00.000000 and an end
	// just past an event's microsecond includes it.
	eq := EventQuery{Kinds: q.Kinds, Start: ceilMicro(q.Start), End: ceilMicro(q.End), Limit: size + 1}
	if q.PageToken != "" {
		cur, err := decodeCursor(q.PageToken, s.limits.MaxIDLength)
		if err != nil {
			return nil, "", err
		}
		eq.After = &cur
	}
	var events []Event
	err = s.store.View(ctx, func(r Reader) error {
		if _, err := s.customer(ctx, r, tenant, q.CustomerID); err != nil {
			return err
		}
		var err error
		events, err = r.Events(ctx, tenant, q.CustomerID, eq)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	// One extra row tells whether another page exists without a count.
	next := ""
	if len(events) > size {
		events = events[:size]
		last := events[size-1]
		next = encodeCursor(Cursor{OccurredAt: last.OccurredAt, EventID: last.ID})
	}
	return events, next, nil
}

func ceilMicro(t time.Time) time.Time {
	if c := t.Truncate(time.Microsecond); c.Before(t) {
		return c.Add(time.Microsecond)
	}
	return t
}

// Page tokens are opaque to clients: base64url of "<unix micros>.<event id>".
// A (time, id) cursor keeps pages stable while new events arrive.
func encodeCursor(c Cursor) string {
	raw := strconv.FormatInt(c.OccurredAt.UnixMicro(), 10) + "." + c.EventID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeCursor(tok string, maxID int) (Cursor, error) {
	bad := Invalid("page_token", "is not a token this server issued")
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return Cursor{}, bad
	}
	ts, id, ok := strings.Cut(string(raw), ".")
	if !ok || id == "" {
		return Cursor{}, bad
	}
	us, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return Cursor{}, bad
	}
	if checkID("page_token", id, maxID) != nil {
		return Cursor{}, bad
	}
	return Cursor{OccurredAt: time.UnixMicro(us).UTC(), EventID: id}, nil
}
