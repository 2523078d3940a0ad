// Command kubeschema writes the JSON schemas kubeconform validates
// Kubernetes manifests against, made offline from the Kubernetes API's own
// OpenAPI v3 documents.
//
// kubeconform fetches its schemas from GitHub by default, which neither
// this repository's build machines nor its CI can reach. The OpenAPI
// documents ship in the k8s.io/kubernetes Go module (api/openapi-spec/v3),
// which the Go module proxy serves like any module, checked against the
// checksum database: `go mod download` fetches the pinned version
// (kubernetesModule) and this program converts the group-versions deploy/
// uses into kubeconform's file layout, strict (no field the API does not
// know), one standalone file per kind:
//
//	go run ./kubeschema -out ../build/kubeschemas
//	kubeconform -strict -schema-location '../build/kubeschemas/{{ .ResourceKind }}{{ .KindSuffix }}.json' ...
//
// A second run with the same inputs does nothing (a stamp file says what
// the directory holds).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// kubernetesModule is the Kubernetes release whose API the manifests are
// checked against: an older minor than the newest, so a field only the
// newest clusters know is refused. Raise it with the oldest cluster
// version supported (docs/deploy.md).
const kubernetesModule = "k8s.io/kubernetes@v1.34.4"

// defaultGroupVersions are the API groups deploy/ uses, and a few an
// overlay is likely to add (autoscaling, RBAC).
var defaultGroupVersions = []string{"v1", "apps/v1", "batch/v1", "policy/v1", "networking.k8s.io/v1",
	"autoscaling/v2", "rbac.authorization.k8s.io/v1"}

func main() {
	out := flag.String("out", "", "the directory to write the schemas into (required)")
	openapi := flag.String("openapi", "", "a directory of OpenAPI v3 documents (default: api/openapi-spec/v3 of "+kubernetesModule+", downloaded)")
	gvs := flag.String("group-versions", strings.Join(defaultGroupVersions, ","), "the apiVersions to write schemas for, comma-separated")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*out, *openapi, strings.Split(*gvs, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "kubeschema:", err)
		os.Exit(1)
	}
}

func run(out, openapi string, gvs []string) error {
	source := openapi
	if source == "" {
		source = kubernetesModule
	}
	stamp := filepath.Join(out, ".source")
	want := source + " " + strings.Join(gvs, ",") + "\n"
	if got, err := os.ReadFile(stamp); err == nil && string(got) == want {
		return nil // already made from the same inputs
	}
	if openapi == "" {
		dir, err := downloadModule(kubernetesModule)
		if err != nil {
			return err
		}
		openapi = filepath.Join(dir, "api", "openapi-spec", "v3")
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	n := 0
	for _, gv := range gvs {
		files, err := convertGroupVersion(openapi, strings.TrimSpace(gv))
		if err != nil {
			return err
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(out, name), body, 0o644); err != nil {
				return err
			}
			n++
		}
	}
	fmt.Fprintf(os.Stderr, "kubeschema: %d schemas from %s in %s\n", n, source, out)
	return os.WriteFile(stamp, []byte(want), 0o644)
}

// downloadModule fetches module@version through the Go module proxy (or
// finds it in the module cache) and returns its directory.
func downloadModule(module string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", module)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil || info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %v %s %s", module, runErr, info.Error, stderr.String())
	}
	return info.Dir, nil
}
