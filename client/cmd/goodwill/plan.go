package main

import (
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

func newPlanCmd(a *app) *cobra.Command {
	var assume []string
	cmd := &cobra.Command{
		Use:   "plan CUSTOMER",
		Short: "What it would take to win an overdrawn customer back (PlanRecovery)",
		Long: `Show, for an overdrawn customer, the smallest gesture of each kind that
brings the balance back to its limit now (one event of that size, or that
many events of magnitude 1), the factor the context rules give it now (a
credit to an overdrawn customer counts a quarter under the default policy),
and when time alone would. --assume KIND=MAGNITUDE (repeatable) takes
gestures as recorded first: "a response now, then what?". Nothing is
written.`,
		Example: `  goodwill plan dana
  goodwill plan dana --assume response=1`,
		GroupID: "balances",
		Args:    nargs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &goodwillv1.PlanRecoveryRequest{CustomerId: args[0]}
			for _, g := range assume {
				name, mag, ok := strings.Cut(g, "=")
				if !ok {
					mag = "1"
				}
				kind, err := parseKind(name)
				if err != nil {
					return err
				}
				m, err := strconv.ParseFloat(mag, 64)
				if err != nil {
					return usagef("--assume %q: the magnitude %q is not a number", g, mag)
				}
				req.Assume = append(req.Assume, &goodwillv1.Gesture{Kind: kind, Magnitude: m})
			}
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.PlanRecovery(cmd.Context(), req)
			if err != nil {
				return err
			}
			return a.show(planView(resp))
		},
	}
	cmd.Flags().StringArrayVar(&assume, "assume", nil, "a gesture taken as recorded first, KIND=MAGNITUDE (repeatable)")
	return cmd
}

func planView(r *goodwillv1.PlanRecoveryResponse) view {
	b := r.GetBalance()
	head := section{
		title:  r.GetSummary(),
		header: []string{"CUSTOMER", "BALANCE", "LIMIT", "STATUS", "NEEDED", "RECOVERS BY TIME AT"},
		rows:   [][]any{{b.GetCustomerId(), b.GetBalance(), b.GetOverdraftLimit(), b.GetStatus(), r.GetNeeded(), r.GetRecoversAt()}},
		record: true,
	}
	opts := section{title: "Ways back (each alone):", header: []string{"KIND", "ONE EVENT OF", "OR EVENTS OF 1", "FACTOR NOW", "RULE"}}
	for _, o := range r.GetOptions() {
		opts.rows = append(opts.rows, []any{o.GetKind(), o.GetMagnitude(), o.GetEvents(), o.GetFactor(), o.GetRule()})
	}
	return view{msg: r, sections: []section{head, opts}, csv: 1}
}
