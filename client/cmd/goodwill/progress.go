package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress is how far a bulk command has come: bytes of its file (read or
// written) and rows.
type progress struct{ bytes, rows int64 }

// Progress modes (--progress).
const (
	progressBar   = "bar"
	progressLines = "lines"
	progressNone  = "none"
)

// progressMode settles --progress: auto is a bar when stderr is a
// terminal and a plain line every few seconds otherwise (a log file, CI).
func progressMode(s string, stderr io.Writer) (string, error) {
	switch s {
	case progressBar, progressLines, progressNone:
		return s, nil
	case "auto", "":
		if f, ok := stderr.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				return progressBar, nil
			}
		}
		return progressLines, nil
	}
	return "", usagef("--progress %q: one of auto, bar, lines, none", s)
}

// progressLineEvery is how often the lines mode reports.
var progressLineEvery = 5 * time.Second

// showProgress reports poll's progress on w until the returned stop is
// called: a bar over the file's bytes (total; -1 when unknown, a spinner)
// with rows and rows/s, or plain lines. stop prints the last state.
func showProgress(w io.Writer, mode string, total int64, poll func() progress) (stop func()) {
	if mode == progressNone {
		return func() {}
	}
	start := time.Now()
	describe := func(p progress) string {
		rate := float64(p.rows) / max(time.Since(start).Seconds(), 1e-3)
		return fmt.Sprintf("%d rows (%.0f rows/s)", p.rows, rate)
	}
	var report func(final bool)
	every := progressLineEvery
	switch mode {
	case progressBar:
		bar := progressbar.NewOptions64(total, progressbar.OptionSetWriter(w), progressbar.OptionShowBytes(true),
			progressbar.OptionSetPredictTime(true), progressbar.OptionSetElapsedTime(true), progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionSpinnerType(14), progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
		every = 200 * time.Millisecond
		report = func(final bool) {
			p := poll()
			bar.Describe(describe(p))
			_ = bar.Set64(p.bytes)
			if final {
				_ = bar.Finish()
			}
		}
	default:
		report = func(final bool) {
			p := poll()
			of := ""
			if total > 0 {
				of = fmt.Sprintf(" of %d (%.0f%%)", total, 100*float64(p.bytes)/float64(total))
			}
			fmt.Fprintf(w, "goodwill: %s, %d bytes%s, %s\n", describe(p), p.bytes, of, time.Since(start).Round(time.Second))
		}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				report(false)
			}
		}
	})
	return func() {
		close(quit)
		wg.Wait()
		report(true)
	}
}
