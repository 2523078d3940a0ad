package auth

import "fmt"

// Role is what a key may do.
type Role int

// Roles. Admin may do everything; reader and writer are disjoint, so an
// ingest integration's key cannot read the ledger and an analyst's key
// cannot write to it.
const (
	RoleUnspecified Role = iota
	// Reader may call every read: balances, histories, lists, summaries,
	// outreach, events, policies and jobs.
	Reader
	// Writer may record events and incidents, upsert customers and reverse
	// events.
	Writer
	// Admin may change the policy, and do everything else.
	Admin
	// AnyRole is what a method open to every valid key needs (one that
	// describes the caller). It is never a key's role.
	AnyRole
)

var roleNames = [...]string{RoleUnspecified: "unspecified", Reader: "reader", Writer: "writer", Admin: "admin", AnyRole: "any"}

func (r Role) String() string {
	if r < 0 || int(r) >= len(roleNames) {
		return fmt.Sprintf("role(%d)", int(r))
	}
	return roleNames[r]
}

// ParseRole reads a role's name.
func ParseRole(s string) (Role, error) {
	for r, n := range roleNames {
		if n == s && Role(r) != RoleUnspecified && Role(r) != AnyRole {
			return Role(r), nil
		}
	}
	return RoleUnspecified, fmt.Errorf("unknown role %q: want reader, writer or admin", s)
}

// Allows reports whether a key with role r may call a method that needs
// role need.
func (r Role) Allows(need Role) bool {
	switch {
	case need == RoleUnspecified:
		return false // an unmapped method is closed to everyone
	case r == RoleUnspecified || r == AnyRole:
		return false // not a key's role
	case need == AnyRole:
		return true
	case r == Admin:
		return true
	default:
		return r == need
	}
}
