package main

import (
	"strings"
	"testing"
)

// goodwill plan: the ways back for an overdrawn customer in a table and
// as JSON, an assumed response making the rest smaller, and a malformed
// --assume as a usage error.
func TestPlan(t *testing.T) {
	gw(t, "record", "plan-dana", "outage", "--magnitude", "3", "--at", "-2h").ok(t)
	table := gw(t, "-o", "table", "plan", "plan-dana").ok(t)
	for _, want := range []string{"overdrawn by", "a credit of", "Ways back", "credit", "hollow"} {
		if !strings.Contains(table.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, table.stdout)
		}
	}
	var plain, after struct {
		Needed  float64 `json:"needed"`
		Options []struct {
			Kind string `json:"kind"`
		} `json:"options"`
	}
	gw(t, "-o", "json", "plan", "plan-dana").ok(t).decode(t, &plain)
	gw(t, "-o", "json", "plan", "plan-dana", "--assume", "response=1").ok(t).decode(t, &after)
	if plain.Needed <= 0 || len(plain.Options) == 0 || after.Needed >= plain.Needed {
		t.Errorf("needed %v with %d options, %v after a response", plain.Needed, len(plain.Options), after.Needed)
	}
	if r := gw(t, "plan", "plan-dana", "--assume", "credit=lots"); r.code != exitUsage || !strings.Contains(r.stderr, "lots") {
		t.Errorf("a bad --assume: exit %d, %s", r.code, r.stderr)
	}
}
