package ledger

import (
	"fmt"
	"testing"
)

// A customer always goes to the same committer (so its events keep their
// order), and customers spread over all of them.
func TestCommitterRouting(t *testing.T) {
	cs := make(committers, 4)
	used := map[int]int{}
	for i := range 1000 {
		id := fmt.Sprintf("c%d", i)
		first := cs.pick("t", id)
		for range 3 {
			if got := cs.pick("t", id); got != first {
				t.Fatalf("%s went to committer %d, then %d", id, first, got)
			}
		}
		used[first]++
	}
	for i := range cs {
		if used[i] < 150 {
			t.Errorf("committer %d got %d of 1000 customers: %v", i, used[i], used)
		}
	}
	// The tenant is part of the route: ("ab", "c") and ("a", "bc") differ.
	if cs.pick("ab", "c") == cs.pick("a", "bc") && cs.pick("ab", "cd") == cs.pick("a", "bcd") && cs.pick("xy", "z") == cs.pick("x", "yz") {
		t.Error("tenant and customer are not separated in the route")
	}
}
