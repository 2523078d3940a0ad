package main

import (
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// Webhooks are admin-only: every command here needs an admin key.

func newWebhooksCmd(a *app) *cobra.Command {
	list := &cobra.Command{
		Use:   "list",
		Short: "List the tenant's webhooks (ListWebhooks)",
		Args:  nargs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.ListWebhooks(cmd.Context(), &goodwillv1.ListWebhooksRequest{})
			if err != nil {
				return err
			}
			return a.show(view{msg: resp, sections: []section{webhooksSection(resp.GetWebhooks()...)}})
		},
	}
	get := &cobra.Command{
		Use:   "get WEBHOOK_ID",
		Short: "Show one webhook and its delivery counts (GetWebhook)",
		Args:  nargs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.GetWebhook(cmd.Context(), &goodwillv1.GetWebhookRequest{WebhookId: args[0]})
			if err != nil {
				return err
			}
			s := webhooksSection(resp.GetWebhook())
			s.record = true
			return a.show(view{msg: resp, sections: []section{s}})
		},
	}
	var (
		types       []string
		description string
	)
	create := &cobra.Command{
		Use:   "create URL",
		Short: "Add a webhook and print its signing secret, shown only this once (CreateWebhook)",
		Long: `Add a webhook: the tenant's notifications from now on are posted to URL
(https; not a private address unless goodwilld allows it). The signing secret
is printed once: store it where the receiver reads it. A failed call is not
retried (each call makes a webhook): check goodwill webhooks list before
running it again.`,
		Example: "  goodwill webhooks create https://crm.example.com/goodwill --type customer.overdrawn --type customer.recovered",
		Args:    nargs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.CreateWebhook(cmd.Context(), &goodwillv1.CreateWebhookRequest{Url: args[0], Types: types, Description: description})
			if err != nil {
				return err
			}
			return a.show(secretView(resp, resp.GetWebhook(), resp.GetSecret()))
		},
	}
	create.Flags().StringArrayVar(&types, "type", nil, "a notification type to receive (repeatable; default all): "+joinComma(notificationTypes))
	create.Flags().StringVar(&description, "description", "", "what it is for, for people")
	_ = create.RegisterFlagCompletionFunc("type", complete(notificationTypes...))

	del := &cobra.Command{
		Use:   "delete WEBHOOK_ID",
		Short: "Remove a webhook, its queue and its attempt log (DeleteWebhook)",
		Args:  nargs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.DeleteWebhook(cmd.Context(), &goodwillv1.DeleteWebhookRequest{WebhookId: args[0]})
			if err != nil {
				return err
			}
			return a.show(view{msg: resp, sections: []section{{
				header: []string{"WEBHOOK ID", "DELETED"}, rows: [][]any{{args[0], true}}, record: true,
			}}})
		},
	}
	var pageSize int32
	deliveries := &cobra.Command{
		Use:   "deliveries WEBHOOK_ID",
		Short: "A webhook's queue and its latest delivery attempts (ListWebhookDeliveries)",
		Long: `Show what waits for a retry or was given up (the queue, oldest first) and the
latest attempts (newest first) with what the receiver answered. -o csv writes
the attempts.`,
		Args: nargs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.ListWebhookDeliveries(cmd.Context(), &goodwillv1.ListWebhookDeliveriesRequest{WebhookId: args[0], PageSize: pageSize})
			if err != nil {
				return err
			}
			return a.show(deliveriesView(resp))
		},
	}
	deliveries.Flags().Int32Var(&pageSize, "page-size", 0, "attempts to show, 1 to 1000 (default 50)")
	rotate := &cobra.Command{
		Use:   "rotate-secret WEBHOOK_ID",
		Short: "Give a webhook a new signing secret, shown only this once (RotateWebhookSecret)",
		Long: `Give a webhook a new signing secret and print it. For 24 hours deliveries are
signed with both the old and the new secret, so the receiver can switch over.`,
		Args: nargs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.RotateWebhookSecret(cmd.Context(), &goodwillv1.RotateWebhookSecretRequest{WebhookId: args[0]})
			if err != nil {
				return err
			}
			return a.show(secretView(resp, resp.GetWebhook(), resp.GetSecret()))
		},
	}
	cmd := group("webhooks", "Manage webhooks (admin)", list, get, create, del, deliveries, rotate)
	cmd.GroupID = "admin"
	return cmd
}

func webhooksSection(hooks ...*goodwillv1.Webhook) section {
	s := section{header: []string{"WEBHOOK ID", "URL", "TYPES", "DESCRIPTION", "CREATED AT", "DELIVERED", "FAILED", "PREVIOUS SECRET EXPIRES AT"}}
	for _, w := range hooks {
		types := w.GetTypes()
		if len(types) == 0 {
			types = []string{"(all)"}
		}
		s.rows = append(s.rows, []any{w.GetWebhookId(), w.GetUrl(), types, w.GetDescription(), w.GetCreatedAt(),
			w.GetDelivered(), w.GetFailed(), w.GetPreviousSecretExpiresAt()})
	}
	return s
}

// secretView shows a webhook with the secret the server just made. This is
// the one place goodwill prints a secret: the API shows it only once.
func secretView(msg proto.Message, w *goodwillv1.Webhook, secret string) view {
	s := webhooksSection(w)
	s.header = append(s.header, "SECRET")
	s.rows[0] = append(s.rows[0], secret)
	s.record = true
	return view{msg: msg, sections: []section{s}}
}

func deliveriesView(r *goodwillv1.ListWebhookDeliveriesResponse) view {
	queue := section{
		title:  "Queue (waiting for a retry, or given up):",
		header: []string{"NOTIFICATION ID", "TYPE", "CUSTOMER", "STATE", "ATTEMPTS", "FIRST ATTEMPT AT", "NEXT ATTEMPT AT", "LAST STATUS", "LAST ERROR"},
	}
	for _, d := range r.GetQueue() {
		queue.rows = append(queue.rows, []any{d.GetNotificationId(), d.GetType(), d.GetCustomerId(), d.GetState(), d.GetAttempts(),
			d.GetFirstAttemptAt(), d.GetNextAttemptAt(), d.GetLastStatusCode(), d.GetLastError()})
	}
	attempts := section{
		title:  "Latest attempts:",
		header: []string{"ATTEMPTED AT", "NOTIFICATION ID", "TYPE", "CUSTOMER", "STATUS", "DELIVERED", "LATENCY", "ERROR"},
	}
	for _, t := range r.GetAttempts() {
		attempts.rows = append(attempts.rows, []any{t.GetAttemptedAt(), t.GetNotificationId(), t.GetType(), t.GetCustomerId(),
			t.GetStatusCode(), t.GetDelivered(), t.GetLatency(), t.GetError()})
	}
	return view{msg: r, sections: []section{queue, attempts}, csv: 1}
}
