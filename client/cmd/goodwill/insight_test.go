package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goodwill policy simulate: a draft from policy get -o json, one weight
// changed, moves an engaged customer onto RECOVERY in the result, as JSON
// and as tables; nothing is installed.
func TestPolicySimulate(t *testing.T) {
	for i := range 3 {
		gw(t, "record", "sim-eli", "engagement", "--magnitude", "2", "--at", fmt.Sprintf("-%dh", i+1)).ok(t)
	}
	var pol map[string]any
	gw(t, "-o", "json", "policy", "get").ok(t).decode(t, &pol)
	active := pol["activeVersion"]
	pol["policy"].(map[string]any)["weights"].(map[string]any)["EVENT_KIND_ENGAGEMENT"] = -3
	raw, err := json.Marshal(pol)
	if err != nil {
		t.Fatal(err)
	}
	draft := filepath.Join(t.TempDir(), "draft.json")
	if err := os.WriteFile(draft, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Simulation struct {
			State  string `json:"state"`
			Result struct {
				Recovery struct {
					Entered []struct {
						CustomerID string `json:"customerId"`
					} `json:"entered"`
				} `json:"recovery"`
			} `json:"result"`
		} `json:"simulation"`
	}
	gw(t, "-o", "json", "policy", "simulate", draft).ok(t).decode(t, &got)
	entered := false
	for _, e := range got.Simulation.Result.Recovery.Entered {
		entered = entered || e.CustomerID == "sim-eli"
	}
	if got.Simulation.State != "JOB_STATE_SUCCEEDED" || !entered {
		t.Errorf("simulation: %+v", got.Simulation)
	}
	table := gw(t, "-o", "table", "policy", "simulate", draft).ok(t)
	for _, want := range []string{"Biggest movers", "sim-eli", "RECOVERY", "(all)"} {
		if !strings.Contains(table.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, table.stdout)
		}
	}
	gw(t, "-o", "json", "policy", "get").ok(t).decode(t, &pol)
	if pol["activeVersion"] != active {
		t.Errorf("active version %v after simulating, was %v", pol["activeVersion"], active)
	}
	if r := gw(t, "policy", "simulation", "no-such-simulation"); r.code != exitNotFound {
		t.Errorf("an unknown simulation: exit %d, %s", r.code, r.stderr)
	}
}

// goodwill trend: a backfill of two days, then the series as JSON and as a
// table with its sparklines; a backfill without days is a usage error.
func TestTrend(t *testing.T) {
	today := time.Now().UTC().Truncate(24 * time.Hour)
	day := func(n int) string { return today.AddDate(0, 0, n).Format(time.DateOnly) }
	gw(t, "record", "trend-ann", "outage", "--at", today.AddDate(0, 0, -2).Add(time.Hour).Format(time.RFC3339)).ok(t)
	gw(t, "trend", "snapshot", "--from", day(-2), "--to", day(-1)).ok(t)
	var got struct {
		Points []struct {
			Day       string `json:"day"`
			Overdrawn string `json:"overdrawn"`
		} `json:"points"`
	}
	gw(t, "-o", "json", "trend", "--from", day(-2), "--to", day(-1)).ok(t).decode(t, &got)
	if len(got.Points) != 2 || got.Points[0].Day != day(-2) || got.Points[0].Overdrawn == "" {
		t.Errorf("trend: %+v", got)
	}
	table := gw(t, "-o", "table", "trend", "--from", day(-2), "--to", day(-1)).ok(t)
	if !strings.Contains(table.stdout, day(-1)) || !strings.Contains(table.stderr, "mean") {
		t.Errorf("table:\n%s\n%s", table.stdout, table.stderr)
	}
	if r := gw(t, "trend", "snapshot"); r.code != exitUsage {
		t.Errorf("a snapshot without days: exit %d, %s", r.code, r.stderr)
	}
}
