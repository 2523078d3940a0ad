package app_test

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"google.golang.org/protobuf/proto"

	"github.com/goodwill-ledger/goodwill/client/web"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/auth"
)

// maxConsoleGzipBytes is the console's weight budget: every file it
// loads, gzipped.
const maxConsoleGzipBytes = 300 << 10

// The console's files stay within their weight budget and are what goodwilld
// serves at /console/, with the security headers.
func TestConsoleIsServedWithinItsBudget(t *testing.T) {
	total := 0
	err := fs.WalkDir(web.Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(web.Files(), p)
		if err != nil {
			return err
		}
		n := gzipSize(t, b)
		t.Logf("%s: %d bytes, %d gzipped", p, len(b), n)
		total += n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total == 0 || total > maxConsoleGzipBytes {
		t.Errorf("console: %d bytes gzipped, want 1 to %d", total, maxConsoleGzipBytes)
	}

	s := startServer(t, "")
	for path, want := range map[string]string{"/console/": "text/html", "/console/assets/console.js": "javascript"} {
		resp, err := http.Get(s.baseURL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), want) || len(body) == 0 {
			t.Errorf("GET %s: %d %q, %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: headers %v", path, resp.Header)
		}
	}
	// The index has no inline script: every script is a file of ours.
	resp, err := http.Get(s.baseURL + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	index, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(index), "<script>") || strings.Contains(string(index), "http") {
		t.Errorf("index.html has an inline script or an external address:\n%s", index)
	}
	// ETags let a browser revalidate without downloading again.
	req, _ := http.NewRequest(http.MethodGet, s.baseURL+"/console/assets/console.js", nil)
	first, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	first.Body.Close()
	req.Header.Set("If-None-Match", first.Header.Get("ETag"))
	again, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	again.Body.Close()
	if first.Header.Get("ETag") == "" || again.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: ETag %q, then %d", first.Header.Get("ETag"), again.StatusCode)
	}
	// The server's root sends a browser to the console; --no-console
	// serves none.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	root, err := noRedirect.Get(s.baseURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	root.Body.Close()
	if root.StatusCode != http.StatusFound || root.Header.Get("Location") != "/console/" {
		t.Errorf("GET /: %d to %q", root.StatusCode, root.Header.Get("Location"))
	}
}

func gzipSize(t *testing.T, b []byte) int {
	var n countWriter
	z, err := gzip.NewWriterLevel(&n, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = z.Write(b)
	_ = z.Close()
	return int(n)
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// chromium finds the browser, or skips the test saying why (fails
// instead when GOODWILL_TEST_BROWSER=required, as CI sets it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("GOODWILL_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("GOODWILL_TEST_BROWSER") == "required" {
		t.Fatal("no Chromium found (apt-get install chromium), and GOODWILL_TEST_BROWSER=required")
	}
	t.Skip("no Chromium found: install Debian's chromium (apt-get install chromium) to run the console's browser tests")
	return ""
}

// browserSession is a headless Chromium on one page, recording every
// request it makes and every error its pages log.
type browserSession struct {
	ctx      context.Context
	mu       sync.Mutex
	requests []string
	errors   []string
}

func newBrowser(t *testing.T) *browserSession {
	t.Helper()
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browserSession{}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, e.Request.URL)
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			if d.Exception != nil {
				b.errors = append(b.errors, d.Text+" "+d.Exception.Description)
			} else {
				b.errors = append(b.errors, d.Text)
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.errors = append(b.errors, strings.Join(parts, " "))
			}
		case *cdplog.EventEntryAdded:
			// CSP violations and failed loads are logged here.
			if e.Entry.Level == cdplog.EntryLevelError {
				b.errors = append(b.errors, e.Entry.Text+" "+e.Entry.URL)
			}
		}
	}))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser; its context must not time out.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium (%s): %v", exe, err)
	}
	b.ctx = ctx
	return b
}

// run runs a step's actions, failing the test (with the page's text and
// a screenshot) if one fails or takes over 20 s.
func (b *browserSession) run(t *testing.T, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(t, step, err)
	}
}

func (b *browserSession) fail(t *testing.T, step string, err error) {
	t.Helper()
	shot, _ := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	path := filepath.Join(t.TempDir(), "failed.png")
	_ = os.WriteFile(path, shot, 0o644)
	text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.innerText`))
	t.Fatalf("%s: %v\npage text:\n%s\n(screenshot %s; page errors %v)", step, err, text, path, b.pageErrors())
}

// value runs one action that gives a value.
func value[T any](t *testing.T, b *browserSession, step string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fail(t, step, err)
	}
	return v
}

func (b *browserSession) text(t *testing.T, sel string) string {
	t.Helper()
	return value(t, b, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func (b *browserSession) count(t *testing.T, sel string) int {
	t.Helper()
	return value(t, b, "count "+sel, chromedp.Evaluate[int](js(`document.querySelectorAll(%q).length`, sel)))
}

// until waits (10 s at most) for a JavaScript condition to hold.
func until(cond string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(10*time.Second))(ctx, tg)
		return chromedp.Void{}, err
	}
}

// css shortens the actions' selectors: each is a CSS selector.
func visible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}
func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
func keys(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS(sel), v)
}

func (b *browserSession) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// screenshot saves the page as docs/console/<name>.png when
// GOODWILL_CONSOLE_SCREENSHOTS names a directory (make screenshots).
func (b *browserSession) screenshot(t *testing.T, name string) {
	t.Helper()
	dir := os.Getenv("GOODWILL_CONSOLE_SCREENSHOTS")
	if dir == "" {
		return
	}
	b.run(t, "settle", chromedp.Sleep(300*time.Millisecond))
	shot := value(t, b, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
}

// js is a script's text with %q arguments quoted as JavaScript strings.
func js(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// The console in a real browser against a real goodwilld: every page a
// person uses, each role, live updates, a phone-width screen, and no
// request leaving the server.
func TestConsoleInABrowser(t *testing.T) {
	if os.Getenv("GOODWILL_TEST_STORE") == "postgres" {
		t.Skip("the console calls only the REST API: its browser test runs once, in the SQLite pass")
	}
	b := newBrowser(t)
	s := startServer(t, "")
	ctx := context.Background()
	now := time.Now()
	// Ann had a long outage two days ago that nobody answered: she tops
	// RECOVERY. Bob is served reliably.
	if _, err := s.UpsertCustomer(ctx, &goodwillv1.UpsertCustomerRequest{CustomerId: "ann", Customer: &goodwillv1.Customer{
		DisplayName: "Ann Overdrawn", Segment: "gold", Value: proto.Float64(3)}}); err != nil {
		t.Fatal(err)
	}
	record(t, s, pev("ann", goodwillv1.EventKind_EVENT_KIND_RELIABLE_DELIVERY, 2, now.Add(-20*24*time.Hour)))
	record(t, s, pev("ann", goodwillv1.EventKind_EVENT_KIND_OUTAGE, 10, now.Add(-48*time.Hour)))
	record(t, s, pev("bob", goodwillv1.EventKind_EVENT_KIND_RELIABLE_DELIVERY, 5, now.Add(-24*time.Hour)))
	reader, writer := s.newKey(t, "default", auth.Reader), s.newKey(t, "default", auth.Writer)
	if shots := os.Getenv("GOODWILL_CONSOLE_SCREENSHOTS"); shots != "" {
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	const recovery = `[data-testid="outreach_purpose_recovery"]`
	const firstRow = recovery + ` tbody tr:first-child`

	// A wrong key is refused as the API states it.
	b.run(t, "open the console", chromedp.Navigate(s.baseURL+"/console/"), visible("#key"))
	b.screenshot(t, "sign-in")
	b.run(t, "a wrong key", keys("#key", "gwk_0000000000000000_wrong"), click(`button[type="submit"]`), visible(".error"))
	if msg := b.text(t, ".error"); !strings.Contains(msg, "UNAUTHENTICATED") {
		t.Errorf("a wrong key shows %q, want the API's UNAUTHENTICATED", msg)
	}

	// The admin key, typed and sent with Enter (the keyboard alone).
	start := time.Now()
	b.run(t, "sign in as admin", fill("#key", s.token), keys("#key", kb.Enter), visible(firstRow))
	t.Logf("signed in and outreach rendered in %s", time.Since(start).Round(time.Millisecond))
	role, first, reasons := b.text(t, `[data-testid="role"]`), b.text(t, firstRow+` td:first-child a`), b.count(t, firstRow+` ul.reasons li`)
	if role != "admin key · default" || first != "Ann Overdrawn" || reasons == 0 {
		t.Errorf("after sign-in: role %q, first in RECOVERY %q with %d reasons; want admin, Ann Overdrawn, some reasons", role, first, reasons)
	}
	if key := value(t, b, "sessionStorage", chromedp.Evaluate[string](`sessionStorage.getItem("goodwill.key") || ""`)); key != s.token {
		t.Error("the key is not kept in sessionStorage")
	}
	b.screenshot(t, "outreach")

	// The segment filter keeps the list to one segment.
	b.run(t, "filter by segment", keys(`#outreach_purpose_recovery-segment`, "silver"+kb.Enter), visible(recovery+` .empty`))
	if n := b.count(t, recovery+` tbody tr`); n != 0 {
		t.Errorf("segment silver: %d rows, want none", n)
	}
	b.run(t, "segment gold", fill(`#outreach_purpose_recovery-segment`, "gold"), keys(`#outreach_purpose_recovery-segment`, kb.Enter), visible(firstRow))

	// The customer: a chart with points, then a response recorded and
	// reversed, the balance following.
	b.run(t, "open Ann", click(firstRow+` td:first-child a`), visible(`[data-testid="balance-chart"] canvas`), visible(`[data-testid="balance"]`))
	points := value(t, b, "chart points", chromedp.AttributeValue(chromedp.CSS(`[data-testid="balance-chart"]`), "data-points")).Value
	marks := value(t, b, "chart marks", chromedp.AttributeValue(chromedp.CSS(`[data-testid="balance-chart"]`), "data-events")).Value
	if n, _ := strconv.Atoi(points); n < 10 {
		t.Errorf("the chart has %s points, want a series", points)
	}
	if marks != "2" {
		t.Errorf("the chart marks %s events in 30 days, want 2 (the delivery and the outage)", marks)
	}
	// Ann is overdrawn: the way back shows, with the hollow rule on her
	// credit.
	b.run(t, "the way back", visible(`[data-testid="way-back"] tbody tr`))
	if plan, rows := b.text(t, `[data-testid="plan-summary"]`), b.count(t, `[data-testid="way-back"] tbody tr`); !strings.Contains(plan, "a credit of") || rows < 3 {
		t.Errorf("the way back: %q with %d rows, want a credit and a row per kind", plan, rows)
	}
	b.screenshot(t, "customer")
	balance0 := b.text(t, `[data-testid="balance"]`)
	balanceIs := func(op string) string {
		return `document.querySelector('[data-testid="balance"]').textContent ` + op + ` ` + strconv.Quote(balance0)
	}
	b.run(t, "record a response", click(`[data-testid="record-form"] button[type="submit"]`), visible(`[data-testid="recorded"]`), until(balanceIs("!==")))
	b.run(t, "reverse it",
		visible(`[data-testid="events"] tbody tr button`),
		until(`[...document.querySelectorAll('[data-testid="events"] tbody tr')].some(r => r.textContent.includes("Support response") && r.querySelector("button"))`),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('[data-testid="events"] tbody tr')].find(r => r.textContent.includes("Support response")).querySelector("button").click()`)(ctx, tg)
			return err
		}),
		visible(`button.danger`), click(`button.danger`), until(balanceIs("===")))
	list, err := s.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list.GetEvents()); n != 4 || list.GetEvents()[0].GetKind() != goodwillv1.EventKind_EVENT_KIND_REVERSAL {
		t.Errorf("after record and reverse, ann has %d events, newest %v; want 4, a reversal", n, list.GetEvents()[0].GetKind())
	}

	// Live: the open customer page follows an event recorded elsewhere.
	balance1 := b.text(t, `[data-testid="balance"]`)
	record(t, s, pev("ann", goodwillv1.EventKind_EVENT_KIND_CREDIT, 50, time.Now().Add(-time.Minute)))
	b.run(t, "the customer page updates by itself",
		until(`document.querySelector('[data-testid="balance"]').textContent !== `+strconv.Quote(balance1)))

	// Live: a customer's trust breaks while the outreach page is open.
	b.run(t, "outreach again", chromedp.Navigate(s.baseURL+"/console/#/outreach"), visible(firstRow), chromedp.Sleep(time.Second))
	record(t, s, pev("zed", goodwillv1.EventKind_EVENT_KIND_OUTAGE, 20, time.Now().Add(-time.Minute)))
	b.run(t, "zed appears without a reload", until(js(`document.querySelector(%q).textContent.includes("zed")`, recovery)))

	// Segments: the table and its chart.
	b.run(t, "segments", chromedp.Navigate(s.baseURL+"/console/#/segments"), visible(`[data-testid="spread-chart"] canvas`))
	if n := b.count(t, `[data-testid="segments"] tbody tr`); n < 2 {
		t.Errorf("segments: %d rows, want gold, the rest, and the total", n)
	}
	// The trend: no snapshots yet, so an admin backfills the last 30 days
	// and the chart draws them.
	b.run(t, "backfill the trend", visible(`[data-testid="backfill"]`), click(`[data-testid="backfill"]`),
		visible(`[data-testid="trend-chart"] canvas`))
	if days := b.text(t, `[data-testid="trend"] .sub`); !strings.Contains(days, "overdrawn") {
		t.Errorf("the trend's caption: %q", days)
	}
	if n := value(t, b, "trend days", chromedp.Evaluate[string](`document.querySelector('[data-testid="trend-chart"]').dataset.days`)); n != "30" {
		t.Errorf("the trend charts %s days, want 30", n)
	}
	b.screenshot(t, "segments")

	// The policy: simulate a draft first (nothing installed), then install
	// it and watch its job finish.
	b.run(t, "simulate a policy",
		chromedp.Navigate(s.baseURL+"/console/#/policy"), visible(`#half-life`),
		fill(`#w-EVENT_KIND_RELIABLE_DELIVERY`, "-1"),
		click(`[data-testid="simulate"]`), visible(`[data-testid="simulation"][data-state="succeeded"] [data-testid="simulation-lists"]`))
	if lists := b.text(t, `[data-testid="simulation-lists"]`); !strings.Contains(lists, "bob") {
		t.Errorf("a draft that makes deliveries a withdrawal does not move bob onto a list: %q", lists)
	}
	if pol, err := s.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{}); err != nil || pol.GetActiveVersion() != 1 {
		t.Errorf("after simulating: active version %d, %v; want 1", pol.GetActiveVersion(), err)
	}
	b.screenshot(t, "policy-simulation")
	b.run(t, "install a policy",
		fill(`#w-EVENT_KIND_RELIABLE_DELIVERY`, "1"),
		fill(`#half-life`, "45"),
		click(`[data-testid="policy-form"] button[type="submit"]`),
		visible(`[data-testid="job"][data-state="succeeded"]`), until(`document.querySelectorAll('#version option').length === 2`))
	b.screenshot(t, "policy")
	pol, err := s.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if pol.GetActiveVersion() != 2 || pol.GetPolicy().GetHalfLife().AsDuration() != 45*24*time.Hour {
		t.Errorf("after installing: active version %d, half-life %v; want 2, 45 days", pol.GetActiveVersion(), pol.GetPolicy().GetHalfLife().AsDuration())
	}
	// A bad value comes back as the API's error, naming the field.
	b.run(t, "a bad policy", fill(`#dust`, "-1"),
		click(`[data-testid="policy-form"] button[type="submit"]`), visible(`[data-testid="policy-form"] ~ .error`))
	if msg := b.text(t, `[data-testid="policy-form"] ~ .error`); !strings.Contains(msg, "INVALID_ARGUMENT") || !strings.Contains(msg, "dust") {
		t.Errorf("a negative dust threshold shows %q, want INVALID_ARGUMENT naming the field", msg)
	}

	// A phone-width screen: nothing wider than the screen.
	b.run(t, "phone width", chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.baseURL+"/console/#/outreach"), visible(firstRow))
	if value(t, b, "overflow", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)) {
		t.Error("at 390 px wide the page scrolls sideways")
	}
	b.screenshot(t, "outreach-phone")
	b.run(t, "desktop again", chromedp.EmulateViewport(1280, 800))

	// A reader sees everything but cannot write.
	// It signs in by keyboard: Tab from the key to the button, then Enter.
	b.run(t, "sign out", click(`.who button`), visible("#key"), fill("#key", reader), keys("#key", kb.Tab))
	if focused := value(t, b, "focus", chromedp.Evaluate[string](`document.activeElement.textContent`)); focused != "Sign in" {
		t.Errorf("Tab from the key field focuses %q, want the Sign in button", focused)
	}
	b.run(t, "sign in as reader", chromedp.KeyEvent(kb.Enter), visible(firstRow),
		chromedp.Navigate(s.baseURL+"/console/#/customers/ann"), visible(`[data-testid="balance"]`), visible(`[data-testid="events"]`))
	if n := b.count(t, `[data-testid="record-form"], [data-testid="events"] button`); n != 0 {
		t.Errorf("a reader sees %d write controls on a customer", n)
	}

	// A writer: told what it cannot do; the policy editor stays closed;
	// it records an incident.
	b.run(t, "sign in as writer", click(`.who button`), visible("#key"), keys("#key", writer+kb.Enter), visible(`[data-testid="incident-form"]`))
	nav := b.text(t, `header nav`)
	if strings.Contains(nav, "Policy") || strings.Contains(nav, "Outreach") || !strings.Contains(nav, "Incidents") {
		t.Errorf("a writer's menu: %q", nav)
	}
	b.run(t, "record an incident", fill(`#ids`, "ann\nbob, carol"), fill(`#hours`, "3"),
		click(`[data-testid="incident-form"] button[type="submit"]`), visible(`[data-testid="incident-result"]`))
	b.screenshot(t, "incident")
	if result := b.text(t, `[data-testid="incident-result"]`); !strings.Contains(result, "3 customers") || !strings.Contains(result, "3 events created") {
		t.Errorf("incident result %q, want 3 customers and 3 events created", result)
	}
	// A writer cannot list events, but can take back what it just recorded.
	before, err := s.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	b.run(t, "a writer records and undoes", chromedp.Navigate(s.baseURL+"/console/#/customers/bob"),
		visible(`[data-testid="record-form"]`), click(`[data-testid="record-form"] button[type="submit"]`),
		visible(`[data-testid="recorded"] button`), click(`[data-testid="recorded"] button`),
		visible(`button.danger`), click(`button.danger`),
		until(`!document.querySelector('[data-testid="recorded"]')`))
	after, err := s.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.GetEvents()) != len(before.GetEvents())+2 || after.GetEvents()[0].GetKind() != goodwillv1.EventKind_EVENT_KIND_REVERSAL {
		t.Errorf("after a writer's record and undo, bob has %d events (had %d), newest %v", len(after.GetEvents()), len(before.GetEvents()), after.GetEvents()[0].GetKind())
	}
	b.run(t, "a writer on the policy page", chromedp.Navigate(s.baseURL+"/console/#/policy"), visible(`.empty`))
	if text := b.text(t, `main`); !strings.Contains(text, "writer key cannot") || strings.Contains(text, "Install") {
		t.Errorf("a writer on the policy page sees %q", text)
	}

	// Nothing but goodwilld was asked for anything, and no page logged an
	// error (a CSP violation would).
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, u := range b.requests {
		if !strings.HasPrefix(u, s.baseURL+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("a request left the server: %s", u)
		}
	}
	if len(b.requests) < 10 {
		t.Errorf("only %d requests recorded: is the network log working?", len(b.requests))
	}
	for _, e := range b.errors {
		// The API's refusals the test provoked (a wrong key, a bad policy,
		// the role probes of a writer and a reader): Chromium logs each.
		if strings.Contains(e, "status of 4") && strings.Contains(e, s.baseURL+"/v1/") {
			continue
		}
		t.Errorf("the page logged an error: %s", e)
	}
}

// fill sets a field's value as a person's typing would leave it, input
// event included, whatever was in it before.
func fill(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[chromedp.Void](js(`(() => {
			const el = document.querySelector(%q);
			const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
			Object.getOwnPropertyDescriptor(proto, "value").set.call(el, %q);
			el.dispatchEvent(new Event("input", {bubbles: true}));
		})()`, sel, v))(ctx, tg)
		return err
	})
}
