package ledger

import (
	"context"
	"encoding/base64"
)

// CustomerPage is one page of ListCustomers.
type CustomerPage struct {
	Customers []Customer
	NextToken string // "" on the last page
}

// customerScanLimit bounds the customers one page with a segment filter
// reads: past it the page comes back short, with a token to go on.
const customerScanLimit = 10_000

// ListCustomers lists the tenant's customer profiles by id, after the
// customer named by the page token. Only segment's customers when segment
// is set; filtering walks the others, at most customerScanLimit a page.
func (s *Service) ListCustomers(ctx context.Context, tenant, segment string, pageSize int, pageToken string) (CustomerPage, error) {
	var v violations
	size, err := s.limits.pageSize(pageSize)
	v.add(err)
	after := ""
	if pageToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(pageToken)
		if err != nil || checkID("page_token", string(raw), s.limits.MaxIDLength) != nil {
			v.add(errBadToken)
		}
		after = string(raw)
	}
	v.add(checkText("segment", segment, s.limits.MaxSegmentLength))
	if err := v.err(); err != nil {
		return CustomerPage{}, err
	}
	var page CustomerPage
	token := func(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }
	err = s.store.View(ctx, func(r Reader) error {
		page = CustomerPage{}
		cursor, scanned := after, 0
		for {
			n := size - len(page.Customers)
			if segment != "" { // read ahead: most rows may be other segments'
				n = min(max(n, 100), customerScanLimit-scanned)
			}
			cs, err := r.Customers(ctx, tenant, cursor, n+1) // one more tells whether any follow
			if err != nil {
				return err
			}
			more := len(cs) > n
			cs = cs[:min(len(cs), n)]
			for i, c := range cs {
				cursor = c.ID
				scanned++
				if segment != "" && c.Profile.Segment != segment {
					continue
				}
				page.Customers = append(page.Customers, c)
				if len(page.Customers) == size {
					if more || i < len(cs)-1 {
						page.NextToken = token(cursor)
					}
					return nil
				}
			}
			switch {
			case !more:
				return nil // the last customer
			case scanned >= customerScanLimit:
				page.NextToken = token(cursor) // a short page; the listing goes on
				return nil
			}
		}
	})
	return page, err
}
