package api

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// appendNotificationJSON writes a notification as protojson writes
// NotificationToProto's message (the REST spelling: lowerCamelCase names,
// int64 as strings, enums by name, zero values left out, times in RFC 3339
// with 0, 3, 6 or 9 fractional digits, map keys sorted). A webhook posts
// one per notification, and protojson, working by reflection, was a
// fifteenth of the server's CPU under load. TestNotificationJSONMatchesProtojson
// holds the two to the same document, field by field, and fails when the
// message gains a field this does not write.
func appendNotificationJSON(b []byte, n ledger.Notification) []byte {
	w := jsonObject{b: append(b, '{')}
	w.str("notificationId", n.ID)
	w.str("type", string(n.Type))
	w.str("cursor", cursorToProto(n.Seq))
	w.str("tenantId", n.TenantID)
	w.str("customerId", n.CustomerID)
	w.int("customerSequence", n.CustomerSeq)
	w.time("occurredAt", n.OccurredAt)
	w.str("eventId", n.EventID)
	w.int("policyVersion", n.PolicyVersion)
	if n.CustomerID != "" {
		for _, s := range []struct {
			name string
			snap ledger.Snapshot
		}{{"before", n.Before}, {"after", n.After}} {
			w.key(s.name)
			in := jsonObject{b: append(w.b, '{')}
			in.float("balance", s.snap.Value, false)
			in.enum("status", goodwillv1.BalanceStatus_name[int32(statusToProto(s.snap.Status))], statusToProto(s.snap.Status) == 0)
			w.b = append(in.b, '}')
		}
	}
	if e := n.Event; e != nil {
		w.key("event")
		in := jsonObject{b: append(w.b, '{')}
		in.str("eventId", e.ID)
		in.str("customerId", e.CustomerID)
		in.enum("kind", goodwillv1.EventKind_name[int32(kindToProto(e.Kind))], kindToProto(e.Kind) == 0)
		in.float("magnitude", e.Magnitude, true) // optional: present even when 0
		in.time("occurredAt", e.OccurredAt)
		in.time("recordedAt", e.RecordedAt)
		in.str("idempotencyKey", e.IdempotencyKey)
		in.str("source", e.Source)
		in.str("note", e.Note)
		if len(e.Attributes) > 0 {
			in.key("attributes")
			m := jsonObject{b: append(in.b, '{')}
			for _, k := range slices.Sorted(maps.Keys(e.Attributes)) {
				m.key(k)
				m.b = appendJSONString(m.b, e.Attributes[k])
			}
			in.b = append(m.b, '}')
		}
		in.str("incidentId", e.IncidentID)
		in.str("reversesEventId", e.ReversesEventID)
		in.str("reversedByEventId", e.ReversedByEventID)
		w.b = append(in.b, '}')
	}
	return append(w.b, '}')
}

// jsonObject appends the members of one JSON object, leaving out zero
// values as proto3 JSON does.
type jsonObject struct {
	b    []byte
	some bool
}

func (w *jsonObject) key(k string) {
	if w.some {
		w.b = append(w.b, ',')
	}
	w.some = true
	w.b = appendJSONString(w.b, k)
	w.b = append(w.b, ':')
}

func (w *jsonObject) str(k, v string) {
	if v != "" {
		w.key(k)
		w.b = appendJSONString(w.b, v)
	}
}

func (w *jsonObject) int(k string, v int64) {
	if v != 0 {
		w.key(k)
		w.b = append(w.b, '"')
		w.b = strconv.AppendInt(w.b, v, 10)
		w.b = append(w.b, '"')
	}
}

func (w *jsonObject) enum(k, name string, zero bool) {
	if !zero {
		w.key(k)
		w.b = appendJSONString(w.b, name)
	}
}

// float writes a double as protojson does (and encoding/json): the
// shortest form that reads back the same, in exponent form only for very
// large or small magnitudes; NaN and the infinities as strings.
func (w *jsonObject) float(k string, v float64, present bool) {
	if math.Float64bits(v) == 0 && !present { // -0 is not the default: protojson writes it
		return
	}
	w.key(k)
	switch {
	case math.IsNaN(v):
		w.b = append(w.b, `"NaN"`...)
		return
	case math.IsInf(v, 1):
		w.b = append(w.b, `"Infinity"`...)
		return
	case math.IsInf(v, -1):
		w.b = append(w.b, `"-Infinity"`...)
		return
	}
	format := byte('f')
	if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(w.b)
	w.b = strconv.AppendFloat(w.b, v, format, -1, 64)
	if format == 'e' { // 1e-07, not 1e-07's two-digit exponent
		if n := len(w.b); n-start >= 4 && w.b[n-4] == 'e' && w.b[n-3] == '-' && w.b[n-2] == '0' {
			w.b[n-2] = w.b[n-1]
			w.b = w.b[:n-1]
		}
	}
}

// time writes a timestamp as google.protobuf.Timestamp's JSON: UTC, with
// 0, 3, 6 or 9 fractional digits.
func (w *jsonObject) time(k string, t time.Time) {
	if t.IsZero() {
		return
	}
	w.key(k)
	t = t.UTC()
	w.b = append(w.b, '"')
	w.b = t.AppendFormat(w.b, "2006-01-02T15:04:05")
	if ns := t.Nanosecond(); ns != 0 {
		digits := 9
		for ; ns%1000 == 0; ns /= 1000 {
			digits -= 3
		}
		w.b = append(w.b, '.')
		frac := strconv.AppendInt(nil, int64(ns), 10)
		for range digits - len(frac) {
			w.b = append(w.b, '0')
		}
		w.b = append(w.b, frac...)
	}
	w.b = append(w.b, `Z"`...)
}

// appendJSONString writes s as a JSON string. Stored text is valid UTF-8
// (the API refuses anything else); an invalid byte is written as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
