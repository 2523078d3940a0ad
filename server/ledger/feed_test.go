package ledger

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// The ring answers exactly what a read of the whole stream would, for any
// cursor inside it, tenant, types and limit, across trims; a cursor before
// it is refused (the caller reads the database).
func TestFeedRingAnswersAsTheStream(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		var all []Notification
		f := &feed{running: true}
		seq, pruned := int64(0), int64(0)
		for range rapid.IntRange(8, 30).Draw(t, "reads") {
			var page []Notification
			for range rapid.SampledFrom([]int{0, 7, 600, feedRead, feedRead, feedRead}).Draw(t, "page") {
				seq += rapid.Int64Range(1, 3).Draw(t, "gap") // other replicas' numbers may skip
				page = append(page, Notification{Seq: seq, ID: fmt.Sprint("n", seq),
					TenantID: rapid.SampledFrom([]string{"a", "b"}).Draw(t, "tenant"),
					Type:     rapid.SampledFrom(NotificationTypes()).Draw(t, "type")})
			}
			latest := seq + rapid.Int64Range(0, 2).Draw(t, "latest")
			if len(page) == feedRead {
				latest = seq
			}
			// Retention, here or on another replica, may have deleted up
			// to some number (never above the latest given).
			if rapid.IntRange(0, 4).Draw(t, "prunes") == 0 {
				pruned = max(pruned, rapid.Int64Range(0, latest).Draw(t, "pruned"))
			}
			f.add(page, latest, pruned)
			seq = max(seq, f.to)
			all = append(all, page...)
		}
		if f.from < pruned {
			t.Fatalf("the ring starts at %d, below the pruned number %d", f.from, pruned)
		}
		if len(f.ring) > feedSize+feedSize/4 || (pruned == 0 && len(all) > feedSize && len(f.ring) < feedSize) {
			t.Fatalf("ring holds %d of %d", len(f.ring), len(all))
		}
		// Cursors at the ring's edges, where a mistake would hide, and
		// anywhere.
		after := rapid.OneOf(rapid.Int64Range(max(f.from-2, 0), f.from+2), rapid.Int64Range(max(f.to-2, 0), f.to+1),
			rapid.Int64Range(0, f.to+1)).Draw(t, "after")
		tenant := rapid.SampledFrom([]string{"", "a", "b"}).Draw(t, "read tenant")
		var types []NotificationType
		if rapid.Bool().Draw(t, "filter types") {
			types = []NotificationType{rapid.SampledFrom(NotificationTypes()).Draw(t, "want type")}
		}
		limit := rapid.IntRange(1, 3000).Draw(t, "limit")
		got, complete, ok := f.read(tenant, after, types, limit)
		if after < f.from || after > f.to {
			if ok {
				t.Fatalf("after %d outside (%d, %d] answered", after, f.from, f.to)
			}
			return
		}
		if !ok {
			t.Fatalf("after %d inside [%d, %d] refused", after, f.from, f.to)
		}
		var want []Notification
		for _, n := range all {
			if n.Seq > after && (tenant == "" || n.TenantID == tenant) && (len(types) == 0 || slices.Contains(types, n.Type)) && len(want) < limit {
				want = append(want, n)
			}
		}
		if !slices.EqualFunc(got, want, func(a, b Notification) bool { return a.ID == b.ID }) {
			i := slices.IndexFunc(want, func(w Notification) bool {
				return !slices.ContainsFunc(got, func(g Notification) bool { return g.ID == w.ID })
			})
			t.Fatalf("after %d (ring (%d, %d]): got %d notifications, want %d; first missing: %d", after, f.from, f.to, len(got), len(want), i)
		}
		// Nothing wanted is numbered in (last answered, complete].
		for _, n := range all {
			if n.Seq > after && n.Seq <= complete && (tenant == "" || n.TenantID == tenant) &&
				(len(types) == 0 || slices.Contains(types, n.Type)) && !slices.ContainsFunc(got, func(g Notification) bool { return g.ID == n.ID }) {
				t.Fatalf("complete up to %d, but %s (#%d) is missing", complete, n.ID, n.Seq)
			}
		}
	})
}
