package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

func TestSparkline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []float64
		want   string
	}{
		{"rising", []float64{0, 1, 2, 3, 4, 5, 6, 7}, "▁▂▃▄▅▆▇█"},
		{"negative and positive", []float64{-36, 0, 14}, "▁▆█"},
		{"flat is mid height", []float64{5, 5, 5}, "▄▄▄"},
		{"one point", []float64{-2}, "▄"},
		{"not a number is a gap", []float64{0, math.NaN(), 10}, "▁ █"},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		if got := sparkline(tt.values); got != tt.want {
			t.Errorf("%s: sparkline(%v) = %q, want %q", tt.name, tt.values, got, tt.want)
		}
	}
}

func TestParseKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want goodwillv1.EventKind
		ok   bool
	}{
		{"outage", goodwillv1.EventKind_EVENT_KIND_OUTAGE, true},
		{"OUTAGE", goodwillv1.EventKind_EVENT_KIND_OUTAGE, true},
		{"EVENT_KIND_OUTAGE", goodwillv1.EventKind_EVENT_KIND_OUTAGE, true},
		{"event_kind_reliable_delivery", goodwillv1.EventKind_EVENT_KIND_RELIABLE_DELIVERY, true},
		{"broken-promise", goodwillv1.EventKind_EVENT_KIND_BROKEN_PROMISE, true},
		{" Credit ", goodwillv1.EventKind_EVENT_KIND_CREDIT, true},
		{"unspecified", 0, false},
		{"reversal", 0, false}, // only ReverseEvent writes one
		{"praise", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := parseKind(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseKind(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && exitCode(err) != exitUsage {
			t.Errorf("parseKind(%q): exit code %d, want %d", tt.in, exitCode(err), exitUsage)
		}
	}
	if k, err := parseAnyKind("reversal"); err != nil || k != goodwillv1.EventKind_EVENT_KIND_REVERSAL {
		t.Errorf("parseAnyKind(reversal) = %v, %v", k, err)
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-11-19T10:30:00Z", time.Date(2026, 11, 19, 10, 30, 0, 0, time.UTC), true},
		{"2026-11-19T11:30:00+01:00", time.Date(2026, 11, 19, 10, 30, 0, 0, time.UTC), true},
		{"2026-06-30", time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC), true},
		{"now", now, true},
		{"-30d", now.Add(-30 * 24 * time.Hour), true},
		{"-1w2d", now.Add(-9 * 24 * time.Hour), true},
		{"-1d12h", now.Add(-36 * time.Hour), true},
		{"+90m", now.Add(90 * time.Minute), true},
		{"yesterday", time.Time{}, false},
		{"-3x", time.Time{}, false},
		{"30d", time.Time{}, false}, // an offset needs its sign
	}
	for _, tt := range tests {
		got, err := parseTime("at", tt.in, now)
		if (err == nil) != tt.ok {
			t.Errorf("parseTime(%q): err %v, want ok %v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && !got.AsTime().Equal(tt.want) {
			t.Errorf("parseTime(%q) = %v, want %v", tt.in, got.AsTime(), tt.want)
		}
	}
	if ts, err := parseTime("at", "", now); ts != nil || err != nil {
		t.Errorf("parseTime(\"\") = %v, %v; want nothing", ts, err)
	}
}

// Tables round and shorten for people; CSV keeps what programs need.
func TestCells(t *testing.T) {
	t.Parallel()
	v := 15.831316201153864
	s := section{header: []string{"KIND", "BALANCE", "WHEN"}, rows: [][]any{{
		goodwillv1.BalanceStatus_BALANCE_STATUS_OVERDRAWN, v, nil,
	}}}
	var table, csvOut bytes.Buffer
	if err := writeTable(&table, []section{s}); err != nil {
		t.Fatal(err)
	}
	if err := writeCSV(&csvOut, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "OVERDRAWN  15.83") || strings.Contains(table.String(), "BALANCE_STATUS") {
		t.Errorf("table:\n%s", table.String())
	}
	if csvOut.String() != "kind,balance,when\nBALANCE_STATUS_OVERDRAWN,15.831316201153864,\n" {
		t.Errorf("CSV:\n%s", csvOut.String())
	}
	// Output that is not a terminal gets JSON.
	if f := defaultFormat(&table); f != formatJSON {
		t.Errorf("defaultFormat(buffer) = %s", f)
	}
}
