package main

import (
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// Parsing of the values people type in flags: times, durations with days,
// k=v attributes. Their errors are usage errors (exit 2).

// parseTime reads a moment: RFC 3339 ("2026-11-20T14:00:00Z"), a date
// ("2026-11-20", midnight UTC), "now", or an offset from now ("-30d",
// "-2h", "+90m"). now is passed in so one command's times agree.
func parseTime(flag, s string, now time.Time) (*timestamppb.Timestamp, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, nil
	case strings.EqualFold(s, "now"):
		return timestamppb.New(now), nil
	case s[0] == '-' || s[0] == '+':
		d, err := parseDuration(s[1:])
		if err != nil {
			break
		}
		if s[0] == '-' {
			d = -d
		}
		return timestamppb.New(now.Add(d)), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return timestamppb.New(t), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return timestamppb.New(t), nil
	}
	return nil, usagef("--%s %q: not a time: give RFC 3339 (2026-11-20T14:00:00Z), a date (2026-11-20), now, or an offset from now (-30d, -2h)", flag, s)
}

// parseDuration is time.ParseDuration plus whole days and weeks ("30d",
// "2w", "1d12h").
func parseDuration(s string) (time.Duration, error) {
	var total time.Duration
	rest := s
	for _, u := range []struct {
		suffix byte
		unit   time.Duration
	}{{'w', 7 * 24 * time.Hour}, {'d', 24 * time.Hour}} {
		i := strings.IndexByte(rest, u.suffix)
		if i < 0 {
			continue
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n < 0 {
			return 0, usagef("%q is not a duration such as 30d, 6h or 90m", s)
		}
		total += time.Duration(n) * u.unit
		rest = rest[i+1:]
	}
	if rest == "" {
		if total == 0 && s == "" {
			return 0, usagef("empty duration")
		}
		return total, nil
	}
	d, err := time.ParseDuration(rest)
	if err != nil || d < 0 {
		return 0, usagef("%q is not a duration such as 30d, 6h or 90m", s)
	}
	return total + d, nil
}

// parseAttrs reads repeated k=v flags into a map; a key given twice is a
// mistake worth saying.
func parseAttrs(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("--%s %q: want key=value", flag, kv)
		}
		if _, dup := out[k]; dup {
			return nil, usagef("--%s: key %q given twice", flag, k)
		}
		out[k] = v
	}
	return out, nil
}
