package ledger

import "strings"

// Kind says what happened between the business and a customer.
type Kind int

// The kinds of event. The numeric values match the v1 API enum, but the
// stored form is the name (see Kind.String) so analysts can read the tables.
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
)

var kindNames = [...]string{
	KindUnspecified:       "unspecified",
	KindCredit:            "credit",
	KindReliableDelivery:  "reliable_delivery",
	KindOutage:            "outage",
	KindResponse:          "response",
	KindProactiveNotice:   "proactive_notice",
	KindComplaint:         "complaint",
	KindSuggestionAdopted: "suggestion_adopted",
	KindEngagement:        "engagement",
	KindReversal:          "reversal",
}

// String returns the stored name of the kind.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "unknown"
	}
	return kindNames[k]
}

// ParseKind turns a stored name back into a Kind.
func ParseKind(name string) (Kind, bool) {
	for k, n := range kindNames {
		if n == name && Kind(k) != KindUnspecified {
			return Kind(k), true
		}
	}
	return KindUnspecified, false
}

// Valid reports whether k is a known kind other than unspecified.
func (k Kind) Valid() bool { return k > KindUnspecified && k <= KindReversal }

// Recordable reports whether clients may record k directly.
func (k Kind) Recordable() bool { return k.Valid() && k != KindReversal }

// RecordableKinds lists the kinds clients may record, in enum order.
func RecordableKinds() []Kind {
	out := make([]Kind, 0, len(kindNames))
	for k := KindCredit; k < KindReversal; k++ {
		out = append(out, k)
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
func kindNamesList() string {
	names := make([]string, 0, len(kindNames)-1)
	for k := KindCredit; k <= KindReversal; k++ {
		names = append(names, k.APIName())
	}
	return strings.Join(names, ", ")
}

// recordableKindNames lists the API names of the kinds a client may record.
func recordableKindNames() string {
	names := make([]string, 0, len(kindNames))
	for _, k := range RecordableKinds() {
		names = append(names, k.APIName())
	}
	return strings.Join(names, ", ")
}
