package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/goodwill-ledger/goodwill/server/app"
)

// dashboardFile is the Grafana dashboard shipped for goodwilld.
const dashboardFile = "../../deploy/grafana/goodwill.json"

// conditionalMetrics are exported only in some configurations. When the
// test server runs without that configuration, the name is checked
// against its registration in metrics.go instead; CI runs the suite on
// PostgreSQL and with NATS too, where they are scraped.
var conditionalMetrics = map[string]string{
	"goodwill_store_transaction_retries_total":  "a PostgreSQL or CockroachDB store",
	"goodwill_store_stale_read_fallbacks_total": "a PostgreSQL or CockroachDB store",
	"goodwill_notifications_published":          "--nats-url",
}

// dashboard is the part of Grafana's dashboard model the test reads.
type dashboard struct {
	UID, Title string
	Panels     []dashboardPanel
	Templating struct {
		List []struct {
			Name, Type string
			Query      json.RawMessage // a string, or {"query": "..."}
		}
	}
}

type dashboardPanel struct {
	ID         int
	Type       string
	Title      string
	Datasource *struct{ UID string }
	GridPos    struct{ H, W, X, Y int }
	Targets    []struct {
		RefID      string `json:"refId"`
		Expr       string
		Datasource *struct{ UID string }
	}
	Panels []dashboardPanel // a collapsed row's
}

// Every PromQL expression of the Grafana dashboard selects only metrics a
// real goodwilld exports (scraped from its /metrics), and every goodwill_*
// metric it exports has a panel: the dashboard cannot drift from the
// server either way.
func TestDashboardMatchesMetrics(t *testing.T) {
	t.Parallel()
	d := readDashboard(t)
	used := dashboardMetrics(t, d)

	metricsAddr := freeLoopbackAddr(t)
	natsURL := optionalNATS(t)
	db := freshDB(t)
	startServer(t, db, func(c *app.Config) {
		c.MetricsAddr = metricsAddr
		if natsURL != "" {
			c.NATSURL = natsURL
			c.NATSStream, c.NATSSubjectPrefix = natsStreamFor(t, natsURL)
		}
	})
	series, families := scrape(t, metricsAddr)

	registered, err := os.ReadFile("metrics.go")
	if err != nil {
		t.Fatal(err)
	}
	for name, where := range used {
		if series[name] {
			continue
		}
		cond, ok := conditionalMetrics[family(name, families, conditionalMetrics)]
		if !ok {
			t.Errorf("the dashboard's %s selects %s, which goodwilld does not export", where, name)
			continue
		}
		active := cond == "--nats-url" && natsURL != "" || cond != "--nats-url" && !strings.HasPrefix(db, "sqlite:")
		switch {
		case active:
			t.Errorf("the dashboard's %s selects %s, which goodwilld with %s does not export", where, name, cond)
		case !strings.Contains(string(registered), `Name: "`+name+`"`):
			t.Errorf("the dashboard's %s selects %s, which metrics.go does not register", where, name)
		default:
			t.Logf("%s is exported only with %s (not in this run): checked against metrics.go", name, cond)
		}
	}

	// The other way: each goodwill_* metric family has a panel.
	usedFamilies := map[string]bool{}
	for name := range used {
		usedFamilies[family(name, families, nil)] = true
	}
	for f := range families {
		if strings.HasPrefix(f, "goodwill_") && !usedFamilies[f] {
			t.Errorf("goodwilld exports %s, which no panel of %s shows: add one", f, dashboardFile)
		}
	}
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("%s: no uid, title or panels", dashboardFile)
	}
	return d
}

// dashboardMetrics checks the dashboard's shape (unique panel ids, panels
// inside the 24-column grid, the $datasource variable everywhere, every
// query filtered by $job) and returns each metric name it selects, with
// where.
func dashboardMetrics(t *testing.T, d dashboard) map[string]string {
	t.Helper()
	used := map[string]string{}
	add := func(where, expr string, names []string, err error) {
		if err != nil {
			t.Errorf("%s: %v", where, err)
		}
		if len(names) == 0 {
			t.Errorf("%s: %q selects no metric", where, expr)
		}
		for _, n := range names {
			used[n] = where
		}
	}
	ids := map[int]bool{}
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			where := "panel " + p.Title
			if ids[p.ID] || p.ID == 0 {
				t.Errorf("%s: id %d is zero or not unique", where, p.ID)
			}
			ids[p.ID] = true
			if p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
				t.Errorf("%s: gridPos %+v outside the 24-column grid", where, p.GridPos)
			}
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no query", where)
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("%s: datasource %+v, want the ${datasource} variable (the dashboard imports into any Grafana)", where, p.Datasource)
			}
			for _, tg := range p.Targets {
				if tg.Datasource != nil && tg.Datasource.UID != "${datasource}" {
					t.Errorf("%s query %s: datasource %+v, want ${datasource}", where, tg.RefID, tg.Datasource)
				}
				if !strings.Contains(tg.Expr, `job=~"$job"`) {
					t.Errorf("%s query %s: %q ignores the $job variable", where, tg.RefID, tg.Expr)
				}
				names, err := promqlMetricNames(tg.Expr)
				add(where+" query "+tg.RefID, tg.Expr, names, err)
			}
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		if json.Unmarshal(v.Query, &q) != nil {
			var obj struct{ Query string }
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				t.Fatalf("variable %s: query %s: %v", v.Name, v.Query, err)
			}
			q = obj.Query
		}
		names, err := grafanaQueryMetricNames(q)
		add("variable $"+v.Name, q, names, err)
	}
	return used
}

// seriesName is a sample line's metric name.
var seriesName = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]`)

// scrape reads /metrics: the names of the series present, and each
// family's type (from its # TYPE line).
func scrape(t *testing.T, addr string) (series map[string]bool, families map[string]string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	series, families = map[string]bool{}, map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			if f := strings.Fields(rest); len(f) == 2 {
				families[f[0]] = f[1]
			}
		} else if m := seriesName.FindStringSubmatch(line); m != nil {
			series[m[1]] = true
		}
	}
	if len(series) == 0 {
		t.Fatalf("/metrics exported nothing:\n%s", raw)
	}
	return series, families
}

// family is the metric family a series name belongs to: a histogram's or
// summary's _bucket, _sum and _count belong to it. Families the scrape did
// not show (conditional ones) are looked up among extra.
func family(name string, families map[string]string, extra map[string]string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		if typ := families[base]; typ == "histogram" || typ == "summary" {
			return base
		}
		if _, ok := extra[base]; ok {
			return base
		}
	}
	return name
}

// optionalNATS is the test broker's URL when one listens, else "" (and a
// failure when GOODWILL_TEST_REQUIRE_NATS=1, as in CI): without it the
// published-number metric is checked against metrics.go only.
func optionalNATS(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("GOODWILL_TEST_NATS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:4222"
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		if os.Getenv("GOODWILL_TEST_REQUIRE_NATS") == "1" {
			t.Fatalf("NATS required but nothing listens on %s: %v", addr, err)
		}
		return ""
	}
	c.Close()
	return "nats://" + addr
}

// natsStreamFor names a stream and subject prefix of the test's own on a
// shared broker, deleted at the end.
func natsStreamFor(t *testing.T, url string) (stream, prefix string) {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	suffix := hex.EncodeToString(b)
	stream, prefix = "GOODWILL_DASH_"+suffix, "goodwilldash_"+suffix
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-in first-out: after the server has stopped.
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), stream) })
	return stream, prefix
}
