package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

func joinComma(s []string) string { return strings.Join(s, ", ") }

// csvOnly marks columns as shown in CSV only.
func csvOnly(cols ...int) map[int]string {
	m := make(map[int]string, len(cols))
	for _, c := range cols {
		m[c] = formatCSV
	}
	return m
}

// tableOnly marks columns as shown in tables only.
func tableOnly(cols ...int) map[int]string {
	m := make(map[int]string, len(cols))
	for _, c := range cols {
		m[c] = formatTable
	}
	return m
}

// morePages is the note under a page that is not the last.
func morePages(token string) []string {
	if token == "" {
		return nil
	}
	return []string{"more: add --page-token " + token + " (or --all)"}
}

// warn writes a warning to stderr.
func (a *app) warn(format string, args ...any) {
	fmt.Fprintf(a.stderr, "goodwill: warning: "+format+"\n", args...)
}

// terminal reports whether w is a terminal (where a progress line that
// rewrites itself belongs).
func terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
