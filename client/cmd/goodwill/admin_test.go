package main

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWhoami(t *testing.T) {
	t.Parallel()
	var who struct {
		KeyID    string `json:"keyId"`
		TenantID string `json:"tenantId"`
		Role     string `json:"role"`
	}
	gw(t, "whoami").ok(t).decode(t, &who)
	if who.KeyID == "" || who.TenantID != "default" || who.Role != "ROLE_ADMIN" {
		t.Fatalf("whoami = %+v", who)
	}
	if !strings.HasPrefix(srv.token, "gwk_"+who.KeyID) {
		t.Fatalf("key id %q is not the admin key's", who.KeyID)
	}
	table := gw(t, "whoami", "-o", "table").ok(t).stdout
	if !strings.Contains(table, "ADMIN") || !strings.Contains(table, srv.grpcAddr) {
		t.Fatalf("table:\n%s", table)
	}
}

// The JSON policy get prints goes back in through policy set as it is,
// edited; a repeat with the same --key is replayed; policy job without an
// id follows the job the last set started.
func TestPolicyRoundTrip(t *testing.T) {
	t.Parallel()
	got := gw(t, "policy", "get", "-o", "json").ok(t)
	var doc map[string]any
	got.decode(t, &doc)
	pol := doc["policy"].(map[string]any)
	before := pol["version"].(string)
	weights := pol["weights"].(map[string]any)
	if weights["EVENT_KIND_SUGGESTION_ADOPTED"].(float64) == 11 {
		t.Fatal("the weight the test sets is already set")
	}
	weights["EVENT_KIND_SUGGESTION_ADOPTED"] = 11
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	type setResp struct {
		Policy struct {
			Version string             `json:"version"`
			Weights map[string]float64 `json:"weights"`
		} `json:"policy"`
		Job struct {
			JobID string `json:"jobId"`
		} `json:"job"`
		Replayed bool `json:"replayed"`
	}
	var set setResp
	gw(t, "policy", "set", file, "--key", "cli-test-policy").ok(t).decode(t, &set)
	if set.Policy.Version == before || set.Policy.Weights["EVENT_KIND_SUGGESTION_ADOPTED"] != 11 || set.Job.JobID == "" || set.Replayed {
		t.Fatalf("policy set = %+v (version before %s)", set, before)
	}
	var again setResp
	gw(t, "policy", "set", file, "--key", "cli-test-policy").ok(t).decode(t, &again)
	if !again.Replayed || again.Policy.Version != set.Policy.Version {
		t.Fatalf("policy set again with the key = %+v", again)
	}

	var active struct {
		Policy struct {
			Weights map[string]float64 `json:"weights"`
		} `json:"policy"`
		ActiveVersion string `json:"activeVersion"`
	}
	gw(t, "policy", "get").ok(t).decode(t, &active)
	if active.ActiveVersion != set.Policy.Version || active.Policy.Weights["EVENT_KIND_SUGGESTION_ADOPTED"] != 11 {
		t.Fatalf("policy get after set = %+v", active)
	}
	var old struct {
		Policy struct {
			Weights map[string]float64 `json:"weights"`
		} `json:"policy"`
	}
	gw(t, "policy", "get", "--version", before).ok(t).decode(t, &old)
	if old.Policy.Weights["EVENT_KIND_SUGGESTION_ADOPTED"] == 11 {
		t.Fatal("the old version changed")
	}

	var job struct {
		Job struct {
			JobID         string `json:"jobId"`
			PolicyVersion string `json:"policyVersion"`
		} `json:"job"`
	}
	gw(t, "policy", "job").ok(t).decode(t, &job)
	if job.Job.JobID != set.Job.JobID || job.Job.PolicyVersion != set.Policy.Version {
		t.Fatalf("policy job (remembered) = %+v; want %s", job, set.Job.JobID)
	}
	gw(t, "policy", "job", "resume", set.Job.JobID).ok(t).decode(t, &job)
	if job.Job.JobID != set.Job.JobID {
		t.Fatalf("policy job resume = %+v", job)
	}
	if r := gw(t, "policy", "job", "no-such-job"); r.code != exitNotFound {
		t.Fatalf("unknown job: exit %d, %s", r.code, r.all())
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"weights": {"EVENT_KIND_OUTAGE": "lots"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := gw(t, "policy", "set", bad); r.code != exitUsage {
		t.Fatalf("a malformed policy file: exit %d, %s", r.code, r.all())
	}
	csvOut := gw(t, "policy", "get", "-o", "csv").ok(t).stdout
	if !strings.HasPrefix(csvOut, "kind,weight\n") || !strings.Contains(csvOut, "EVENT_KIND_SUGGESTION_ADOPTED,11\n") {
		t.Fatalf("policy CSV:\n%s", csvOut)
	}
}

func TestNotificationsList(t *testing.T) {
	t.Parallel()
	gw(t, "record", "nl1", "outage").ok(t)
	var page struct {
		Notifications []struct {
			Type       string `json:"type"`
			CustomerID string `json:"customerId"`
			Cursor     string `json:"cursor"`
		} `json:"notifications"`
		NextCursor string `json:"nextCursor"`
	}
	gw(t, "notifications", "list", "--type", "customer.overdrawn", "--all", "--page-size", "2").ok(t).decode(t, &page)
	found := false
	for _, n := range page.Notifications {
		if n.Type != "customer.overdrawn" {
			t.Fatalf("a %s in a list of customer.overdrawn", n.Type)
		}
		found = found || n.CustomerID == "nl1"
	}
	if !found || page.NextCursor == "" {
		t.Fatalf("nl1's overdrawn notification is not listed: %+v", page)
	}
	if r := gw(t, "notifications", "list", "--type", "customer.happy"); r.code != exitUsage || !strings.Contains(r.stderr, "INVALID_ARGUMENT") {
		t.Fatalf("an unknown type: exit %d, %s", r.code, r.all())
	}
}

func TestWebhooks(t *testing.T) {
	t.Parallel()
	// A receiver that takes everything (the server allows private URLs).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })}
	go func() { _ = hs.Serve(l) }()
	t.Cleanup(func() { hs.Close() })
	url := "http://" + l.Addr().String() + "/hook"

	var created struct {
		Webhook struct {
			WebhookID string   `json:"webhookId"`
			URL       string   `json:"url"`
			Types     []string `json:"types"`
		} `json:"webhook"`
		Secret string `json:"secret"`
	}
	gw(t, "webhooks", "create", url, "--type", "customer.overdrawn", "--description", "cli test").ok(t).decode(t, &created)
	id := created.Webhook.WebhookID
	if id == "" || created.Webhook.URL != url || !strings.HasPrefix(created.Secret, "whsec_") || len(created.Webhook.Types) != 1 {
		t.Fatalf("create = %+v", created)
	}
	list := gw(t, "webhooks", "list", "-o", "table").ok(t).stdout
	if !strings.Contains(list, id) || strings.Contains(list, created.Secret) {
		t.Fatalf("list:\n%s", list)
	}
	get := gw(t, "webhooks", "get", id, "-o", "table").ok(t).stdout
	if !strings.Contains(get, "cli test") || !strings.Contains(get, "customer.overdrawn") {
		t.Fatalf("get:\n%s", get)
	}
	gw(t, "webhooks", "deliveries", id).ok(t)
	var rotated struct {
		Secret string `json:"secret"`
	}
	gw(t, "webhooks", "rotate-secret", id).ok(t).decode(t, &rotated)
	if !strings.HasPrefix(rotated.Secret, "whsec_") || rotated.Secret == created.Secret {
		t.Fatalf("rotate-secret = %+v", rotated)
	}
	gw(t, "webhooks", "delete", id).ok(t)
	if r := gw(t, "webhooks", "get", id); r.code != exitNotFound || !strings.HasPrefix(r.stderr, "goodwill: NOT_FOUND: ") {
		t.Fatalf("get after delete: exit %d, %s", r.code, r.all())
	}
}
