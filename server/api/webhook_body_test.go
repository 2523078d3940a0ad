package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// WebhookBody assembles its document by hand; it must still be valid JSON
// with the documented fields, for every type.
func TestWebhookBodyIsTheDocumentedJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 30, 0, 123456789, time.FixedZone("CET", 3600))
	for _, typ := range ledger.NotificationTypes() {
		n := ledger.Notification{TenantID: "t", ID: "ntf_1", Seq: 7, Type: typ, CustomerID: `c"\1`, OccurredAt: at,
			PolicyVersion: 2, After: ledger.Snapshot{Value: -3.5, Status: ledger.StatusOverdrawn}}
		b, err := WebhookBody(n)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Type      string         `json:"type"`
			Timestamp time.Time      `json:"timestamp"`
			Data      map[string]any `json:"data"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v in %s", typ, err, b)
		}
		if doc.Type != string(typ) || !doc.Timestamp.Equal(at) || doc.Data["customerId"] != `c"\1` || doc.Data["notificationId"] != "ntf_1" {
			t.Errorf("%s: decoded %+v from %s", typ, doc, b)
		}
	}
}
