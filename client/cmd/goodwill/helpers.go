package main

import (
	"fmt"
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
