package ledger

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// wantInvalid fails unless err is an ErrInvalidArgument naming field.
func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want an invalid-argument error for %q", field)
	}
	if !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("err = %v, does not wrap ErrInvalidArgument", err)
	}
	for _, other := range []error{ErrNotFound, ErrConflict, ErrFailedPrecondition, ErrUnavailable, ErrDuplicate} {
		if errors.Is(err, other) {
			t.Errorf("err = %v also wraps %v", err, other)
		}
	}
	if got := FieldOf(err); got != field {
		t.Errorf("FieldOf(err) = %q, want %q (err: %v)", got, field, err)
	}
	if !strings.HasPrefix(err.Error(), field+": ") {
		t.Errorf("err.Error() = %q, want it to start with the field", err.Error())
	}
}

func TestErrorHelpers(t *testing.T) {
	t.Parallel()
	if got := FieldOf(errors.New("plain")); got != "" {
		t.Errorf("FieldOf(plain) = %q, want empty", got)
	}
	if got := FieldOf(nil); got != "" {
		t.Errorf("FieldOf(nil) = %q, want empty", got)
	}
	wrapped := fmt.Errorf("outer: %w", Invalid("x.y", "bad %d", 7))
	wantInvalid(t, errors.Unwrap(wrapped), "x.y")
	if FieldOf(wrapped) != "x.y" || !errors.Is(wrapped, ErrInvalidArgument) {
		t.Errorf("wrapped error lost its field or class: %v", wrapped)
	}
	if got := Invalid("x.y", "bad %d", 7).Error(); got != "x.y: bad 7" {
		t.Errorf("Error() = %q, want %q", got, "x.y: bad 7")
	}
	if got := notFound("customer %q not found", "c").Error(); got != `customer "c" not found` {
		t.Errorf("notFound Error() = %q", got)
	}
	if err := conflict("idempotency_key", "dup"); !errors.Is(err, ErrConflict) || FieldOf(err) != "idempotency_key" {
		t.Errorf("conflict = %v, want ErrConflict naming idempotency_key", err)
	}
	if err := precondition("no"); !errors.Is(err, ErrFailedPrecondition) || errors.Is(err, ErrInvalidArgument) {
		t.Errorf("precondition = %v, want ErrFailedPrecondition only", err)
	}
}

func TestCheckID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   string
		max  int
		ok   bool
	}{
		{"simple", "cust-42", 128, true},
		{"every allowed character", "azAZ09._:@-", 128, true},
		{"uuid", "0190b6a2-7c1e-7b3a-9f00-123456789abc", 128, true},
		{"exactly max", strings.Repeat("a", 128), 128, true},
		{"one character", "x", 1, true},
		{"empty", "", 128, false},
		{"one over max", strings.Repeat("a", 129), 128, false},
		{"over a small max", "abc", 2, false},
		{"space", "a b", 128, false},
		{"slash", "a/b", 128, false},
		{"question mark", "a?b", 128, false},
		{"percent", "a%20", 128, false},
		{"plus", "a+b", 128, false},
		{"non-ASCII letter", "café", 128, false},
		{"NUL", "a\x00", 128, false},
		{"invalid UTF-8", "a\xff", 128, false},
		{"newline", "a\n", 128, false},
		{"dot segment", ".", 128, false},
		{"dot-dot segment", "..", 128, false},
		{"leading punctuation", "_x", 128, false},
		{"leading digit", "9x", 128, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := checkID("customer_id", tt.id, tt.max)
			if tt.ok {
				if err != nil {
					t.Fatalf("checkID(%q) = %v, want nil", tt.id, err)
				}
				return
			}
			wantInvalid(t, err, "customer_id")
		})
	}
}

func TestCheckKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  string
		ok   bool
	}{
		{"empty is allowed", "", true},
		{"printable ASCII", "order-123/retry#1!~", true},
		{"exactly max", strings.Repeat("k", 128), true},
		{"prefix-like but not the prefix", "incident-1", true},
		{"prefix in another case", "INCIDENT:1", true},
		{"prefix not at the start", "x-incident:1", true},
		{"one over max", strings.Repeat("k", 129), false},
		{"space", "a b", false},
		{"tab", "a\tb", false},
		{"DEL", "a\x7f", false},
		{"NUL", "a\x00", false},
		{"non-ASCII", "clé", false},
		{"invalid UTF-8", "a\xff", false},
		{"reserved incident prefix", "incident:abc:outage", false},
		{"bare reserved prefix", "incident:", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := checkKey("idempotency_key", tt.key, 128)
			if tt.ok {
				if err != nil {
					t.Fatalf("checkKey(%q) = %v, want nil", tt.key, err)
				}
				return
			}
			wantInvalid(t, err, "idempotency_key")
		})
	}
}

func TestCheckText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    string
		max  int
		ok   bool
	}{
		{"empty", "", 10, true},
		{"ASCII at max", strings.Repeat("a", 10), 10, true},
		{"multi-byte runes count as one each", strings.Repeat("é", 10), 10, true},
		{"emoji at max", strings.Repeat("🙂", 10), 10, true},
		{"newlines and tabs are fine", "a\nb\tc", 10, true},
		{"one rune over max", strings.Repeat("a", 11), 10, false},
		{"one multi-byte rune over max", strings.Repeat("é", 11), 10, false},
		{"invalid UTF-8", "ab\xffcd", 10, false},
		{"truncated multi-byte rune", "\xc3", 10, false},
		{"NUL", "a\x00b", 10, false},
		{"only NUL", "\x00", 10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := checkText("note", tt.s, tt.max)
			if tt.ok {
				if err != nil {
					t.Fatalf("checkText(%q) = %v, want nil", tt.s, err)
				}
				return
			}
			wantInvalid(t, err, "note")
		})
	}
}

func TestLimitsWithDefaults(t *testing.T) {
	t.Parallel()
	l := Limits{}.WithDefaults()
	if l.MaxIDLength != 128 || l.MaxKeyLength != 128 || l.MaxSourceLength != 64 || l.MaxNoteLength != 1024 ||
		l.MaxAttributes != 32 || l.MaxAttributeKey != 64 || l.MaxAttributeValue != 256 ||
		l.MaxMagnitude != 1e6 || l.MaxFutureSkew != 5*time.Minute {
		t.Errorf("defaults = %+v", l)
	}
	custom := Limits{MaxNoteLength: 10, MaxMagnitude: 5}.WithDefaults()
	if custom.MaxNoteLength != 10 || custom.MaxMagnitude != 5 || custom.MaxIDLength != 128 {
		t.Errorf("WithDefaults overrode set fields: %+v", custom)
	}
}

func TestCheckNewEvent(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	l := Limits{}.WithDefaults()
	f := func(v float64) *float64 { return &v }
	valid := func() NewEvent {
		return NewEvent{
			CustomerID:     "cust-1",
			Kind:           KindOutage,
			Magnitude:      f(3),
			OccurredAt:     now.Add(-time.Hour),
			IdempotencyKey: "k-1",
			Source:         "crm",
			Note:           "shipping delayed",
			Attributes:     map[string]string{"region": "eu"},
		}
	}
	manyAttrs := func(n int) map[string]string {
		m := make(map[string]string, n)
		for i := range n {
			m[fmt.Sprintf("k%d", i)] = "v"
		}
		return m
	}
	tests := []struct {
		name  string
		edit  func(*NewEvent)
		field string // "" means valid
	}{
		{"valid", func(*NewEvent) {}, ""},
		{"nil magnitude defaults", func(e *NewEvent) { e.Magnitude = nil }, ""},
		{"zero occurred_at defaults", func(e *NewEvent) { e.OccurredAt = time.Time{} }, ""},
		{"magnitude at max", func(e *NewEvent) { e.Magnitude = f(1e6) }, ""},
		{"tiny magnitude", func(e *NewEvent) { e.Magnitude = f(1e-9) }, ""},
		{"occurred_at at the skew bound", func(e *NewEvent) { e.OccurredAt = now.Add(5 * time.Minute) }, ""},
		{"occurred_at at 1970", func(e *NewEvent) { e.OccurredAt = minTime }, ""},
		{"empty optional fields", func(e *NewEvent) { e.IdempotencyKey, e.Source, e.Note, e.Attributes = "", "", "", nil }, ""},
		{"every recordable kind: engagement", func(e *NewEvent) { e.Kind = KindEngagement }, ""},
		{"key at max", func(e *NewEvent) { e.IdempotencyKey = strings.Repeat("k", 128) }, ""},
		{"source at max in runes", func(e *NewEvent) { e.Source = strings.Repeat("é", 64) }, ""},
		{"note at max", func(e *NewEvent) { e.Note = strings.Repeat("n", 1024) }, ""},
		{"attributes at max", func(e *NewEvent) { e.Attributes = manyAttrs(32) }, ""},

		{"missing customer_id", func(e *NewEvent) { e.CustomerID = "" }, "customer_id"},
		{"bad customer_id", func(e *NewEvent) { e.CustomerID = "a/b" }, "customer_id"},
		{"long customer_id", func(e *NewEvent) { e.CustomerID = strings.Repeat("c", 129) }, "customer_id"},
		{"unspecified kind", func(e *NewEvent) { e.Kind = KindUnspecified }, "kind"},
		{"negative kind", func(e *NewEvent) { e.Kind = -1 }, "kind"},
		{"kind just past the enum", func(e *NewEvent) { e.Kind = Kind(len(AllKinds()) + 1) }, "kind"},
		{"unknown kind", func(e *NewEvent) { e.Kind = 99 }, "kind"},
		{"reversal kind", func(e *NewEvent) { e.Kind = KindReversal }, "kind"},
		{"zero magnitude", func(e *NewEvent) { e.Magnitude = f(0) }, "magnitude"},
		{"negative zero magnitude", func(e *NewEvent) { e.Magnitude = f(math.Copysign(0, -1)) }, "magnitude"},
		{"negative magnitude", func(e *NewEvent) { e.Magnitude = f(-1) }, "magnitude"},
		{"NaN magnitude", func(e *NewEvent) { e.Magnitude = f(math.NaN()) }, "magnitude"},
		{"+Inf magnitude", func(e *NewEvent) { e.Magnitude = f(math.Inf(1)) }, "magnitude"},
		{"-Inf magnitude", func(e *NewEvent) { e.Magnitude = f(math.Inf(-1)) }, "magnitude"},
		{"magnitude just over max", func(e *NewEvent) { e.Magnitude = f(math.Nextafter(1e6, 2e6)) }, "magnitude"},
		{"huge magnitude", func(e *NewEvent) { e.Magnitude = f(math.MaxFloat64) }, "magnitude"},
		{"occurred_at just past the skew", func(e *NewEvent) { e.OccurredAt = now.Add(5*time.Minute + time.Nanosecond) }, "occurred_at"},
		{"occurred_at far in the future", func(e *NewEvent) { e.OccurredAt = now.AddDate(10, 0, 0) }, "occurred_at"},
		{"occurred_at just before 1970", func(e *NewEvent) { e.OccurredAt = minTime.Add(-time.Nanosecond) }, "occurred_at"},
		{"occurred_at in 1900", func(e *NewEvent) { e.OccurredAt = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC) }, "occurred_at"},
		{"long key", func(e *NewEvent) { e.IdempotencyKey = strings.Repeat("k", 129) }, "idempotency_key"},
		{"key with space", func(e *NewEvent) { e.IdempotencyKey = "k 1" }, "idempotency_key"},
		{"reserved key", func(e *NewEvent) { e.IdempotencyKey = "incident:i1:outage" }, "idempotency_key"},
		{"long source", func(e *NewEvent) { e.Source = strings.Repeat("s", 65) }, "source"},
		{"invalid UTF-8 source", func(e *NewEvent) { e.Source = "crm\xff" }, "source"},
		{"NUL in source", func(e *NewEvent) { e.Source = "crm\x00" }, "source"},
		{"long note", func(e *NewEvent) { e.Note = strings.Repeat("n", 1025) }, "note"},
		{"invalid UTF-8 note", func(e *NewEvent) { e.Note = "\xfe\xff" }, "note"},
		{"too many attributes", func(e *NewEvent) { e.Attributes = manyAttrs(33) }, "attributes"},
		{"empty attribute key", func(e *NewEvent) { e.Attributes = map[string]string{"": "v"} }, "attributes"},
		{"invalid UTF-8 attribute value", func(e *NewEvent) { e.Attributes = map[string]string{"k": "v\xff"} }, `attributes["k"]`},
		{"long attribute value", func(e *NewEvent) { e.Attributes = map[string]string{"k": strings.Repeat("v", 257)} }, `attributes["k"]`},
		{"long attribute key", func(e *NewEvent) { e.Attributes = map[string]string{strings.Repeat("k", 65): "v"} }, `attributes["` + strings.Repeat("k", 65) + `"]`},
		{"invalid UTF-8 attribute key", func(e *NewEvent) { e.Attributes = map[string]string{"k\xff": "v"} }, `attributes["k\xff"]`},
		{"NUL in attribute value", func(e *NewEvent) { e.Attributes = map[string]string{"k": "\x00"} }, `attributes["k"]`},
	}
	for _, prefix := range []string{"event.", "events[3]."} {
		for _, tt := range tests {
			t.Run(prefix+tt.name, func(t *testing.T) {
				t.Parallel()
				e := valid()
				tt.edit(&e)
				err := l.checkNewEvent(prefix, e, now)
				if tt.field == "" {
					if err != nil {
						t.Fatalf("checkNewEvent = %v, want nil", err)
					}
					return
				}
				wantInvalid(t, err, prefix+tt.field)
			})
		}
	}
}

func TestCheckNewEventReversalMessage(t *testing.T) {
	t.Parallel()
	l := Limits{}.WithDefaults()
	err := l.checkNewEvent("event.", NewEvent{CustomerID: "c", Kind: KindReversal}, time.Now())
	wantInvalid(t, err, "event.kind")
	if err != nil && !strings.Contains(err.Error(), "ReverseEvent") {
		t.Errorf("err = %q, want it to point at ReverseEvent", err)
	}
}

func TestCheckNewEventCustomLimits(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	l := Limits{MaxMagnitude: 10, MaxFutureSkew: time.Hour, MaxNoteLength: 3}.WithDefaults()
	mag := 11.0
	wantInvalid(t, l.checkNewEvent("event.", NewEvent{CustomerID: "c", Kind: KindCredit, Magnitude: &mag}, now), "event.magnitude")
	if err := l.checkNewEvent("event.", NewEvent{CustomerID: "c", Kind: KindCredit, OccurredAt: now.Add(59 * time.Minute)}, now); err != nil {
		t.Errorf("within a one-hour skew: %v", err)
	}
	wantInvalid(t, l.checkNewEvent("event.", NewEvent{CustomerID: "c", Kind: KindCredit, Note: "abcd"}, now), "event.note")
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    Cursor
		want Cursor // zero means c itself
	}{
		{"uuid id", Cursor{OccurredAt: time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC), EventID: "0190b6a2-7c1e-7b3a-9f00-123456789abc"}, Cursor{}},
		{"id with dots and colons", Cursor{OccurredAt: t0, EventID: "a.b:c@d-e_f.1"}, Cursor{}},
		{"id of 128 characters", Cursor{OccurredAt: t0, EventID: strings.Repeat("x", 128)}, Cursor{}},
		{"unix epoch", Cursor{OccurredAt: time.Unix(0, 0).UTC(), EventID: "e"}, Cursor{}},
		{"latest allowed", Cursor{OccurredAt: cursorLatest, EventID: "e"}, Cursor{}},
		{"non-UTC zone comes back as UTC", Cursor{OccurredAt: t0.In(time.FixedZone("X", 3600)), EventID: "e"}, Cursor{OccurredAt: t0, EventID: "e"}},
		{"nanoseconds truncate to microseconds", Cursor{OccurredAt: t0.Add(1999 * time.Nanosecond), EventID: "e"}, Cursor{OccurredAt: t0.Add(time.Microsecond), EventID: "e"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := tt.want
			if want == (Cursor{}) {
				want = tt.c
			}
			tok := encodeCursor(tt.c)
			if strings.ContainsAny(tok, "+/=") {
				t.Errorf("token %q is not URL-safe unpadded base64", tok)
			}
			got, err := decodeCursor(tok, 128, cursorLatest)
			if err != nil {
				t.Fatalf("decodeCursor(%q, 128) = %v", tok, err)
			}
			if !got.OccurredAt.Equal(want.OccurredAt) || got.OccurredAt.Location() != time.UTC || got.EventID != want.EventID {
				t.Errorf("round trip = %v %q, want %v %q", got.OccurredAt, got.EventID, want.OccurredAt, want.EventID)
			}
			if again := encodeCursor(got); again != encodeCursor(want) {
				t.Errorf("re-encoded token %q, want %q", again, encodeCursor(want))
			}
		})
	}
}

// cursorLatest stands for "now plus the future skew" in cursor tests.
var cursorLatest = time.Date(2026, 12, 1, 12, 5, 0, 0, time.UTC)

func TestDecodeCursorGarbage(t *testing.T) {
	t.Parallel()
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name string
		tok  string
	}{
		{"empty", ""},
		{"not base64", "!!!"},
		{"padded base64", base64.URLEncoding.EncodeToString([]byte("1.e1"))},
		{"standard-alphabet characters", b64("1740830400000000.e1") + "+/"},
		{"no separator", b64("1740830400000000")},
		{"empty id", b64("1740830400000000.")},
		{"empty time", b64(".e1")},
		{"time not a number", b64("yesterday.e1")},
		{"time in exponent form", b64("1e6.e1")},
		{"time overflows int64", b64("99999999999999999999.e1")},
		{"id with a space", b64("1740830400000000.e 1")},
		{"id with a slash", b64("1740830400000000.e/1")},
		{"id too long", b64("1740830400000000." + strings.Repeat("x", 129))},
		{"id with invalid UTF-8", b64("1740830400000000.e\xff")},
		{"plain event id", "0190b6a2-7c1e-7b3a-9f00-123456789abc"},
		// Times no event of this server can have: forged, and out of every
		// database's range (PostgreSQL answered SQLSTATE 22008).
		{"before 1970", b64("-1.e1")},
		{"minimum int64", b64("-9223372036854775808.e1")},
		{"maximum int64", b64("9223372036854775807.e1")},
		{"after the latest possible event", b64(strconv.FormatInt(cursorLatest.UnixMicro()+1, 10) + ".e1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := decodeCursor(tt.tok, 128, cursorLatest)
			wantInvalid(t, err, "page_token")
			if c != (Cursor{}) {
				t.Errorf("decodeCursor returned %+v with an error, want the zero Cursor", c)
			}
		})
	}
}

func TestPageSize(t *testing.T) {
	t.Parallel()
	l := Limits{}.WithDefaults()
	for _, tt := range []struct {
		in, want int
		bad      bool
	}{{0, 50, false}, {1, 1, false}, {1000, 1000, false}, {-1, 0, true}, {1001, 0, true}} {
		got, err := l.pageSize(tt.in)
		if tt.bad {
			wantInvalid(t, err, "page_size")
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("pageSize(%d) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}
