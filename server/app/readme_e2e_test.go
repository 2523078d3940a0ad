package app_test

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// example is one command of a README `console` block and the output the
// README shows for it.
type example struct {
	line    int // in README.md, for messages
	command string
	want    []string
}

// readmeExamples reads every ```console block of the README, as a terminal
// shows a session: lines starting with "$ " are commands, continued on the
// next line after a trailing "\" or on lines starting with "> " (the
// shell's prompt inside an open quote); the lines after a command, up to the
// next one, are its output.
func readmeExamples(t *testing.T, path string) []example {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []example
	in, cont := false, false
	for i, line := range strings.Split(string(raw), "\n") {
		switch {
		case !in && strings.TrimSpace(line) == "```console":
			in = true
		case in && strings.TrimSpace(line) == "```":
			in, cont = false, false
		case !in:
		case cont:
			out[len(out)-1].command += "\n" + line
			cont = strings.HasSuffix(line, `\`)
		case strings.HasPrefix(line, "> ") && len(out) > 0 && len(out[len(out)-1].want) == 0:
			out[len(out)-1].command += "\n" + strings.TrimPrefix(line, "> ")
			cont = strings.HasSuffix(line, `\`)
		case strings.HasPrefix(line, "$ "):
			out = append(out, example{line: i + 1, command: strings.TrimPrefix(line, "$ ")})
			cont = strings.HasSuffix(line, `\`)
		case len(out) == 0:
			t.Fatalf("README.md:%d: output before any command", i+1)
		default:
			out[len(out)-1].want = append(out[len(out)-1].want, line)
		}
	}
	if in {
		t.Fatal("README.md: a console block is not closed")
	}
	return out
}

// requireTools finds the programs the README's examples run on path (a
// PATH value), or skips the test (fails it when
// GOODWILL_TEST_REQUIRE_TOOLS=1, as in CI).
func requireTools(t *testing.T, path string, names ...string) {
	t.Helper()
	for _, n := range names {
		found := false
		for _, dir := range filepath.SplitList(path) {
			if st, err := os.Stat(filepath.Join(dir, n)); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
				found = true
				break
			}
		}
		if !found {
			err := fmt.Errorf("not on PATH")
			if os.Getenv("GOODWILL_TEST_REQUIRE_TOOLS") == "1" {
				t.Fatalf("%s is needed here (%v); make test-tools builds grpcurl, the others come from the OS", n, err)
			}
			t.Skipf("SKIPPED: %s is not installed (%v); make test-tools builds grpcurl", n, err)
		}
	}
}

// The README's examples, run top to bottom against a fresh server as a new
// user would run them against `make run`, print what the README shows (a
// new user's run found three that did not). Set GOODWILL_README_SHOW=1 to
// print what each command printed.
func TestREADMEExamples(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, ".bin") + string(os.PathListSeparator) + os.Getenv("PATH")
	requireTools(t, path, "bash", "curl", "jq", "grpcurl", "date", "sed", "grep")
	examples := readmeExamples(t, filepath.Join(root, "README.md"))
	if len(examples) < 30 {
		t.Fatalf("found %d examples in README.md; the parser is broken", len(examples))
	}

	// The layout `make run` leaves in a clone: bin/goodwilld, data/ with the
	// store and the admin key, docs/worked-example.sh.
	work := t.TempDir()
	for _, d := range []string{"bin", "data", "docs"} {
		if err := os.Mkdir(filepath.Join(work, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-o", filepath.Join(work, "bin", "goodwilld"), "./server/cmd/goodwilld")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	script, err := os.ReadFile(filepath.Join(root, "docs", "worked-example.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "docs", "worked-example.sh"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "sqlite:"+filepath.Join(work, "data", "goodwill.db"))
	if err := os.WriteFile(filepath.Join(work, "data", "admin.key"), []byte(s.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	httpAddr := strings.TrimPrefix(s.baseURL, "http://")

	sh := exec.Command("bash")
	sh.Dir = work
	sh.Env = append(os.Environ(), "PATH="+path, "GOODWILL_HTTP="+httpAddr, "LC_ALL=C")
	stdin, err := sh.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	sh.Stdout, sh.Stderr = pw, pw
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = sh.Wait() })
	lines := bufio.NewScanner(pr)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	show := os.Getenv("GOODWILL_README_SHOW") == "1"
	for i, ex := range examples {
		cmd := strings.NewReplacer("localhost:8080", httpAddr, "127.0.0.1:50051", s.grpcAddr).Replace(ex.command)
		marker := fmt.Sprintf("__README_EXAMPLE_%d_DONE__", i)
		if _, err := fmt.Fprintf(stdin, "%s\necho; echo %s $?\n", cmd, marker); err != nil {
			t.Fatal(err)
		}
		var got []string
		status := ""
		deadline := time.AfterFunc(2*time.Minute, func() { pw.CloseWithError(fmt.Errorf("README.md:%d timed out", ex.line)) })
		for lines.Scan() {
			if rest, ok := strings.CutPrefix(lines.Text(), marker+" "); ok {
				status = rest
				break
			}
			got = append(got, lines.Text())
		}
		deadline.Stop()
		if status == "" {
			t.Fatalf("README.md:%d: the shell ended: %v", ex.line, lines.Err())
		}
		// The marker's own newline follows output that may lack one.
		if n := len(got); n > 0 && got[n-1] == "" {
			got = got[:n-1]
		}
		if show {
			t.Logf("README.md:%d $ %s\n%s", ex.line, ex.command, strings.Join(got, "\n"))
		}
		if status != "0" {
			t.Errorf("README.md:%d: %s\nexited %s, printed:\n%s", ex.line, ex.command, status, strings.Join(got, "\n"))
			continue
		}
		if !outputMatches(ex.want, got) {
			t.Errorf("README.md:%d: %s\nprinted:\n%s\nthe README shows:\n%s", ex.line, ex.command,
				strings.Join(got, "\n"), strings.Join(ex.want, "\n"))
		}
	}
}

// number finds the numbers in a line of output.
var number = regexp.MustCompile(`-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?`)

// outputMatches compares printed output with the README's: line by line,
// where "…" in the README stands for any text (an id, a time), and numbers
// agree to a relative 1e-4 (balances fade between a run and another).
func outputMatches(want, got []string) bool {
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		if !lineMatches(strings.TrimRight(want[i], " "), strings.TrimRight(got[i], " ")) {
			return false
		}
	}
	return true
}

func lineMatches(want, got string) bool {
	// The literal text between numbers, with "…" as a wildcard, must match;
	// then the numbers, in order, must be close.
	var pattern strings.Builder
	pattern.WriteString("^")
	var wantNums []float64
	last := 0
	for _, loc := range number.FindAllStringIndex(want, -1) {
		pattern.WriteString(wildcard(want[last:loc[0]]))
		pattern.WriteString(`(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)`)
		f, _ := strconv.ParseFloat(want[loc[0]:loc[1]], 64)
		wantNums = append(wantNums, f)
		last = loc[1]
	}
	pattern.WriteString(wildcard(want[last:]))
	pattern.WriteString("$")
	re, err := regexp.Compile(pattern.String())
	if err != nil {
		return false
	}
	m := re.FindStringSubmatch(got)
	if m == nil {
		return false
	}
	for i, w := range wantNums {
		g, _ := strconv.ParseFloat(m[i+1], 64)
		if math.Abs(g-w) > 1e-4*math.Max(1, math.Abs(w)) {
			return false
		}
	}
	return true
}

func wildcard(s string) string {
	parts := strings.Split(s, "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return strings.Join(parts, ".*?")
}
