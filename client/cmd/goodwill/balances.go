package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

func newBalancesCmd(a *app) *cobra.Command {
	var (
		segment, status, order string
		minB, maxB             float64
		pageSize               int32
		pageToken              string
		all, stale             bool
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List balances, filtered, lowest first (ListBalances)",
		Example: `  goodwill balances list --status overdrawn
  goodwill balances list --segment gold --order desc --min -100 --all -o csv`,
		Args: nargs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &goodwillv1.ListBalancesRequest{Segment: segment, PageSize: pageSize, PageToken: pageToken, AllowStale: stale}
			if status != "" {
				n, err := parseEnum(statusEnum, "status", status)
				if err != nil {
					return err
				}
				req.Status = goodwillv1.BalanceStatus(n)
			}
			if order != "" {
				o := map[string]string{"asc": "ascending", "desc": "descending"}[order]
				if o == "" {
					o = order
				}
				n, err := parseEnum(orderEnum, "order", o)
				if err != nil {
					return err
				}
				req.Order = goodwillv1.BalanceOrder(n)
			}
			if cmd.Flags().Changed("min") {
				req.MinBalance = &minB
			}
			if cmd.Flags().Changed("max") {
				req.MaxBalance = &maxB
			}
			if all && pageSize == 0 {
				req.PageSize = maxPage
			}
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			out := &goodwillv1.ListBalancesResponse{}
			for {
				resp, err := c.ListBalances(cmd.Context(), req)
				if err != nil {
					return err
				}
				out.Balances = append(out.Balances, resp.GetBalances()...)
				out.NextPageToken, out.PolicyVersion = resp.GetNextPageToken(), resp.GetPolicyVersion()
				out.ApproximateOrder = out.ApproximateOrder || resp.GetApproximateOrder()
				if !all || out.NextPageToken == "" {
					break
				}
				req.PageToken = out.NextPageToken
			}
			return a.show(balancesView(out))
		},
	}
	f := list.Flags()
	f.StringVar(&segment, "segment", "", "only this segment")
	f.StringVar(&status, "status", "", "only this status: healthy or overdrawn")
	f.StringVar(&order, "order", "", "asc (lowest first, the default) or desc")
	f.Float64Var(&minB, "min", 0, "only balances at or above this")
	f.Float64Var(&maxB, "max", 0, "only balances at or below this")
	f.Int32Var(&pageSize, "page-size", 0, "balances per page, 1 to 1000 (default 50)")
	f.StringVar(&pageToken, "page-token", "", "continue from a previous page's next_page_token")
	f.BoolVar(&all, "all", false, "fetch every page")
	f.BoolVar(&stale, "stale", false, "allow a snapshot a few seconds old (a follower read on CockroachDB)")
	_ = list.RegisterFlagCompletionFunc("segment", a.completeSegments)
	_ = list.RegisterFlagCompletionFunc("status", complete(enumValues(statusEnum)...))
	_ = list.RegisterFlagCompletionFunc("order", complete("asc", "desc"))

	var sumSegment string
	var sumStale bool
	summarize := &cobra.Command{
		Use:   "summarize",
		Short: "Statistics per segment and overall (SummarizeBalances)",
		Args:  nargs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.SummarizeBalances(cmd.Context(), &goodwillv1.SummarizeBalancesRequest{Segment: sumSegment, AllowStale: sumStale})
			if err != nil {
				return err
			}
			return a.show(summaryView(resp))
		},
	}
	summarize.Flags().StringVar(&sumSegment, "segment", "", "only this segment (default: every segment and an overall row)")
	summarize.Flags().BoolVar(&sumStale, "stale", false, "allow a snapshot a few seconds old (a follower read on CockroachDB)")
	_ = summarize.RegisterFlagCompletionFunc("segment", a.completeSegments)

	cmd := group("balances", "List and summarize balances (analysts)", list, summarize)
	cmd.GroupID = "balances"
	return cmd
}

func balancesView(r *goodwillv1.ListBalancesResponse) view {
	s := section{header: []string{"CUSTOMER", "NAME", "SEGMENT", "VALUE", "BALANCE", "STATUS", "OVERDRAFT LIMIT", "EVENTS"}}
	for _, e := range r.GetBalances() {
		b := e.GetBalance()
		s.rows = append(s.rows, []any{b.GetCustomerId(), e.GetDisplayName(), e.GetSegment(), e.GetValue(),
			b.GetBalance(), b.GetStatus(), b.GetOverdraftLimit(), b.GetEventCount()})
	}
	v := view{msg: r, sections: []section{s}, notes: morePages(r.GetNextPageToken())}
	if r.GetApproximateOrder() {
		v.notes = append(v.notes, "note: a recompute job is running: the order is approximate")
	}
	return v
}

func summaryView(r *goodwillv1.SummarizeBalancesResponse) view {
	s := section{
		title:  "as of " + cell(r.GetAsOf(), true) + ", policy version " + cell(r.GetPolicyVersion(), true),
		header: []string{"SEGMENT", "OVERALL", "CUSTOMERS", "OVERDRAWN", "MEAN", "P10", "P50", "P90", "VALUE AT RISK"},
		only:   csvOnly(1),
	}
	for _, g := range r.GetSegments() {
		s.rows = append(s.rows, []any{segmentLabel(g), g.GetOverall(), g.GetCustomers(), g.GetOverdrawn(), g.GetMean(),
			g.GetP10(), g.GetP50(), g.GetP90(), g.GetValueAtRisk()})
	}
	return view{msg: r, sections: []section{s}}
}

// segmentLabel names a summary row for people: "(all)" for the overall
// row, "(none)" for customers without a segment; CSV keeps the raw name.
func segmentLabel(g *goodwillv1.SegmentSummary) labelled {
	name := labelled{raw: g.GetSegment(), human: g.GetSegment()}
	if g.GetOverall() {
		name.human = "(all)"
	} else if name.raw == "" {
		name.human = "(none)"
	}
	return name
}

// completeSegments offers the segments the server knows (one
// SummarizeBalances call, cut short after two seconds): cheap enough for a
// key press, and nothing is offered if the server cannot be reached.
func (a *app) completeSegments(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	c, err := a.dial(cmd)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	parent := cmd.Context()
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, 2*time.Second)
	defer cancel()
	resp, err := c.SummarizeBalances(ctx, &goodwillv1.SummarizeBalancesRequest{AllowStale: true})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, g := range resp.GetSegments() {
		if !g.GetOverall() && g.GetSegment() != "" {
			out = append(out, g.GetSegment())
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
