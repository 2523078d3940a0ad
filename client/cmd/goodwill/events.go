package main

import (
	"time"

	"github.com/spf13/cobra"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

func newRecordCmd(a *app) *cobra.Command {
	var (
		magnitude             float64
		at, key, source, note string
		attrs                 []string
	)
	cmd := &cobra.Command{
		Use:   "record CUSTOMER KIND",
		Short: "Record an event (RecordEvent)",
		Long: `Record one event in a customer's ledger and print it with the balance after it.

KIND is one of: ` + joinComma(enumValues(kindEnum, reversalOnly)) + `
(with or without EVENT_KIND_, any case). Without --key the client makes a
key, so a retried call is replayed rather than recorded twice; give --key to
make a repeat of this command line safe too (the response says replayed),
with --at as an RFC 3339 time: an offset such as -2h is another moment at
every run, so another event.`,
		Example: `  goodwill record c1 outage --magnitude 3 --at -2h --note "3-hour outage"
  goodwill record c1 credit --magnitude 5 --key credit-c1-2026-11`,
		GroupID:           "ledger",
		Args:              nargs(cobra.ExactArgs(2)),
		ValidArgsFunction: completeArgKind(1, enumValues(kindEnum, reversalOnly)),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, err := parseKind(args[1])
			if err != nil {
				return err
			}
			ev := &goodwillv1.Event{Kind: kind, IdempotencyKey: key, Source: source, Note: note}
			if cmd.Flags().Changed("magnitude") {
				ev.Magnitude = &magnitude
			}
			if ev.OccurredAt, err = parseTime("at", at, time.Now()); err != nil {
				return err
			}
			if ev.Attributes, err = parseAttrs("attr", attrs); err != nil {
				return err
			}
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.RecordEvent(cmd.Context(), &goodwillv1.RecordEventRequest{CustomerId: args[0], Event: ev})
			if err != nil {
				return err
			}
			return a.show(recordView(resp))
		},
	}
	f := cmd.Flags()
	f.Float64Var(&magnitude, "magnitude", 1, "how much: credit amount, outage hours, number of deliveries...")
	f.StringVar(&at, "at", "", "when it happened (default: when the server records it)")
	f.StringVar(&key, "key", "", "idempotency key: the same key and event again is replayed, not recorded twice")
	f.StringVar(&source, "source", "", "the system reporting the event (zendesk, billing...)")
	f.StringVar(&note, "note", "", "free text for people")
	f.StringArrayVar(&attrs, "attr", nil, "an attribute key=value (repeatable)")
	return cmd
}

func newReverseCmd(a *app) *cobra.Command {
	var reason, key, source string
	cmd := &cobra.Command{
		Use:   "reverse CUSTOMER EVENT_ID",
		Short: "Reverse an event recorded by mistake (ReverseEvent)",
		Long: `Append a REVERSAL cancelling an event: the balance becomes what it would be had
the event never been recorded. An event can be reversed once.`,
		Example: `  goodwill reverse c3 0199a1b2-... --reason "recorded twice"`,
		GroupID: "ledger",
		Args:    nargs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.ReverseEvent(cmd.Context(), &goodwillv1.ReverseEventRequest{
				CustomerId: args[0], EventId: args[1], Note: reason, IdempotencyKey: key, Source: source,
			})
			if err != nil {
				return err
			}
			return a.show(reverseView(args[0], resp))
		},
	}
	f := cmd.Flags()
	f.StringVar(&reason, "reason", "", "why it is reversed (stored as the reversal's note)")
	f.StringVar(&key, "key", "", "idempotency key: a repeat with the same key is replayed")
	f.StringVar(&source, "source", "", "who asks")
	return cmd
}

func newEventsCmd(a *app) *cobra.Command {
	var (
		pageSize     int32
		pageToken    string
		all          bool
		kinds        []string
		since, until string
	)
	list := &cobra.Command{
		Use:   "list CUSTOMER",
		Short: "List a customer's events, newest first (ListEvents)",
		Example: `  goodwill events list c1 --kind outage --kind complaint --since -30d
  goodwill events list c1 --all -o csv > c1-events.csv`,
		Args: nargs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &goodwillv1.ListEventsRequest{CustomerId: args[0], PageSize: pageSize, PageToken: pageToken}
			for _, k := range kinds {
				kind, err := parseAnyKind(k)
				if err != nil {
					return err
				}
				req.Kinds = append(req.Kinds, kind)
			}
			now := time.Now()
			var err error
			if req.StartTime, err = parseTime("since", since, now); err != nil {
				return err
			}
			if req.EndTime, err = parseTime("until", until, now); err != nil {
				return err
			}
			if all && pageSize == 0 {
				req.PageSize = maxPage
			}
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			out := &goodwillv1.ListEventsResponse{}
			for {
				resp, err := c.ListEvents(cmd.Context(), req)
				if err != nil {
					return err
				}
				out.Events = append(out.Events, resp.GetEvents()...)
				out.NextPageToken = resp.GetNextPageToken()
				if !all || out.NextPageToken == "" {
					break
				}
				req.PageToken = out.NextPageToken
			}
			return a.show(eventsView(out))
		},
	}
	f := list.Flags()
	f.Int32Var(&pageSize, "page-size", 0, "events per page, 1 to 1000 (default 50)")
	f.StringVar(&pageToken, "page-token", "", "continue from a previous page's next_page_token")
	f.BoolVar(&all, "all", false, "fetch every page")
	f.StringArrayVar(&kinds, "kind", nil, "only this kind (repeatable)")
	f.StringVar(&since, "since", "", "only events at or after this time")
	f.StringVar(&until, "until", "", "only events before this time")
	_ = list.RegisterFlagCompletionFunc("kind", complete(enumValues(kindEnum)...))
	cmd := group("events", "List a customer's events", list)
	cmd.GroupID = "ledger"
	return cmd
}

// maxPage is the largest page the API serves: --all asks for it.
const maxPage = 1000

func recordView(r *goodwillv1.RecordEventResponse) view {
	e, b := r.GetEvent(), r.GetBalance()
	header := []string{"EVENT ID", "CUSTOMER", "KIND", "MAGNITUDE", "OCCURRED AT", "REPLAYED"}
	row := []any{e.GetEventId(), e.GetCustomerId(), e.GetKind(), e.Magnitude, e.GetOccurredAt(), r.GetReplayed()}
	// A writer key gets no balance back: show what there is, not zeros.
	if b != nil {
		header = append(header, "BALANCE", "STATUS")
		row = append(row, b.GetBalance(), b.GetStatus())
	}
	return view{msg: r, sections: []section{{header: header, rows: [][]any{row}, record: true}}}
}

func reverseView(customer string, r *goodwillv1.ReverseEventResponse) view {
	e, b := r.GetReversal(), r.GetBalance()
	header := []string{"REVERSAL ID", "CUSTOMER", "REVERSES", "REPLAYED"}
	row := []any{e.GetEventId(), customer, e.GetReversesEventId(), r.GetReplayed()}
	if b != nil {
		header = append(header, "BALANCE", "STATUS")
		row = append(row, b.GetBalance(), b.GetStatus())
	}
	return view{msg: r, sections: []section{{header: header, rows: [][]any{row}, record: true}}}
}

func eventsView(r *goodwillv1.ListEventsResponse) view {
	s := section{
		header: []string{"EVENT ID", "OCCURRED AT", "KIND", "MAGNITUDE", "SOURCE", "NOTE", "REVERSED BY",
			"RECORDED AT", "IDEMPOTENCY KEY", "ATTRIBUTES", "INCIDENT ID", "REVERSES"},
		only: csvOnly(7, 8, 9, 10, 11),
	}
	for _, e := range r.GetEvents() {
		s.rows = append(s.rows, []any{e.GetEventId(), e.GetOccurredAt(), e.GetKind(), e.Magnitude, e.GetSource(),
			e.GetNote(), e.GetReversedByEventId(), e.GetRecordedAt(), e.GetIdempotencyKey(), e.GetAttributes(),
			e.GetIncidentId(), e.GetReversesEventId()})
	}
	return view{msg: r, sections: []section{s}, notes: morePages(r.GetNextPageToken())}
}
