package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeTools returns tools/node with its packages installed (make
// node-tools), or skips the test: unless GOODWILL_TEST_REQUIRE_TOOLS=1
// (.ci/run sets it), which makes a missing tool a failure.
func nodeTools(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "tools", "node"))
	if err != nil {
		t.Fatal(err)
	}
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if nodeErr != nil || modErr != nil {
		if os.Getenv("GOODWILL_TEST_REQUIRE_TOOLS") == "1" {
			t.Fatalf("node (%v) or tools/node/node_modules (%v) missing; run make node-tools", nodeErr, modErr)
		}
		t.Skipf("SKIPPED: node or tools/node/node_modules missing (run make node-tools): %v %v", nodeErr, modErr)
	}
	return dir
}

// The OpenAPI document goodwilld serves passes Spectral's own OpenAPI
// ruleset with nothing to report, errors or warnings (a new user's run
// found 20 errors and 21 warnings), and names the host it was fetched from.
func TestOpenAPILintsClean(t *testing.T) {
	t.Parallel()
	tools := nodeTools(t)
	s := startServer(t, "")
	r := s.rest(t, "GET", "/openapi.json", nil)
	wantREST(t, r, 200)
	if host := r.Body["host"]; host != strings.TrimPrefix(s.baseURL, "http://") {
		t.Errorf("served host %v, want %s", host, strings.TrimPrefix(s.baseURL, "http://"))
	}
	doc := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(doc, r.Raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(tools, "node_modules", ".bin", "spectral"), "lint",
		"--ruleset", filepath.Join(tools, ".spectral.yaml"), "--format", "json", "--fail-severity", "hint", "--quiet", doc)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var results []map[string]any
	if jerr := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &results); jerr != nil {
		t.Fatalf("spectral: %v (%v)\nstdout %s\nstderr %s", err, jerr, stdout.String(), stderr.String())
	}
	for _, res := range results {
		t.Errorf("spectral: %v %v at %v", res["code"], res["message"], res["path"])
	}
	if err != nil && len(results) == 0 {
		t.Errorf("spectral failed: %v\n%s", err, stderr.String())
	}
}

// A client in another language calls goodwilld with nothing from this
// repository but gen/goodwill.binpb, the descriptor set make generate
// writes (the protos' imports included): here Node.js with @grpc/grpc-js and
// @grpc/proto-loader.
func TestNodeClient(t *testing.T) {
	t.Parallel()
	tools := nodeTools(t)
	s := startServer(t, "")
	set, err := filepath.Abs(filepath.Join("..", "..", "gen", "goodwill.binpb"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "node", filepath.Join(tools, "grpc_client.js"), set, s.grpcAddr, s.token).CombinedOutput()
	if err != nil {
		t.Fatalf("node client: %v\n%s", err, out)
	}
	type step struct {
		Method   string         `json:"method"`
		Response map[string]any `json:"response"`
		Error    *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	var steps []step
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var st step
		if err := json.Unmarshal([]byte(line), &st); err != nil {
			t.Fatalf("node client printed %q: %v", line, err)
		}
		steps = append(steps, st)
	}
	if len(steps) != 6 {
		t.Fatalf("node client ran %d steps, want 6:\n%s", len(steps), out)
	}
	get := func(m map[string]any, keys ...string) any {
		var v any = m
		for _, k := range keys {
			v, _ = v.(map[string]any)[k]
		}
		return v
	}
	if steps[0].Error != nil || get(steps[0].Response, "customer", "display_name") != "From Node" {
		t.Errorf("UpsertCustomer: %+v", steps[0])
	}
	if steps[1].Error != nil || get(steps[1].Response, "event", "kind") != "EVENT_KIND_OUTAGE" || get(steps[1].Response, "replayed") != false {
		t.Errorf("RecordEvent: %+v", steps[1])
	}
	if steps[2].Error != nil || get(steps[2].Response, "replayed") != true {
		t.Errorf("RecordEvent again with its key: %+v, want a replay", steps[2])
	}
	if b, _ := get(steps[3].Response, "balance", "balance").(float64); steps[3].Error != nil || !near(b, -24) ||
		get(steps[3].Response, "balance", "status") != "BALANCE_STATUS_OVERDRAWN" {
		t.Errorf("GetBalance: %+v, want -24 overdrawn", steps[3])
	}
	if e := steps[4].Error; e == nil || e.Code != "NOT_FOUND" {
		t.Errorf("GetCustomer of nobody: %+v, want NOT_FOUND", steps[4])
	}
	if e := steps[5].Error; e == nil || e.Code != "INVALID_ARGUMENT" || !strings.Contains(e.Message, "event.magnitude") {
		t.Errorf("RecordEvent with magnitude -1: %+v, want INVALID_ARGUMENT naming event.magnitude", steps[5])
	}
}
