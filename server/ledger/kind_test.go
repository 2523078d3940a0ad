package ledger

import (
	"slices"
	"testing"
)

// Every kind has a complete row in the catalog: a forgotten field would
// compile and pass the other tests (a missing same-instant order once
// sorted a new kind before outages).
func TestEveryKindHasACompleteRow(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, k := range AllKinds() {
		row := kinds[k]
		switch {
		case row.name == "":
			t.Errorf("kind %d has no name", k)
		case names[row.name]:
			t.Errorf("kind %d repeats the name %q", k, row.name)
		case row.role == 0:
			t.Errorf("%s has no role", row.name)
		case row.instant == 0:
			t.Errorf("%s has no same-instant order", row.name)
		case row.describe == nil:
			t.Errorf("%s cannot be described", row.name)
		case row.role != RoleReversal && row.weight == 0:
			t.Errorf("%s has no weight in the built-in policy", row.name)
		}
		names[row.name] = true
		if got, ok := ParseKind(row.name); !ok || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", row.name, got, ok)
		}
	}
	// Every kind added after the first policies were written must be
	// optional in a policy, or a client sending yesterday's policy (and
	// every version stored before the kind) would be refused.
	for _, k := range AllKinds() {
		if k > KindReversal && !kinds[k].optionalWeight {
			t.Errorf("%s came after the first policies but its weight is not optional", kinds[k].name)
		}
	}
}

// The orders at one instant say what the rules need: a notice before what
// it softens, a grievance before the remedy that answers it, a reversal
// last.
func TestSameInstantOrderFollowsTheRules(t *testing.T) {
	t.Parallel()
	for _, a := range AllKinds() {
		for _, b := range AllKinds() {
			ra, rb := kinds[a], kinds[b]
			switch {
			case ra.role == RoleNotice && rb.notice != notSoftened && ra.instant >= rb.instant:
				t.Errorf("%s does not come before %s, which it softens", ra.name, rb.name)
			case ra.role == RoleGrievance && rb.role == RoleRemedy && ra.instant >= rb.instant:
				t.Errorf("%s does not come before %s, which answers it", ra.name, rb.name)
			case rb.role == RoleReversal && a != b && ra.instant >= rb.instant:
				t.Errorf("%s does not come before a reversal", ra.name)
			}
		}
	}
	if !slices.Equal(DefaultPolicy().Relationship.Kinds, []Kind{KindCredit, KindResponse}) {
		t.Errorf("built-in relationship kinds %v", DefaultPolicy().Relationship.Kinds)
	}
}
