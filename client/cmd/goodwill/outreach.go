package main

import (
	"github.com/spf13/cobra"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

func newOutreachCmd(a *app) *cobra.Command {
	var (
		list, segment, pageToken string
		pageSize                 int32
		all, stale               bool
	)
	cmd := &cobra.Command{
		Use:   "outreach",
		Short: "Whom to contact: the recovery or advocacy list (ListOutreach)",
		Long: `Rank customers for outreach. recovery (the default): customers with a
negative balance, the most urgent first. advocacy: the loyal customers with a
rising trend, highest balance first. Each entry says why.`,
		Example: "  goodwill outreach\n  goodwill outreach --list advocacy --segment gold",
		GroupID: "balances",
		Args:    nargs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := parseEnum(purposeEnum, "list", list)
			if err != nil {
				return err
			}
			req := &goodwillv1.ListOutreachRequest{
				Purpose: goodwillv1.OutreachPurpose(n), Segment: segment, PageSize: pageSize, PageToken: pageToken, AllowStale: stale,
			}
			if all && pageSize == 0 {
				req.PageSize = maxPage
			}
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			out := &goodwillv1.ListOutreachResponse{}
			for {
				resp, err := c.ListOutreach(cmd.Context(), req)
				if err != nil {
					return err
				}
				out.Entries = append(out.Entries, resp.GetEntries()...)
				out.NextPageToken, out.PolicyVersion = resp.GetNextPageToken(), resp.GetPolicyVersion()
				out.ApproximateOrder = out.ApproximateOrder || resp.GetApproximateOrder()
				if !all || out.NextPageToken == "" {
					break
				}
				req.PageToken = out.NextPageToken
			}
			return a.show(outreachView(out))
		},
	}
	f := cmd.Flags()
	f.StringVar(&list, "list", "recovery", "recovery or advocacy")
	f.StringVar(&segment, "segment", "", "only this segment")
	f.Int32Var(&pageSize, "page-size", 0, "entries per page, 1 to 1000 (default 50)")
	f.StringVar(&pageToken, "page-token", "", "continue from a previous page's next_page_token")
	f.BoolVar(&all, "all", false, "fetch every page")
	f.BoolVar(&stale, "stale", false, "allow a snapshot a few seconds old (a follower read on CockroachDB)")
	_ = cmd.RegisterFlagCompletionFunc("list", complete(enumValues(purposeEnum)...))
	_ = cmd.RegisterFlagCompletionFunc("segment", a.completeSegments)
	return cmd
}

func outreachView(r *goodwillv1.ListOutreachResponse) view {
	s := section{header: []string{"CUSTOMER", "NAME", "SEGMENT", "VALUE", "BALANCE", "STATUS", "PRIORITY", "REASONS"}}
	for _, e := range r.GetEntries() {
		s.rows = append(s.rows, []any{e.GetCustomerId(), e.GetDisplayName(), e.GetSegment(), e.GetValue(),
			e.GetBalance().GetBalance(), e.GetBalance().GetStatus(), e.GetPriority(), e.GetReasons()})
	}
	v := view{msg: r, sections: []section{s}, notes: morePages(r.GetNextPageToken())}
	if r.GetApproximateOrder() {
		v.notes = append(v.notes, "note: a recompute job is running: the list is in balance order, not by priority")
	}
	return v
}
