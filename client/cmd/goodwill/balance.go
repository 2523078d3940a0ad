package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

func newBalanceCmd(a *app) *cobra.Command {
	var asOf string
	cmd := &cobra.Command{
		Use:     "balance CUSTOMER",
		Short:   "Show a customer's trust balance, now or at --as-of (GetBalance)",
		Example: "  goodwill balance c1\n  goodwill balance c1 --as-of 2026-06-30",
		GroupID: "balances",
		Args:    nargs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &goodwillv1.GetBalanceRequest{CustomerId: args[0]}
			var err error
			if req.AsOf, err = parseTime("as-of", asOf, time.Now()); err != nil {
				return err
			}
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.GetBalance(cmd.Context(), req)
			if err != nil {
				return err
			}
			return a.show(view{msg: resp, sections: []section{balanceSection(resp.GetBalance())}})
		},
	}
	cmd.Flags().StringVar(&asOf, "as-of", "", "the moment to compute the balance for (default now)")
	return cmd
}

func balanceSection(b *goodwillv1.Balance) section {
	return section{
		header: []string{"CUSTOMER", "BALANCE", "STATUS", "OVERDRAFT LIMIT", "EVENTS", "POLICY VERSION", "AS OF"},
		rows: [][]any{{b.GetCustomerId(), b.GetBalance(), b.GetStatus(), b.GetOverdraftLimit(), b.GetEventCount(),
			b.GetPolicyVersion(), b.GetAsOf()}},
		record: true,
	}
}

func newExplainCmd(a *app) *cobra.Command {
	var (
		asOf string
		top  int32
	)
	cmd := &cobra.Command{
		Use:   "explain CUSTOMER",
		Short: "Why a balance is what it is, in words (ExplainBalance)",
		Long: `Explain a customer's balance in words: the points each kind of event
contributes now, and the events that weigh most, each with the rule that
shaped it. -o csv writes the top events.`,
		GroupID: "balances",
		Args:    nargs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &goodwillv1.ExplainBalanceRequest{CustomerId: args[0], Top: top}
			var err error
			if req.AsOf, err = parseTime("as-of", asOf, time.Now()); err != nil {
				return err
			}
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.ExplainBalance(cmd.Context(), req)
			if err != nil {
				return err
			}
			return a.show(explainView(resp))
		},
	}
	cmd.Flags().StringVar(&asOf, "as-of", "", "the moment to explain (default now)")
	cmd.Flags().Int32Var(&top, "top", 0, "how many events to list, heaviest first: 1 to 100 (default 5)")
	return cmd
}

func explainView(r *goodwillv1.ExplainBalanceResponse) view {
	kinds := section{title: r.GetSummary(), header: []string{"KIND", "EVENTS", "POINTS"}}
	for _, k := range r.GetContributions() {
		kinds.rows = append(kinds.rows, []any{k.GetKind(), k.GetEvents(), k.GetPoints()})
	}
	tops := section{
		title: "Events that weigh most:",
		header: []string{"OCCURRED AT", "KIND", "POINTS NOW", "EXPLANATION",
			"EVENT ID", "MAGNITUDE", "BASE POINTS", "FACTOR", "RULE", "POINTS WHEN RECORDED"},
		only: csvOnly(4, 5, 6, 7, 8, 9),
	}
	for _, t := range r.GetTopEvents() {
		e := t.GetEvent()
		tops.rows = append(tops.rows, []any{e.GetOccurredAt(), e.GetKind(), t.GetPointsNow(), t.GetExplanation(),
			e.GetEventId(), e.Magnitude, t.GetBasePoints(), t.GetFactor(), t.GetRule(), t.GetPointsWhenRecorded()})
	}
	return view{msg: r, sections: []section{kinds, tops}, csv: 1}
}

func newHistoryCmd(a *app) *cobra.Command {
	var start, end, step string
	cmd := &cobra.Command{
		Use:   "history CUSTOMER",
		Short: "A customer's balance over time, with a sparkline (GetBalanceHistory)",
		Long: `A customer's balance every --step from --start to --end (at most 1,000
points), replayed from the event log under the active policy. The table
draws the series as a sparkline.`,
		Example: "  goodwill history dana --start -30d --step 1d\n  goodwill history dana --start 2026-01-01 --end 2026-07-01 --step 1w -o csv",
		GroupID: "balances",
		Args:    nargs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			req := &goodwillv1.GetBalanceHistoryRequest{CustomerId: args[0]}
			var err error
			if req.Start, err = parseTime("start", start, now); err != nil {
				return err
			}
			if req.End, err = parseTime("end", end, now); err != nil {
				return err
			}
			d, err := parseDuration(step)
			if err != nil {
				return usagef("--step: %v", err)
			}
			req.Step = durationpb.New(d)
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.GetBalanceHistory(cmd.Context(), req)
			if err != nil {
				return err
			}
			return a.show(historyView(args[0], resp))
		},
	}
	f := cmd.Flags()
	f.StringVar(&start, "start", "-30d", "the first point")
	f.StringVar(&end, "end", "now", "no point is after this")
	f.StringVar(&step, "step", "1d", "the spacing of points: at least 1m (30d, 1w, 6h...)")
	return cmd
}

func historyView(customer string, r *goodwillv1.GetBalanceHistoryResponse) view {
	values := make([]float64, len(r.GetPoints()))
	for i, p := range r.GetPoints() {
		values[i] = p.GetBalance()
	}
	lo, hi := bounds(values)
	s := section{header: []string{"AT", "BALANCE", "", "STATUS", "EVENTS"}, only: tableOnly(2)}
	if len(values) > 0 {
		s.title = fmt.Sprintf("%s  %s  min %s, max %s (policy version %d)", customer, sparkline(values),
			number(lo, true), number(hi, true), r.GetPolicyVersion())
	}
	for i, p := range r.GetPoints() {
		s.rows = append(s.rows, []any{p.GetAt(), p.GetBalance(), string(spark(values[i], lo, hi)), p.GetStatus(), p.GetEventCount()})
	}
	return view{msg: r, sections: []section{s}}
}
