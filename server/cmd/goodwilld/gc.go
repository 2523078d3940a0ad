package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// defaultGCPercent is goodwilld's garbage collection target: the heap may
// grow to five times what is live before a collection, against Go's
// default of twice. Measured on the single-event benchmark (PostgreSQL,
// 2026-12-01): server CPU per event from about 313 to 239 us, the
// collector's background work from 13% of the server's CPU to 2.4%, for a
// heap that may grow larger between collections (--memory-limit bounds it).
const defaultGCPercent = 400

// tuneGC applies --gc-percent and --memory-limit, unless the environment
// sets GOGC or GOMEMLIMIT, which win as for any Go program.
func tuneGC(percent int, limit string, log *slog.Logger) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
	if limit != "" && os.Getenv("GOMEMLIMIT") == "" {
		n, err := parseBytes(limit)
		if err != nil {
			return fmt.Errorf("--memory-limit: %w", err)
		}
		debug.SetMemoryLimit(n)
	}
	gc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gc)
	mem := debug.SetMemoryLimit(-1)
	memText := "none"
	if mem < 1<<62 {
		memText = strconv.FormatInt(mem>>20, 10) + "MiB"
	}
	log.Debug("garbage collector", "gogc", gc, "memory_limit", memText)
	return nil
}

// parseBytes reads a size as GOMEMLIMIT writes it: a number of bytes with
// an optional B, KiB, MiB, GiB or TiB suffix.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	num, shift := s, uint(0)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			num, shift = strings.TrimSuffix(s, u.suffix), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("%q: want a positive size such as 512MiB or 2GiB", s)
	}
	return n << shift, nil
}
