package ledger

import (
	"testing"
	"time"
)

// FuzzEventFingerprint fuzzes the idempotency fingerprint of an event as
// RecordEvent computes it (Service.event): it never panics, is a
// deterministic 32-hex-digit string, is equal for equal requests (whatever
// the map order, the server's clock or the generated id), and changes when
// any field the client sent changes.
func FuzzEventFingerprint(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzEventFingerprint.
	f.Fuzz(func(t *testing.T, kind uint8, mag float64, hasMag bool, atMicros int64, hasAt bool,
		key, source, note, attrKey, attrVal string) {
		ids := 0
		s := NewService(nil, Options{
			GroupCommit: GroupCommit{Disabled: true},
			NewID:       func() string { ids++; return string(rune('a' + ids%26)) },
		})
		ne := NewEvent{CustomerID: "c1", Kind: Kind(kind % 10), IdempotencyKey: key, Source: source, Note: note}
		if hasMag {
			ne.Magnitude = &mag
		}
		if hasAt {
			ne.OccurredAt = time.UnixMicro(atMicros)
		}
		if attrKey != "" || attrVal != "" {
			ne.Attributes = map[string]string{attrKey: attrVal, "zz-" + attrKey: attrVal, "aa": attrKey}
		}
		now1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		now2 := now1.Add(time.Hour)
		fp := s.event(DefaultTenant, ne, now1).Fingerprint
		if len(fp) != 32 {
			t.Fatalf("fingerprint %q: want 32 hex digits", fp)
		}
		// Deterministic: the same request at another moment (occurred_at
		// defaulted or not), with another id and a copied map.
		again := ne
		if ne.Attributes != nil {
			again.Attributes = make(map[string]string, len(ne.Attributes))
			for k, v := range ne.Attributes {
				again.Attributes[k] = v
			}
		}
		if got := s.event(DefaultTenant, again, now2).Fingerprint; got != fp {
			t.Fatalf("same request, fingerprints %q and %q", fp, got)
		}

		// Each change of a field the client sent changes the fingerprint
		// (the idempotency key is not hashed: it is what the fingerprint is
		// stored under).
		changes := map[string]func(e *NewEvent){
			"kind":   func(e *NewEvent) { e.Kind = Kind((kind + 1) % 10) },
			"source": func(e *NewEvent) { e.Source += "x" },
			"note":   func(e *NewEvent) { e.Note += "x" },
			"attributes": func(e *NewEvent) {
				m := map[string]string{"added": "1"}
				for k, v := range e.Attributes {
					m[k] = v
				}
				if _, had := e.Attributes["added"]; had {
					m["added"] += "1"
				}
				e.Attributes = m
			},
			"magnitude": func(e *NewEvent) {
				m := 7.0 // absent means 1; NaN prints as "NaN"
				if hasMag && mag == 7 {
					m = 8
				}
				e.Magnitude = &m
			},
			"occurred_at": func(e *NewEvent) {
				if hasAt {
					e.OccurredAt = e.OccurredAt.Add(time.Microsecond)
				} else {
					e.OccurredAt = now1
				}
			},
		}
		for name, change := range changes {
			if name == "kind" && Kind(kind%10) == Kind((kind+1)%10) {
				continue
			}
			changed := again
			change(&changed)
			if got := s.event(DefaultTenant, changed, now1).Fingerprint; got == fp {
				t.Errorf("changing %s left the fingerprint at %q", name, fp)
			}
		}
	})
}
