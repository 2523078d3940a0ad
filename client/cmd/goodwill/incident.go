package main

import (
	"bufio"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

func newIncidentCmd(a *app) *cobra.Command {
	var (
		hours, severity, credit float64
		started, notice, broken string
		note, source, fromFile  string
	)
	cmd := &cobra.Command{
		Use:   "incident INCIDENT_ID [CUSTOMER...]",
		Short: "Record one outage for many customers (RecordIncident)",
		Long: `Record an outage affecting many customers: each gets an OUTAGE (magnitude
= hours x severity) at --started, a PROACTIVE_NOTICE at --notice if they were
warned, a CREDIT when it ended if one was given, and a BROKEN_PROMISE at
--broken-promise if a promise about it was broken. INCIDENT_ID is the
idempotency key: running the same command again changes nothing, and adding
customers records only the new ones.

To run it again safely, give --started and --notice as RFC 3339 times (or
leave them out): an offset such as -1h is another moment at every run, which
the server rightly reports as a conflict.

Customers come from the arguments and from --customers-file (one id per line,
or the first column of a CSV with a customer_id header; - reads stdin), up
to 10,000.`,
		Example: `  goodwill incident inc-7 c1 c2 c3 --hours 3 --notice -2h --credit 5
  goodwill incident inc-8 --customers-file affected.csv --hours 1.5 --severity 2`,
		GroupID: "ledger",
		Args:    nargs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &goodwillv1.RecordIncidentRequest{
				IncidentId: args[0], CustomerIds: args[1:], DurationHours: hours, Note: note, Source: source,
			}
			if fromFile != "" {
				ids, err := readCustomerIDs(fromFile, cmd.InOrStdin())
				if err != nil {
					return err
				}
				req.CustomerIds = append(req.CustomerIds, ids...)
			}
			if len(req.CustomerIds) == 0 {
				return usagef("no customers: name them after the incident id or give --customers-file")
			}
			if cmd.Flags().Changed("severity") {
				req.Severity = &severity
			}
			if cmd.Flags().Changed("credit") {
				req.Credit = &credit
			}
			now := time.Now()
			var err error
			if req.StartedAt, err = parseTime("started", started, now); err != nil {
				return err
			}
			if req.NoticeAt, err = parseTime("notice", notice, now); err != nil {
				return err
			}
			if req.BrokenPromiseAt, err = parseTime("broken-promise", broken, now); err != nil {
				return err
			}
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.RecordIncident(cmd.Context(), req)
			if err != nil {
				return err
			}
			return a.show(incidentView(resp))
		},
	}
	f := cmd.Flags()
	f.Float64Var(&hours, "hours", 0, "how long the outage lasted, in hours (required)")
	f.Float64Var(&severity, "severity", 1, "multiplies the outage's weight")
	f.Float64Var(&credit, "credit", 0, "a bill credit given to each customer after the outage")
	f.StringVar(&started, "started", "", "when the outage began (default: now, on the first call)")
	f.StringVar(&notice, "notice", "", "when customers were warned, if they were")
	f.StringVar(&broken, "broken-promise", "", "when a promise about the incident was broken, if one was")
	f.StringVar(&note, "note", "", "free text for people")
	f.StringVar(&source, "source", "", "the system that reported the incident")
	f.StringVar(&fromFile, "customers-file", "", "read customer ids from this file (- for stdin)")
	_ = cmd.MarkFlagRequired("hours")
	_ = cmd.MarkFlagFilename("customers-file")
	return cmd
}

// readCustomerIDs reads one id per line, skipping blank lines and a
// customer_id header; a CSV line counts by its first column.
func readCustomerIDs(path string, stdin io.Reader) ([]string, error) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, usagef("--customers-file: %v", err)
		}
		defer f.Close()
		r = f
	}
	var ids []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		id, _, _ := strings.Cut(sc.Text(), ",")
		id = strings.Trim(strings.TrimSpace(id), `"`)
		if id == "" || (len(ids) == 0 && strings.EqualFold(id, "customer_id")) {
			continue
		}
		ids = append(ids, id)
	}
	if err := sc.Err(); err != nil {
		return nil, usagef("--customers-file: %v", err)
	}
	return ids, nil
}

func incidentView(r *goodwillv1.RecordIncidentResponse) view {
	sum := section{
		header: []string{"INCIDENT", "CUSTOMERS", "EVENTS CREATED", "EVENTS REPLAYED", "CONFLICTS"},
		rows:   [][]any{{r.GetIncidentId(), r.GetCustomers(), r.GetEventsCreated(), r.GetEventsReplayed(), len(r.GetConflicts())}},
		record: true,
	}
	v := view{msg: r, sections: []section{sum}}
	if len(r.GetConflicts()) > 0 {
		conf := section{title: "Conflicts (nothing written for these customers):", header: []string{"CUSTOMER", "ERROR"}}
		for _, c := range r.GetConflicts() {
			conf.rows = append(conf.rows, []any{c.GetCustomerId(), c.GetError()})
		}
		v.sections = append(v.sections, conf)
		v.csv = 1
	}
	return v
}
