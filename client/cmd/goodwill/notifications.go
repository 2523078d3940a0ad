package main

import (
	"github.com/spf13/cobra"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

func newNotificationsCmd(a *app) *cobra.Command {
	var (
		after    string
		types    []string
		pageSize int32
		all      bool
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List notifications after a cursor, oldest first (ListNotifications)",
		Long: `List the tenant's notifications after --after (from the oldest kept when
not given), oldest first. Every notification carries its cursor; the response's
next_cursor is where the next page starts (with -o table or csv, printed on
stderr). --all reads until there is nothing newer.`,
		Example: "  goodwill notifications list --type customer.overdrawn --type customer.recovered",
		Args:    nargs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &goodwillv1.ListNotificationsRequest{After: after, Types: types, PageSize: pageSize}
			if all && pageSize == 0 {
				req.PageSize = maxPage
			}
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			out := &goodwillv1.ListNotificationsResponse{}
			for {
				resp, err := c.ListNotifications(cmd.Context(), req)
				if err != nil {
					return err
				}
				out.Notifications = append(out.Notifications, resp.GetNotifications()...)
				out.NextCursor = resp.GetNextCursor()
				// next_cursor is always set; an empty page means caught up.
				if !all || len(resp.GetNotifications()) == 0 || out.NextCursor == req.After {
					break
				}
				req.After = out.NextCursor
			}
			return a.show(notificationsView(out))
		},
	}
	f := list.Flags()
	f.StringVar(&after, "after", "", "start after this cursor (default: the oldest kept)")
	f.StringArrayVar(&types, "type", nil, "only this type (repeatable): "+joinComma(notificationTypes))
	f.Int32Var(&pageSize, "page-size", 0, "notifications per page, 1 to 1000 (default 50)")
	f.BoolVar(&all, "all", false, "read every page up to now")
	_ = list.RegisterFlagCompletionFunc("type", complete(notificationTypes...))

	cmd := group("notifications", "Read the notification stream", list)
	cmd.GroupID = "admin"
	return cmd
}

func notificationsView(r *goodwillv1.ListNotificationsResponse) view {
	s := section{
		header: []string{"CURSOR", "TYPE", "CUSTOMER", "OCCURRED AT", "BALANCE BEFORE", "BALANCE AFTER", "STATUS AFTER",
			"NOTIFICATION ID", "EVENT ID", "STATUS BEFORE", "POLICY VERSION", "CUSTOMER SEQUENCE"},
		only: csvOnly(8, 9, 10, 11),
	}
	for _, n := range r.GetNotifications() {
		var before, after, statusBefore, statusAfter any
		if b := n.GetBefore(); b != nil {
			before, statusBefore = b.GetBalance(), b.GetStatus()
		}
		if b := n.GetAfter(); b != nil {
			after, statusAfter = b.GetBalance(), b.GetStatus()
		}
		s.rows = append(s.rows, []any{n.GetCursor(), n.GetType(), n.GetCustomerId(), n.GetOccurredAt(), before, after, statusAfter,
			n.GetNotificationId(), n.GetEventId(), statusBefore, n.GetPolicyVersion(), n.GetCustomerSequence()})
	}
	v := view{msg: r, sections: []section{s}}
	if r.GetNextCursor() != "" {
		v.notes = []string{"next: --after " + r.GetNextCursor()}
	}
	return v
}
