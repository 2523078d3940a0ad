package ledger

import (
	"strings"
)

// Kind says what happened between the business and a customer.
type Kind int

// The kinds of event. The numeric values match the v1 API enum
// (TestKindsMatchTheAPIEnum); the stored form is the name (Kind.String), so
// analysts can read the tables. Everything else about a kind is its row in
// kinds, below.
const (
	KindUnspecified Kind = iota
	KindCredit
	KindReliableDelivery
	KindOutage
	KindResponse
	KindProactiveNotice
	KindComplaint
	KindSuggestionAdopted
	KindEngagement
	// KindReversal is written only by ReverseEvent.
	KindReversal
	KindServiceChange
	KindBrokenPromise
)

// Role is what a kind does in the trust rules, beyond its weight.
type Role int

const (
	// RoleDeposit: a plain deposit (or, with a negative weight, withdrawal).
	RoleDeposit Role = iota + 1
	// RoleGrievance: a withdrawal the customer feels (an outage, a
	// complaint). The latest one waits for a remedy: until one comes, the
	// customer counts double on the recovery list.
	RoleGrievance
	// RoleRemedy: a response or a credit, which answers the latest
	// grievance before it.
	RoleRemedy
	// RoleNotice: a warning given in advance; it softens the failures that
	// follow it within the policy's notice window.
	RoleNotice
	// RoleReversal: cancels another event; never applied itself.
	RoleReversal
)

// noticeRule is which PROACTIVE_NOTICE rule of the policy softens a kind.
type noticeRule int

const (
	notSoftened noticeRule = iota
	// outageNotice: Policy.Notice, a warning hours or days ahead (an
	// outage announced for tonight's maintenance).
	outageNotice
	// changeNotice: Policy.ChangeNotice, a warning weeks ahead (a price
	// rise announced for next month).
	changeNotice
)

// kindInfo is everything the ledger knows about one kind.
type kindInfo struct {
	// name is the stored name ("reliable_delivery").
	name string
	role Role
	// instant orders events that share a timestamp, lowest first, by
	// meaning rather than arrival: a notice before the outage it
	// announces, a grievance before the response or credit that answers
	// it. Every row sets it (0 is "missing", which a test refuses).
	instant int
	// notice says which advance notice, if any, softens an event of this
	// kind: one given within that notice's window before it.
	notice noticeRule
	// optionalWeight: the kind came after policies were first written, so
	// a policy may leave its weight out (one written before the kind
	// existed, or by a client that does not know it yet); the built-in
	// weight then applies. Every kind added from now on sets it.
	optionalWeight bool
	// weight is the built-in policy's points per unit (DefaultPolicy).
	weight float64
	// relationship: the built-in policy shapes the kind by the balance just
	// before it (Policy.Relationship.Kinds).
	relationship bool
	// describe says an event of this kind the way a support agent would.
	describe func(magnitude string, one bool) string
}

// kinds is the catalog, indexed by Kind. Adding a kind is: the API enum
// value, a row here, and a line of the README's policy table;
// TestEveryKindHasACompleteRow fails on a missing row or field.
var kinds = [...]kindInfo{
	KindCredit: {name: "credit", role: RoleRemedy, instant: 4, weight: 2, relationship: true,
		describe: func(m string, _ bool) string { return "a credit of " + m }},
	KindReliableDelivery: {name: "reliable_delivery", role: RoleDeposit, instant: 3, weight: 1,
		describe: func(m string, one bool) string {
			if one {
				return "a reliable delivery"
			}
			return m + " reliable deliveries"
		}},
	KindOutage: {name: "outage", role: RoleGrievance, instant: 2, notice: outageNotice, weight: -12,
		describe: func(m string, one bool) string {
			if one {
				return "an outage of 1 hour"
			}
			return "an outage of " + m + " hours"
		}},
	KindResponse: {name: "response", role: RoleRemedy, instant: 4, weight: 5, relationship: true,
		describe: func(string, bool) string { return "a support response" }},
	KindProactiveNotice: {name: "proactive_notice", role: RoleNotice, instant: 1, weight: 1,
		describe: func(string, bool) string { return "an advance notice" }},
	KindComplaint: {name: "complaint", role: RoleGrievance, instant: 2, weight: -8,
		describe: func(string, bool) string { return "a complaint" }},
	KindSuggestionAdopted: {name: "suggestion_adopted", role: RoleDeposit, instant: 3, weight: 10,
		describe: func(string, bool) string { return "an adopted suggestion" }},
	KindEngagement: {name: "engagement", role: RoleDeposit, instant: 3, weight: 2,
		describe: func(string, bool) string { return "an engagement" }},
	KindReversal: {name: "reversal", role: RoleReversal, instant: 5,
		describe: func(string, bool) string { return "a reversal" }},
	// A change customers feel as a loss. Not a grievance a response
	// answers: the company meant it. Announced weeks ahead, it costs less.
	KindServiceChange: {name: "service_change", role: RoleDeposit, instant: 2, notice: changeNotice, weight: -1,
		optionalWeight: true,
		describe: func(m string, one bool) string {
			if one {
				return "a service change of 1 unit"
			}
			return "a service change of " + m + " units"
		}},
	// Worse than the failure it was about: trust breaks twice. Never
	// softened by notice (the notice was the promise).
	KindBrokenPromise: {name: "broken_promise", role: RoleGrievance, instant: 2, weight: -20, optionalWeight: true,
		describe: func(m string, one bool) string {
			if one {
				return "a broken promise"
			}
			return m + " broken promises"
		}},
}

// info is k's row; the zero row for an unknown kind.
func (k Kind) info() kindInfo {
	if !k.Valid() {
		return kindInfo{}
	}
	return kinds[k]
}

// String returns the stored name of the kind.
func (k Kind) String() string {
	switch {
	case k == KindUnspecified:
		return "unspecified"
	case !k.Valid():
		return "unknown"
	}
	return kinds[k].name
}

// Role returns what the kind does in the trust rules.
func (k Kind) Role() Role { return k.info().role }

// ParseKind turns a stored name back into a Kind.
func ParseKind(name string) (Kind, bool) {
	for _, k := range AllKinds() {
		if kinds[k].name == name {
			return k, true
		}
	}
	return KindUnspecified, false
}

// Valid reports whether k is a known kind other than unspecified.
func (k Kind) Valid() bool { return k > KindUnspecified && int(k) < len(kinds) }

// Recordable reports whether clients may record k directly.
func (k Kind) Recordable() bool { return k.Valid() && kinds[k].role != RoleReversal }

// AllKinds lists every kind, in enum order.
func AllKinds() []Kind {
	out := make([]Kind, 0, len(kinds)-1)
	for k := Kind(1); int(k) < len(kinds); k++ {
		out = append(out, k)
	}
	return out
}

// RecordableKinds lists the kinds clients may record, in enum order.
func RecordableKinds() []Kind {
	var out []Kind
	for _, k := range AllKinds() {
		if k.Recordable() {
			out = append(out, k)
		}
	}
	return out
}

// APIName is the kind's name in the v1 API ("EVENT_KIND_OUTAGE"), used in
// error messages so they name what the client sent.
func (k Kind) APIName() string {
	return "EVENT_KIND_" + strings.ToUpper(k.String())
}

// kindNamesList lists the API names of every kind a filter may name, for
// error messages: "EVENT_KIND_CREDIT, EVENT_KIND_RELIABLE_DELIVERY, ...".
func kindNamesList() string { return apiNames(AllKinds()) }

// recordableKindNames lists the API names of the kinds a client may record.
func recordableKindNames() string { return apiNames(RecordableKinds()) }

func apiNames(ks []Kind) string {
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = k.APIName()
	}
	return strings.Join(names, ", ")
}
