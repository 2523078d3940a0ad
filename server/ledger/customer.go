package ledger

import "time"

// DefaultTenant owns every row until API keys bind callers to tenants.
const DefaultTenant = "default"

// Profile is what the CRM says about a customer.
type Profile struct {
	DisplayName string
	Segment     string
	// Value weighs the customer in outreach ranking.
	Value float64
	// OverdraftLimit, when set, overrides the policy's default limit.
	OverdraftLimit *float64
	Attributes     map[string]string
}

// Customer is one row of the ledger's customer table: the profile plus the
// materialized balance state, kept in the same row so one read and one write
// per event suffice.
type Customer struct {
	TenantID  string
	ID        string
	Profile   Profile
	CreatedAt time.Time
	UpdatedAt time.Time
	// PolicyVersion is the policy State was computed under.
	PolicyVersion int64
	State         State
	// Keys order customers by balance and for outreach (Policy.KeysOf);
	// stored so indexes serve rankings.
	Keys Keys
	// Watch is what the customer's notifications have announced.
	Watch Watch
}

// newCustomer returns a customer with the defaults used when an event names
// an unknown customer.
func newCustomer(tenant, id string, policy *Policy, now time.Time) Customer {
	return Customer{
		TenantID:      tenant,
		ID:            id,
		Profile:       Profile{Value: 1},
		CreatedAt:     now,
		UpdatedAt:     now,
		PolicyVersion: policy.Version,
	}
}

// Limit returns the overdraft limit that applies to the customer.
func (c Customer) Limit(p *Policy) float64 {
	if c.Profile.OverdraftLimit != nil {
		return *c.Profile.OverdraftLimit
	}
	return p.DefaultOverdraftLimit
}

// Status says whether a balance covers an overdraft limit.
type Status int

const (
	StatusUnspecified Status = iota
	StatusHealthy
	StatusOverdrawn
)

// Balance is a customer's trust balance at one moment.
type Balance struct {
	CustomerID     string
	Value          float64
	Status         Status
	OverdraftLimit float64
	EventCount     int64
	PolicyVersion  int64
	AsOf           time.Time
}

// balanceOf is what a customer's balance at `at` is reported as: the
// state's value decayed to `at`, with dust counted as zero (see
// Policy.DustThreshold).
func balanceOf(c Customer, s State, p *Policy, at time.Time) Balance {
	v := p.reported(p.BalanceAt(s, at))
	limit := c.Limit(p)
	st := StatusHealthy
	if v < limit {
		st = StatusOverdrawn
	}
	return Balance{
		CustomerID:     c.ID,
		Value:          v,
		Status:         st,
		OverdraftLimit: limit,
		EventCount:     s.Count,
		PolicyVersion:  p.Version,
		AsOf:           at,
	}
}
