package main

import (
	"github.com/spf13/cobra"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

func newTrendCmd(a *app) *cobra.Command {
	var segment, from, to string
	var stale bool
	cmd := &cobra.Command{
		Use:   "trend",
		Short: "A segment's daily summary over time (GetBalanceTrend)",
		Long: `Show the daily snapshots of one segment's balances (--segment), or of
everyone's: customers, overdrawn, mean, percentiles and value at risk at the
end of each day (UTC), with a sparkline of the mean and of the overdrawn
count. --from and --to are days (YYYY-MM-DD, both included); the default is
the 30 days through yesterday. goodwilld takes each day's snapshot once the
day is over; trend snapshot backfills past days.`,
		Example: `  goodwill trend --segment gold --from 2026-10-01
  goodwill trend -o csv > trend.csv`,
		GroupID: "balances",
		Args:    nargs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.GetBalanceTrend(cmd.Context(), &goodwillv1.GetBalanceTrendRequest{Segment: segment, Start: from, End: to, AllowStale: stale})
			if err != nil {
				return err
			}
			return a.show(trendView(resp, segment))
		},
	}
	cmd.Flags().StringVar(&segment, "segment", "", "only this segment (default: everyone)")
	cmd.Flags().StringVar(&from, "from", "", "the first day, YYYY-MM-DD (default: 29 days before --to)")
	cmd.Flags().StringVar(&to, "to", "", "the last day, YYYY-MM-DD (default: yesterday)")
	cmd.Flags().BoolVar(&stale, "stale", false, "allow a snapshot a few seconds old (a follower read on CockroachDB)")
	_ = cmd.RegisterFlagCompletionFunc("segment", a.completeSegments)

	var sfrom, sto string
	snapshot := &cobra.Command{
		Use:   "snapshot --from DAY --to DAY",
		Short: "Take (or retake) the daily snapshots of past days by replaying (SnapshotTrend; admin)",
		Long: `Backfill the daily snapshots from --from to --to (YYYY-MM-DD, both included,
before today) under the active policy, replacing any taken before. It
replays every customer's history once per 8 days. A large tenant takes
longer than one call: the backfill then goes on in the server (DONE false)
and the same command again follows it.`,
		Example: "  goodwill trend snapshot --from 2026-09-01 --to 2026-11-30",
		Args:    nargs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sfrom == "" || sto == "" {
				return usagef("--from and --to are required")
			}
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.SnapshotTrend(cmd.Context(), &goodwillv1.SnapshotTrendRequest{Start: sfrom, End: sto})
			if err != nil {
				return err
			}
			v := view{msg: resp, sections: []section{{header: []string{"DAYS", "DONE"}, rows: [][]any{{resp.GetDays(), resp.GetDone()}}, record: true}}}
			if !resp.GetDone() {
				v.notes = []string{"the backfill goes on in the server: run the same command again to follow it"}
			}
			return a.show(v)
		},
	}
	snapshot.Flags().StringVar(&sfrom, "from", "", "the first day, YYYY-MM-DD")
	snapshot.Flags().StringVar(&sto, "to", "", "the last day, YYYY-MM-DD (before today)")
	cmd.AddCommand(snapshot)
	return cmd
}

func trendView(r *goodwillv1.GetBalanceTrendResponse, segment string) view {
	who := "everyone"
	if segment != "" {
		who = "segment " + segment
	}
	s := section{
		title:  who + ", " + r.GetStart() + " to " + r.GetEnd(),
		header: []string{"DAY", "CUSTOMERS", "OVERDRAWN", "MEAN", "P10", "P50", "P90", "VALUE AT RISK", "POLICY VERSION"},
	}
	var means, overdrawn []float64
	for _, p := range r.GetPoints() {
		s.rows = append(s.rows, []any{p.GetDay(), p.GetCustomers(), p.GetOverdrawn(), p.GetMean(), p.GetP10(), p.GetP50(),
			p.GetP90(), p.GetValueAtRisk(), p.GetPolicyVersion()})
		means = append(means, p.GetMean())
		overdrawn = append(overdrawn, float64(p.GetOverdrawn()))
	}
	v := view{msg: r, sections: []section{s}}
	if len(means) == 0 {
		v.notes = []string{"no snapshots in this range: goodwilld takes one a day; backfill with goodwill trend snapshot"}
	} else {
		v.notes = []string{"mean      " + sparkline(means), "overdrawn " + sparkline(overdrawn)}
	}
	return v
}
