package main

import (
	"strings"
	"testing"
)

func TestCompletion(t *testing.T) {
	t.Parallel()
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		if out := gwRaw(t, "completion", shell).ok(t).stdout; !strings.Contains(out, "goodwill") {
			t.Errorf("completion %s printed no script", shell)
		}
	}
	tests := []struct {
		name string
		args []string
		want []string
		not  []string
	}{
		{"the kind after the customer", []string{"record", "c1", ""}, []string{"outage", "broken_promise"}, []string{"reversal"}},
		{"kinds to filter by", []string{"events", "list", "c1", "--kind", ""}, []string{"reversal", "credit"}, nil},
		{"outreach lists", []string{"outreach", "--list", ""}, []string{"recovery", "advocacy"}, nil},
		{"statuses", []string{"balances", "list", "--status", ""}, []string{"healthy", "overdrawn"}, nil},
		{"formats", []string{"whoami", "-o", ""}, []string{"table", "json", "csv"}, nil},
		{"notification types", []string{"notifications", "list", "--type", ""}, []string{"customer.overdrawn"}, nil},
	}
	for _, tt := range tests {
		out := gwRaw(t, append([]string{"__complete"}, tt.args...)...).ok(t).stdout
		words := strings.Fields(out)
		for _, w := range tt.want {
			if !contains(words, w) {
				t.Errorf("%s: %q not offered in %q", tt.name, w, words)
			}
		}
		for _, w := range tt.not {
			if contains(words, w) {
				t.Errorf("%s: %q offered", tt.name, w)
			}
		}
	}
	// Segments come from the server.
	gw(t, "customer", "put", "cmp1", "--segment", "completion-seg").ok(t)
	out := gw(t, "__complete", "balances", "list", "--segment", "").ok(t).stdout
	if !strings.Contains(out, "completion-seg") {
		t.Errorf("segments offered: %q", out)
	}
}

func contains(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}
