// Package storetest is the conformance suite every ledger.Store backend
// passes. A backend's tests call Run with a function that opens a fresh,
// empty, migrated store; any behaviour the suite pins and a backend does not
// match is a bug in the backend (or, after discussion, in the suite).
//
// It must never depend on a particular backend: it talks to ledger.Store
// only. It is an ordinary package, not a _test file, so backends can import
// it.
package storetest

import (
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// Run runs the conformance suite. open must return a fresh, empty, migrated
// store each time it is called and arrange for it to be closed (t.Cleanup).
// Subtests run in parallel, so open is called from several goroutines.
//
// How the suite compares values: times are compared as instants (a backend
// may return them in any location) and are always given truncated to the
// microsecond; an empty attribute map may come back as nil or empty.
//
// Events are always appended in a transaction that also writes the
// customer's row, after the event, as the Service does; a backend may
// therefore keep a foreign key from events to customers if it is checked at
// commit.
func Run(t *testing.T, open func(t *testing.T) ledger.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s ledger.Store)
	}{
		{name: "CustomerNotFound", run: testCustomerNotFound},
		{name: "CustomerRoundTrip", run: testCustomerRoundTrip},
		{name: "PutCustomerReplaces", run: testPutCustomerReplaces},
		{name: "EventRoundTrip", run: testEventRoundTrip},
		{name: "EventKinds", run: testEventKinds},
		{name: "EventNotFound", run: testEventNotFound},
		{name: "EventIDAppendedTwice", run: testEventIDAppendedTwice},
		{name: "EventIDScope", run: testEventIDScope},
		{name: "ReadOwnWrites", run: testReadOwnWrites},
		{name: "DuplicateIdempotencyKey", run: testDuplicateIdempotencyKey},
		{name: "IdempotencyKeyScope", run: testIdempotencyKeyScope},
		{name: "DuplicateReversal", run: testDuplicateReversal},
		{name: "ReversedBy", run: testReversedBy},
		{name: "EventsOrderAndFilters", run: testEventsOrderAndFilters},
		{name: "EventsPaging", run: testEventsPaging},
		{name: "EventsPagingStable", run: testEventsPagingStable},
		{name: "TenantEventsOrderAndPaging", run: testTenantEventsOrderAndPaging},
		{name: "TenantEventsFilters", run: testTenantEventsFilters},
		{name: "History", run: testHistory},
		{name: "TenantIsolation", run: testTenantIsolation},
		{name: "UpdateRollback", run: testUpdateRollback},
		{name: "UpdateCanceledContext", run: testUpdateCanceledContext},
		{name: "UpdatePanicRollsBack", run: testUpdatePanicRollsBack},
		{name: "ViewDuringUpdate", run: testViewDuringUpdate},
		{name: "ViewSnapshot", run: testViewSnapshot},
		{name: "ConcurrentCounter", run: testConcurrentCounter},
		{name: "ConcurrentAppends", run: testConcurrentAppends},
		{name: "ConcurrentDuplicateKey", run: testConcurrentDuplicateKey},
		{name: "ConcurrentCustomerWriters", run: testConcurrentCustomerWriters},
		{name: "PolicyWaitsForWriters", run: testPolicyWaitsForWriters},
		{name: "ReadAhead", run: testReadAhead},
		{name: "WriteAfterAnotherCommits", run: testWriteAfterAnotherCommits},
		{name: "BatchedWritesCommit", run: testBatchedWritesCommit},
		{name: "Customers", run: testCustomers},
		{name: "CustomersPaging", run: testCustomersPaging},
		{name: "CountCustomers", run: testCountCustomers},
		{name: "RankedOrderAndFilters", run: testRankedOrderAndFilters},
		{name: "RankedWalk", run: testRankedWalk},
		{name: "RankedKeyChanges", run: testRankedKeyChanges},
		{name: "RankingKeysRoundTrip", run: testRankingKeysRoundTrip},
		{name: "PolicyVersions", run: testPolicyVersions},
		{name: "PolicyDuplicateVersion", run: testPolicyDuplicateVersion},
		{name: "PolicyTenantIsolation", run: testPolicyTenantIsolation},
		{name: "JobRoundTrip", run: testJobRoundTrip},
		{name: "PutJobReplaces", run: testPutJobReplaces},
		{name: "JobNotFound", run: testJobNotFound},
		{name: "JobsInState", run: testJobsInState},
		{name: "LatestJob", run: testLatestJob},
		{name: "IncidentEvent", run: testIncidentEvent},
		{name: "ViewStale", run: testViewStale},
		{name: "Lookup", run: testLookup},
		{name: "BulkCustomers", run: testBulkCustomers},
		{name: "BulkEvents", run: testBulkEvents},
		{name: "BulkMany", run: testBulkMany},
		{name: "Histories", run: testHistories},
		{name: "TrendPoints", run: testTrendPoints},
		{name: "Tenants", run: testTenants},
		{name: "CountEvents", run: testCountEvents},
		{name: "IDsSortBytewise", run: testIDsSortBytewise},
		{name: "NotificationRoundTrip", run: testNotificationRoundTrip},
		{name: "NotificationsAreTheTransactions", run: testNotificationsAreTheTransactions},
		{name: "SequencerOrder", run: testSequencerOrder},
		{name: "NotificationsWithoutHoles", run: testNotificationsWithoutHoles},
		{name: "DueCustomers", run: testDueCustomers},
		{name: "PruneNotifications", run: testPruneNotifications},
		{name: "WebhookRoundTrip", run: testWebhookRoundTrip},
		{name: "WebhookQueueAndLog", run: testWebhookQueueAndLog},
		{name: "ClaimWebhooks", run: testClaimWebhooks},
		{name: "NotificationCursors", run: testNotificationCursors},
		{name: "Leases", run: testLeases},
		{name: "LeaseOneWinner", run: testLeaseOneWinner},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

const (
	tenantA = "tenant-a"
	tenantB = "tenant-b"
)

// base has microsecond precision, like every time the suite stores.
var base = time.Date(2026, time.March, 14, 15, 9, 26, 535897000, time.UTC)

// at returns base plus n minutes.
func at(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }

func ptr[T any](v T) *T { return &v }

// waitLimit bounds how long the concurrency tests wait for something that
// should take milliseconds, so a deadlocked backend fails instead of hanging.
const waitLimit = 30 * time.Second
