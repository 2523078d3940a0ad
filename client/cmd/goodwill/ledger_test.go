package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Recording an event prints the stored event and the balance after it; the
// balance then reads back the same in JSON, CSV and a table.
func TestRecordThenBalance(t *testing.T) {
	t.Parallel()
	var rec struct {
		Event struct {
			EventID   string            `json:"eventId"`
			Kind      string            `json:"kind"`
			Magnitude float64           `json:"magnitude"`
			Note      string            `json:"note"`
			Attrs     map[string]string `json:"attributes"`
		} `json:"event"`
		Balance struct {
			Balance float64 `json:"balance"`
			Status  string  `json:"status"`
		} `json:"balance"`
		Replayed bool `json:"replayed"`
	}
	// Kinds in any case, with or without the prefix. An absolute time, so
	// that the repeat below is the same event.
	at := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	gw(t, "record", "rb1", "Event_Kind_Outage", "--magnitude", "2", "--at", at, "--note", "two hours down",
		"--attr", "region=eu", "--key", "rb1-outage").ok(t).decode(t, &rec)
	if rec.Event.Kind != "EVENT_KIND_OUTAGE" || rec.Event.Magnitude != 2 || rec.Event.Note != "two hours down" ||
		rec.Event.Attrs["region"] != "eu" || rec.Event.EventID == "" {
		t.Fatalf("recorded event = %+v", rec.Event)
	}
	if rec.Balance.Balance > -23 || rec.Balance.Status != "BALANCE_STATUS_OVERDRAWN" || rec.Replayed {
		t.Fatalf("balance after the outage = %+v, replayed %v; want about -24, overdrawn", rec.Balance, rec.Replayed)
	}
	// The same key and event again is a replay, not a second outage.
	gw(t, "record", "rb1", "outage", "--magnitude", "2", "--at", at, "--note", "two hours down",
		"--attr", "region=eu", "--key", "rb1-outage").ok(t).decode(t, &rec)
	if !rec.Replayed {
		t.Fatal("the same --key and event again was not replayed")
	}
	gw(t, "record", "rb1", "credit", "--magnitude", "4").ok(t)

	var bal struct {
		Balance struct {
			CustomerID string  `json:"customerId"`
			Balance    float64 `json:"balance"`
			Status     string  `json:"status"`
			EventCount string  `json:"eventCount"`
		} `json:"balance"`
	}
	gw(t, "balance", "rb1", "-o", "json").ok(t).decode(t, &bal)
	if bal.Balance.CustomerID != "rb1" || bal.Balance.EventCount != "2" || bal.Balance.Balance >= -20 {
		t.Fatalf("balance = %+v; want 2 events, about -22", bal.Balance)
	}

	r := gw(t, "balance", "rb1", "-o", "csv").ok(t)
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, r.stdout)
	}
	if len(recs) != 2 || strings.Join(recs[0], ",") != "customer,balance,status,overdraft_limit,events,policy_version,as_of" {
		t.Fatalf("CSV = %q", recs)
	}
	got, err := strconv.ParseFloat(recs[1][1], 64)
	if err != nil || recs[1][0] != "rb1" || recs[1][2] != "BALANCE_STATUS_OVERDRAWN" || recs[1][4] != "2" {
		t.Fatalf("CSV row = %q", recs[1])
	}
	// It fades between the two reads, by far less than a point.
	if d := got - bal.Balance.Balance; d < 0 || d > 0.01 {
		t.Fatalf("CSV balance %v, JSON balance %v", got, bal.Balance.Balance)
	}

	table := gw(t, "balance", "rb1", "-o", "table").ok(t).stdout
	for _, want := range []string{"customer:", "rb1", "status:", "OVERDRAWN", "events:", "2"} {
		if !strings.Contains(table, want) {
			t.Fatalf("table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "BALANCE_STATUS_") || strings.Contains(table, "{") {
		t.Fatalf("table shows API spellings or JSON:\n%s", table)
	}
}

func TestCustomerPutGet(t *testing.T) {
	t.Parallel()
	var put struct {
		Created  bool `json:"created"`
		Customer struct {
			DisplayName string `json:"displayName"`
		} `json:"customer"`
	}
	gw(t, "customer", "put", "cp1", "--name", "Ann Example", "--segment", "gold", "--value", "2.5",
		"--overdraft-limit", "-10", "--attr", "plan=family", "--attr", "tier=2").ok(t).decode(t, &put)
	if !put.Created || put.Customer.DisplayName != "Ann Example" {
		t.Fatalf("put = %+v", put)
	}
	var get struct {
		Customer struct {
			CustomerID     string            `json:"customerId"`
			DisplayName    string            `json:"displayName"`
			Segment        string            `json:"segment"`
			Value          float64           `json:"value"`
			OverdraftLimit float64           `json:"overdraftLimit"`
			Attributes     map[string]string `json:"attributes"`
		} `json:"customer"`
	}
	gw(t, "customer", "get", "cp1").ok(t).decode(t, &get)
	c := get.Customer
	if c.CustomerID != "cp1" || c.Segment != "gold" || c.Value != 2.5 || c.OverdraftLimit != -10 ||
		c.Attributes["plan"] != "family" || c.Attributes["tier"] != "2" {
		t.Fatalf("get = %+v", c)
	}
	// A second put replaces the profile, as the API's PUT does.
	gw(t, "customer", "put", "cp1", "--segment", "silver").ok(t).decode(t, &put)
	if put.Created {
		t.Fatal("a put of an existing customer says created")
	}
	table := gw(t, "customer", "get", "cp1", "-o", "table").ok(t).stdout
	if !strings.Contains(table, "silver") || strings.Contains(table, "Ann Example") || strings.Contains(table, "family") {
		t.Fatalf("after a replacing put:\n%s", table)
	}
	if r := gw(t, "customer", "put", "cp1", "--attr", "novalue"); r.code != exitUsage {
		t.Fatalf("--attr without = exited %d: %s", r.code, r.all())
	}
}

func TestEventsList(t *testing.T) {
	t.Parallel()
	for i, kind := range []string{"reliable_delivery", "complaint", "response"} {
		gw(t, "record", "el1", kind, "--at", "-"+strconv.Itoa(3-i)+"h").ok(t)
	}
	var page struct {
		Events []struct {
			Kind string `json:"kind"`
		} `json:"events"`
		NextPageToken string `json:"nextPageToken"`
	}
	gw(t, "events", "list", "el1", "--page-size", "2").ok(t).decode(t, &page)
	if len(page.Events) != 2 || page.Events[0].Kind != "EVENT_KIND_RESPONSE" || page.NextPageToken == "" {
		t.Fatalf("first page = %+v", page)
	}
	// A table names the next page on stderr, keeping stdout a table.
	r := gw(t, "events", "list", "el1", "--page-size", "2", "-o", "table").ok(t)
	if !strings.Contains(r.stderr, "--page-token "+page.NextPageToken) || strings.Contains(r.stdout, page.NextPageToken) {
		t.Fatalf("table page: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	gw(t, "events", "list", "el1", "--page-size", "2", "--page-token", page.NextPageToken).ok(t).decode(t, &page)
	if len(page.Events) != 1 || page.Events[0].Kind != "EVENT_KIND_RELIABLE_DELIVERY" {
		t.Fatalf("second page = %+v", page)
	}
	gw(t, "events", "list", "el1", "--all", "--page-size", "1").ok(t).decode(t, &page)
	if len(page.Events) != 3 || page.NextPageToken != "" {
		t.Fatalf("--all = %+v", page)
	}
	gw(t, "events", "list", "el1", "--kind", "COMPLAINT", "--kind", "event_kind_response").ok(t).decode(t, &page)
	if len(page.Events) != 2 {
		t.Fatalf("--kind filter = %+v", page)
	}
	gw(t, "events", "list", "el1", "--since", "-150m").ok(t).decode(t, &page)
	if len(page.Events) != 2 {
		t.Fatalf("--since -150m = %+v", page)
	}
	recs, err := csv.NewReader(strings.NewReader(gw(t, "events", "list", "el1", "-o", "csv").ok(t).stdout)).ReadAll()
	if err != nil || len(recs) != 4 || recs[0][0] != "event_id" || recs[1][2] != "EVENT_KIND_RESPONSE" {
		t.Fatalf("CSV = %q, %v", recs, err)
	}
}

// history draws the series as a sparkline in a table: full blocks while
// healthy, the lowest block at the outage's low point.
func TestHistorySparkline(t *testing.T) {
	t.Parallel()
	gw(t, "record", "hs1", "reliable_delivery", "--magnitude", "20", "--at", "-9d").ok(t)
	gw(t, "record", "hs1", "outage", "--magnitude", "3", "--at", "-5d").ok(t)
	gw(t, "record", "hs1", "suggestion_adopted", "--at", "-2d").ok(t)

	var hist struct {
		Points []struct {
			At      string  `json:"at"`
			Balance float64 `json:"balance"`
			Status  string  `json:"status"`
		} `json:"points"`
	}
	gw(t, "history", "hs1", "--start", "-10d", "--step", "1d").ok(t).decode(t, &hist)
	if len(hist.Points) != 11 || hist.Points[0].Balance != 0 || hist.Points[2].Balance < 19 || hist.Points[6].Status != "BALANCE_STATUS_OVERDRAWN" {
		t.Fatalf("history = %+v", hist.Points)
	}

	table := gw(t, "history", "hs1", "--start", "-10d", "--step", "1d", "-o", "table").ok(t).stdout
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	if len(lines) != 13 { // the sparkline, the header, 11 points
		t.Fatalf("table has %d lines:\n%s", len(lines), table)
	}
	values := make([]float64, len(hist.Points))
	for i, p := range hist.Points {
		values[i] = p.Balance
	}
	want := sparkline(values)
	if !strings.HasPrefix(lines[0], "hs1  "+want) || len([]rune(want)) != 11 {
		t.Fatalf("first line %q; want the sparkline %q", lines[0], want)
	}
	// The outage's day is the lowest level, the day after the deliveries the highest.
	if !strings.Contains(lines[2+5], "▁") || !strings.Contains(lines[2+2], "█") || !strings.Contains(lines[2+5], "OVERDRAWN") {
		t.Fatalf("rows do not carry their level:\n%s", table)
	}
	// CSV carries the numbers, not the drawing.
	csvOut := gw(t, "history", "hs1", "--start", "-10d", "--step", "1d", "-o", "csv").ok(t).stdout
	if strings.ContainsAny(csvOut, "▁▂▃▄▅▆▇█") || !strings.HasPrefix(csvOut, "at,balance,status,events\n") {
		t.Fatalf("CSV:\n%s", csvOut)
	}
	if r := gw(t, "history", "hs1", "--step", "fortnight"); r.code != exitUsage {
		t.Fatalf("--step fortnight exited %d: %s", r.code, r.all())
	}
}

func TestOutreachAndBalanceLists(t *testing.T) {
	t.Parallel()
	gw(t, "customer", "put", "or1", "--segment", "outreach-test", "--value", "3").ok(t)
	gw(t, "record", "or1", "broken_promise").ok(t)
	gw(t, "customer", "put", "or2", "--segment", "outreach-test").ok(t)
	gw(t, "record", "or2", "suggestion_adopted").ok(t)

	var out struct {
		Entries []struct {
			CustomerID string   `json:"customerId"`
			Priority   float64  `json:"priority"`
			Reasons    []string `json:"reasons"`
		} `json:"entries"`
	}
	gw(t, "outreach", "--segment", "outreach-test").ok(t).decode(t, &out)
	if len(out.Entries) != 1 || out.Entries[0].CustomerID != "or1" || out.Entries[0].Priority <= 0 || len(out.Entries[0].Reasons) == 0 {
		t.Fatalf("recovery = %+v", out)
	}
	gw(t, "outreach", "--list", "ADVOCACY", "--segment", "outreach-test", "--all").ok(t).decode(t, &out)
	if len(out.Entries) != 1 || out.Entries[0].CustomerID != "or2" {
		t.Fatalf("advocacy = %+v", out)
	}
	table := gw(t, "outreach", "--segment", "outreach-test", "-o", "table").ok(t).stdout
	if !strings.Contains(table, "PRIORITY") || !strings.Contains(table, "or1") || !strings.Contains(table, "broken promise") {
		t.Fatalf("table:\n%s", table)
	}
	if r := gw(t, "outreach", "--list", "vip"); r.code != exitUsage || !strings.Contains(r.stderr, "recovery, advocacy") {
		t.Fatalf("--list vip: exit %d, %s", r.code, r.all())
	}

	var list struct {
		Balances []struct {
			Balance struct {
				CustomerID string `json:"customerId"`
			} `json:"balance"`
		} `json:"balances"`
	}
	gw(t, "balances", "list", "--segment", "outreach-test", "--order", "desc").ok(t).decode(t, &list)
	if len(list.Balances) != 2 || list.Balances[0].Balance.CustomerID != "or2" {
		t.Fatalf("balances list desc = %+v", list)
	}
	gw(t, "balances", "list", "--segment", "outreach-test", "--status", "overdrawn").ok(t).decode(t, &list)
	if len(list.Balances) != 1 || list.Balances[0].Balance.CustomerID != "or1" {
		t.Fatalf("balances list overdrawn = %+v", list)
	}
	recs, err := csv.NewReader(strings.NewReader(gw(t, "balances", "summarize", "--segment", "outreach-test", "-o", "csv").ok(t).stdout)).ReadAll()
	if err != nil || len(recs) < 2 || recs[0][0] != "segment" || recs[1][0] != "outreach-test" || recs[1][2] != "2" || recs[1][3] != "1" {
		t.Fatalf("summarize CSV = %q, %v", recs, err)
	}
}

func TestIncidentReverseExplain(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "affected.csv")
	if err := os.WriteFile(file, []byte("customer_id,name\nir2,Bo\nir3,Cy\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var inc struct {
		Customers      int `json:"customers"`
		EventsCreated  int `json:"eventsCreated"`
		EventsReplayed int `json:"eventsReplayed"`
	}
	now := time.Now().UTC()
	args := []string{"incident", "inc-cli-1", "ir1", "--customers-file", file, "--hours", "2", "--credit", "3",
		"--notice", now.Add(-time.Hour).Format(time.RFC3339), "--started", now.Add(-30 * time.Minute).Format(time.RFC3339)}
	gw(t, args...).ok(t).decode(t, &inc)
	if inc.Customers != 3 || inc.EventsCreated != 9 {
		t.Fatalf("incident = %+v", inc)
	}
	gw(t, args...).ok(t).decode(t, &inc)
	if inc.EventsCreated != 0 || inc.EventsReplayed != 9 {
		t.Fatalf("incident again = %+v", inc)
	}
	if r := gw(t, "incident", "inc-cli-2", "ir1"); r.code != exitUsage || !strings.Contains(r.stderr, "hours") {
		t.Fatalf("no --hours: exit %d, %s", r.code, r.all())
	}

	var ex struct {
		Summary   string `json:"summary"`
		TopEvents []struct {
			Explanation string `json:"explanation"`
		} `json:"topEvents"`
	}
	gw(t, "explain", "ir1", "--top", "2").ok(t).decode(t, &ex)
	if !strings.Contains(ex.Summary, "outage") || len(ex.TopEvents) != 2 {
		t.Fatalf("explain = %+v", ex)
	}

	var rec struct {
		Event struct {
			EventID string `json:"eventId"`
		} `json:"event"`
	}
	gw(t, "record", "ir1", "complaint").ok(t).decode(t, &rec)
	var rev struct {
		Reversal struct {
			Kind            string `json:"kind"`
			Note            string `json:"note"`
			ReversesEventID string `json:"reversesEventId"`
		} `json:"reversal"`
	}
	gw(t, "reverse", "ir1", rec.Event.EventID, "--reason", "typed twice").ok(t).decode(t, &rev)
	if rev.Reversal.Kind != "EVENT_KIND_REVERSAL" || rev.Reversal.ReversesEventID != rec.Event.EventID || rev.Reversal.Note != "typed twice" {
		t.Fatalf("reverse = %+v", rev)
	}
	// Reversing twice is FAILED_PRECONDITION: exit 1, the code named.
	if r := gw(t, "reverse", "ir1", rec.Event.EventID); r.code != exitError || !strings.HasPrefix(r.stderr, "goodwill: FAILED_PRECONDITION: ") {
		t.Fatalf("second reversal: exit %d, %s", r.code, r.all())
	}
}
