package ledger

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// ExportQuery asks for one chunk of a tenant's events in export order.
type ExportQuery struct {
	Segment    string
	Kinds      []Kind
	Start, End time.Time
	PageSize   int
	// PageToken is a previous chunk's NextPageToken; "" starts an export.
	PageToken string
}

// ExportPage is one chunk of an export.
type ExportPage struct {
	Events []Event
	// NextPageToken resumes after this chunk; always set.
	NextPageToken string
	// RecordedThrough is the export's moment: only events recorded at or
	// before it are exported.
	RecordedThrough time.Time
	// Done is true on the last chunk.
	Done bool
}

// DefaultExportPageSize is an export chunk's size when the request names
// none: large enough that a chunk's round trip is small beside its rows.
const DefaultExportPageSize = 500

// ExportEvents returns one chunk of a tenant's events, ordered by customer
// id, then OccurredAt, then id: the order of the events_by_time index, so
// each chunk is one bounded read of its own, whatever the tenant's size.
//
// Consistency: chunks are separate reads, not one snapshot (a transaction
// held open for a whole export would pin old row versions on PostgreSQL
// and hit CockroachDB's transaction limits). The export is still the log
// as it stood when it began: the first chunk fixes RecordedThrough (now),
// the token carries it, and every chunk keeps only events recorded by then.
// Events are append-only and positions never move, so a resumed export
// returns exactly what an uninterrupted one would: each event recorded
// before the export began once, and none recorded during it. Two windows
// remain: an event whose transaction was still committing when the export
// began (recorded just before RecordedThrough, committed just after its
// position was read) is missed, and another replica's clock running behind
// can date an event recorded during the export before RecordedThrough.
// ReversedByEventID is read as it stands at each chunk, so it may name a
// reversal recorded after RecordedThrough, which the export leaves out.
//
// Errors: ErrInvalidArgument.
func (s *Service) ExportEvents(ctx context.Context, tenant string, q ExportQuery) (ExportPage, error) {
	var v violations
	size := DefaultExportPageSize
	if q.PageSize != 0 {
		var err error
		size, err = s.limits.pageSize(q.PageSize)
		v.add(err)
	}
	v.add(checkText("segment", q.Segment, s.limits.MaxSegmentLength))
	kinds := s.limits.kindFilter(&v, q.Kinds)
	for _, b := range []struct {
		field string
		t     time.Time
	}{{"start_time", q.Start}, {"end_time", q.End}} {
		if !b.t.IsZero() {
			v.add(CheckEarliest(b.field, b.t))
		}
	}
	if !q.Start.IsZero() && !q.End.IsZero() && !q.Start.Before(q.End) {
		v.add(Invalid("end_time", "must be after start_time"))
	}
	now := s.clock()
	page := ExportPage{RecordedThrough: now}
	var after *ExportCursor
	if q.PageToken != "" {
		tok, err := decodeExportToken(q.PageToken, s.limits.MaxIDLength, now.Add(s.limits.MaxFutureSkew))
		if v.add(err) {
			page.RecordedThrough, after = tok.through, tok.after
		}
	}
	if err := v.err(); err != nil {
		return ExportPage{}, err
	}
	eq := TenantEventQuery{Segment: q.Segment, Kinds: kinds, Start: ceilMicro(q.Start), End: ceilMicro(q.End),
		RecordedThrough: page.RecordedThrough, After: after, Limit: size + 1}
	err := s.store.View(ctx, func(r Reader) error {
		var err error
		page.Events, err = r.TenantEvents(ctx, tenant, eq)
		return err
	})
	if err != nil {
		return ExportPage{}, err
	}
	// One extra row tells whether another chunk exists, so the last chunk
	// is not an empty one.
	page.Done = len(page.Events) <= size
	if !page.Done {
		page.Events = page.Events[:size]
	}
	if n := len(page.Events); n > 0 {
		last := page.Events[n-1]
		after = &ExportCursor{CustomerID: last.CustomerID, OccurredAt: last.OccurredAt, EventID: last.ID}
	}
	page.NextPageToken = encodeExportToken(exportToken{through: page.RecordedThrough, after: after})
	return page, nil
}

// exportToken is where an export stands: its moment and the last position
// sent (nil before the first event).
type exportToken struct {
	through time.Time
	after   *ExportCursor
}

// Export tokens are opaque to clients: base64url of "x/<through, unix
// micros>" and, once a position exists, "/<customer id>/<occurred_at, unix
// micros>/<event id>". Ids never hold a "/" (checkID).
func encodeExportToken(t exportToken) string {
	raw := "x/" + strconv.FormatInt(t.through.UnixMicro(), 10)
	if c := t.after; c != nil {
		raw += "/" + c.CustomerID + "/" + strconv.FormatInt(c.OccurredAt.UnixMicro(), 10) + "/" + c.EventID
	}
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// decodeExportToken reads an export token, refusing one this server could
// not have issued (its times lie between 1970 and latest; its ids are ids).
func decodeExportToken(tok string, maxID int, latest time.Time) (exportToken, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return exportToken{}, errBadToken
	}
	parts := strings.Split(string(raw), "/")
	if parts[0] != "x" || (len(parts) != 2 && len(parts) != 5) {
		return exportToken{}, errBadToken
	}
	micros := func(s string) (time.Time, bool) {
		us, err := strconv.ParseInt(s, 10, 64)
		if err != nil || us < minTime.UnixMicro() || us > latest.UnixMicro() {
			return time.Time{}, false
		}
		return time.UnixMicro(us).UTC(), true
	}
	var out exportToken
	var ok bool
	if out.through, ok = micros(parts[1]); !ok {
		return exportToken{}, errBadToken
	}
	if len(parts) == 5 {
		occurred, ok := micros(parts[3])
		if !ok || checkID("page_token", parts[2], maxID) != nil || checkID("page_token", parts[4], maxID) != nil {
			return exportToken{}, errBadToken
		}
		out.after = &ExportCursor{CustomerID: parts[2], OccurredAt: occurred, EventID: parts[4]}
	}
	return out, nil
}
