package ledger

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
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
	var v violations
	v.add(checkID("customer_id", q.CustomerID, s.limits.MaxIDLength))
	size, err := s.limits.pageSize(q.PageSize)
	v.add(err)
	kinds := s.limits.kindFilter(&v, q.Kinds)
	if !q.Start.IsZero() && !q.End.IsZero() && !q.Start.Before(q.End) {
		v.add(Invalid("end_time", "must be after start_time"))
	}
	var after *Cursor
	if q.PageToken != "" {
		cur, err := decodeCursor(q.PageToken, s.limits.MaxIDLength, s.clock().Add(s.limits.MaxFutureSkew))
		if v.add(err) {
			after = &cur
		}
	}
	if err := v.err(); err != nil {
		return nil, "", err
	}
	// Times are stored to the microsecond: round bounds up, so a start of
	// 12:00:00.0000005 excludes an event at 12:00:00.000000 and an end
	// just past an event's microsecond includes it.
	eq := EventQuery{Kinds: kinds, Start: ceilMicro(q.Start), End: ceilMicro(q.End), Limit: size + 1, After: after}
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

// decodeCursor reads a page token, refusing one this server could not have
// issued: a token's time is an event's, so it lies between 1970 and latest
// (now plus the future skew an event may have); anything else was forged or
// damaged, and would reach the database as an out-of-range time.
func decodeCursor(tok string, maxID int, latest time.Time) (Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return Cursor{}, errBadToken
	}
	ts, id, ok := strings.Cut(string(raw), ".")
	if !ok || id == "" {
		return Cursor{}, errBadToken
	}
	us, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || us < minTime.UnixMicro() || us > latest.UnixMicro() {
		return Cursor{}, errBadToken
	}
	if checkID("page_token", id, maxID) != nil {
		return Cursor{}, errBadToken
	}
	return Cursor{OccurredAt: time.UnixMicro(us).UTC(), EventID: id}, nil
}

// kindFilter checks a filter's kinds (each valid, at most MaxKindFilters)
// into v and returns them each once: a list of repeats (protovalidate
// refuses them; other callers of the Service may not) would become as
// many SQL parameters.
func (l Limits) kindFilter(v *violations, ks []Kind) []Kind {
	if len(ks) > l.MaxKindFilters {
		v.add(Invalid("kinds", "must name at most %d kinds", l.MaxKindFilters))
		return nil
	}
	var out []Kind
	for i, k := range ks {
		if !k.Valid() {
			v.add(Invalid(fmt.Sprintf("kinds[%d]", i), "must be one of %s", kindNamesList()))
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}
