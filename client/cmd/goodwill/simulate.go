package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// newSimulateCmd is policy simulate: a draft policy valued against the
// active one, without installing it.
func newSimulateCmd(a *app) *cobra.Command {
	var (
		stale, noWait bool
		poll          time.Duration
	)
	cmd := &cobra.Command{
		Use:   "simulate FILE",
		Short: "What a draft policy would change, without installing it (SimulatePolicy)",
		Long: `Value every customer under the active policy and under the draft in FILE
(- for stdin; what policy get -o json prints, edited), from one snapshot,
and show how the outreach lists would change (who enters and leaves
RECOVERY and ADVOCACY), the biggest movers, and the summary table under
both. Nothing is installed or written. It waits for the job, showing its
progress on stderr; --no-wait prints the simulation's id, for
policy simulation ID later (on the same server: simulations live an hour in
the memory of the server that ran them).`,
		Example: `  goodwill policy get -o json | jq '.policy.weights.EVENT_KIND_OUTAGE = -24' > draft.json
  goodwill policy simulate draft.json
  goodwill policy simulate draft.json -o json | jq '.simulation.result.recovery'`,
		Args: nargs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := readPolicy(args[0], cmd.InOrStdin())
			if err != nil {
				return err
			}
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			started, err := c.SimulatePolicy(cmd.Context(), &goodwillv1.SimulatePolicyRequest{Policy: p, AllowStale: stale})
			if err != nil {
				return err
			}
			sim := started.GetSimulation()
			if noWait {
				return a.show(view{msg: started, sections: []section{simulationSection(sim)},
					notes: []string{"follow it with: goodwill policy simulation " + sim.GetSimulationId()}})
			}
			for sim.GetState() == goodwillv1.JobState_JOB_STATE_RUNNING {
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(poll):
				}
				got, err := c.GetSimulation(cmd.Context(), &goodwillv1.GetSimulationRequest{SimulationId: sim.GetSimulationId()})
				if err != nil {
					return err
				}
				sim = got.GetSimulation()
				if terminal(a.stderr) {
					fmt.Fprintf(a.stderr, "\rsimulating: %d of %d customers", sim.GetCustomersDone(), sim.GetCustomersTotal())
				}
			}
			if terminal(a.stderr) {
				fmt.Fprintln(a.stderr)
			}
			return a.show(simulationView(&goodwillv1.GetSimulationResponse{Simulation: sim}))
		},
	}
	cmd.Flags().BoolVar(&stale, "stale", false, "allow a snapshot a few seconds old (a follower read on CockroachDB)")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "start the simulation and print its id")
	cmd.Flags().DurationVar(&poll, "poll", 250*time.Millisecond, "how often to ask for progress")
	cmd.ValidArgsFunction = func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return []string{"json"}, cobra.ShellCompDirectiveFilterFileExt
	}
	return cmd
}

func newSimulationCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "simulation SIMULATION_ID",
		Short: "Show a policy simulation's progress or result (GetSimulation)",
		Args:  nargs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.GetSimulation(cmd.Context(), &goodwillv1.GetSimulationRequest{SimulationId: args[0]})
			if err != nil {
				return err
			}
			return a.show(simulationView(resp))
		},
	}
}

func simulationSection(s *goodwillv1.Simulation) section {
	return section{
		header: []string{"SIMULATION ID", "STATE", "CUSTOMERS DONE", "CUSTOMERS TOTAL", "SNAPSHOT TIME", "STALE", "DRAFT VERSION", "ERROR"},
		rows: [][]any{{s.GetSimulationId(), s.GetState(), s.GetCustomersDone(), s.GetCustomersTotal(), s.GetSnapshotTime(),
			s.GetStale(), s.GetDraft().GetVersion(), s.GetError()}},
		record: true,
	}
}

// simulationView shows the job, then (once it succeeded) the lists'
// changes, the movers, and the summary under both policies; -o csv writes
// the movers.
func simulationView(resp *goodwillv1.GetSimulationResponse) view {
	s := resp.GetSimulation()
	v := view{msg: resp, sections: []section{simulationSection(s)}}
	r := s.GetResult()
	if r == nil {
		return v
	}
	lists := section{title: "Outreach lists, now → under the draft:",
		header: []string{"LIST", "NOW", "DRAFT", "ENTER", "LEAVE", "ENTERING (FIRST 5)", "LEAVING (FIRST 5)"}}
	for _, l := range []struct {
		name string
		c    *goodwillv1.ListChange
	}{{"RECOVERY", r.GetRecovery()}, {"ADVOCACY", r.GetAdvocacy()}} {
		lists.rows = append(lists.rows, []any{l.name, l.c.GetBefore(), l.c.GetAfter(), l.c.GetEnteredCount(), l.c.GetLeftCount(),
			firstIDs(l.c.GetEntered(), 5), firstIDs(l.c.GetLeft(), 5)})
	}
	movers := section{title: "Biggest movers:", header: []string{"CUSTOMER", "SEGMENT", "NOW", "STATUS NOW", "DRAFT", "STATUS DRAFT", "CHANGE"}}
	for _, m := range r.GetMovers() {
		movers.rows = append(movers.rows, []any{m.GetCustomerId(), m.GetSegment(), m.GetBefore().GetBalance(),
			m.GetBefore().GetStatus(), m.GetAfter().GetBalance(), m.GetAfter().GetStatus(), m.GetDelta()})
	}
	summary := section{title: fmt.Sprintf("Summary, version %d → draft (version %d):", r.GetActivePolicyVersion(), s.GetDraft().GetVersion()),
		header: []string{"SEGMENT", "CUSTOMERS", "OVERDRAWN NOW", "OVERDRAWN DRAFT", "MEAN NOW", "MEAN DRAFT", "P50 NOW", "P50 DRAFT", "AT RISK NOW", "AT RISK DRAFT"}}
	after := r.GetSummaryAfter()
	for i, b := range r.GetSummaryBefore() {
		if i >= len(after) {
			break
		}
		d := after[i]
		summary.rows = append(summary.rows, []any{segmentLabel(b), b.GetCustomers(), b.GetOverdrawn(), d.GetOverdrawn(),
			b.GetMean(), d.GetMean(), b.GetP50(), d.GetP50(), b.GetValueAtRisk(), d.GetValueAtRisk()})
	}
	v.sections = append(v.sections, lists, movers, summary)
	v.csv = 2
	return v
}

func firstIDs(ms []*goodwillv1.SimulatedMove, n int) string {
	out := ""
	for i, m := range ms {
		if i == n {
			return out + ", …"
		}
		if i > 0 {
			out += ", "
		}
		out += m.GetCustomerId()
	}
	return out
}
