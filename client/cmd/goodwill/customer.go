package main

import (
	"github.com/spf13/cobra"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

func newCustomerCmd(a *app) *cobra.Command {
	get := &cobra.Command{
		Use:   "get CUSTOMER",
		Short: "Show a customer's profile (GetCustomer)",
		Args:  nargs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.GetCustomer(cmd.Context(), &goodwillv1.GetCustomerRequest{CustomerId: args[0]})
			if err != nil {
				return err
			}
			return a.show(view{msg: resp, sections: []section{customerSection(resp.GetCustomer(), nil)}})
		},
	}

	var (
		name, segment    string
		value, overdraft float64
		attrs            []string
	)
	put := &cobra.Command{
		Use:   "put CUSTOMER",
		Short: "Create or replace a customer's profile (UpsertCustomer)",
		Long: `Create a customer's profile, or replace it: like the API's PUT, every field
not given is reset (no name, no segment, value 1, the policy's overdraft limit,
no attributes). The ledger and the balance are never touched.`,
		Example: `  goodwill customer put c1 --name Ann --segment gold --value 2 --attr plan=family`,
		Args:    nargs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			cu := &goodwillv1.Customer{DisplayName: name, Segment: segment}
			if cmd.Flags().Changed("value") {
				cu.Value = &value
			}
			if cmd.Flags().Changed("overdraft-limit") {
				cu.OverdraftLimit = &overdraft
			}
			var err error
			if cu.Attributes, err = parseAttrs("attr", attrs); err != nil {
				return err
			}
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.UpsertCustomer(cmd.Context(), &goodwillv1.UpsertCustomerRequest{CustomerId: args[0], Customer: cu})
			if err != nil {
				return err
			}
			created := resp.GetCreated()
			return a.show(view{msg: resp, sections: []section{customerSection(resp.GetCustomer(), &created)}})
		},
	}
	f := put.Flags()
	f.StringVar(&name, "name", "", "display name for support agents")
	f.StringVar(&segment, "segment", "", "a grouping such as gold or smb")
	f.Float64Var(&value, "value", 1, "how much the customer matters for outreach ranking (0 or more)")
	f.Float64Var(&overdraft, "overdraft-limit", 0, "the balance below which the customer is overdrawn (0 or negative; default: the policy's)")
	f.StringArrayVar(&attrs, "attr", nil, "an attribute key=value (repeatable)")
	_ = put.RegisterFlagCompletionFunc("segment", a.completeSegments)

	var (
		listSegment, listToken string
		listSize               int32
		listAll                bool
	)
	list := &cobra.Command{
		Use:     "list",
		Short:   "List customer profiles by id (ListCustomers)",
		Example: `  goodwill customer list --segment gold --all -o csv`,
		Args:    nargs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			req := &goodwillv1.ListCustomersRequest{Segment: listSegment, PageSize: listSize, PageToken: listToken}
			if listAll && listSize == 0 {
				req.PageSize = maxPage
			}
			out := &goodwillv1.ListCustomersResponse{}
			for {
				resp, err := c.ListCustomers(cmd.Context(), req)
				if err != nil {
					return err
				}
				out.Customers = append(out.Customers, resp.GetCustomers()...)
				out.NextPageToken = resp.GetNextPageToken()
				if !listAll || out.NextPageToken == "" {
					break
				}
				req.PageToken = out.NextPageToken
			}
			s := section{header: []string{"CUSTOMER", "NAME", "SEGMENT", "VALUE", "OVERDRAFT LIMIT", "ATTRIBUTES", "CREATED AT", "UPDATED AT"}}
			for _, cu := range out.GetCustomers() {
				s.rows = append(s.rows, customerSection(cu, nil).rows[0])
			}
			return a.show(view{msg: out, sections: []section{s}, notes: morePages(out.NextPageToken)})
		},
	}
	lf := list.Flags()
	lf.StringVar(&listSegment, "segment", "", "only this segment")
	lf.Int32Var(&listSize, "page-size", 0, "customers per page, 1 to 1000 (default 50)")
	lf.StringVar(&listToken, "page-token", "", "continue from a previous page's next_page_token")
	lf.BoolVar(&listAll, "all", false, "fetch every page")
	_ = list.RegisterFlagCompletionFunc("segment", a.completeSegments)

	cmd := group("customer", "Read and write customer profiles", get, put, list)
	cmd.GroupID = "ledger"
	return cmd
}

// customerSection is a profile as a record; created is set after a put.
func customerSection(c *goodwillv1.Customer, created *bool) section {
	header := []string{"CUSTOMER", "NAME", "SEGMENT", "VALUE", "OVERDRAFT LIMIT", "ATTRIBUTES", "CREATED AT", "UPDATED AT"}
	row := []any{c.GetCustomerId(), c.GetDisplayName(), c.GetSegment(), c.Value, c.OverdraftLimit,
		c.GetAttributes(), c.GetCreatedAt(), c.GetUpdatedAt()}
	if created != nil {
		header = append(header, "CREATED")
		row = append(row, *created)
	}
	return section{header: header, rows: [][]any{row}, record: true}
}
