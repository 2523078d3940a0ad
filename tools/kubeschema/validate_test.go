package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/yannh/kubeconform/pkg/validator"
)

// schemaDir makes the real schemas once per test run, from the pinned
// Kubernetes module, as `make check-deploy` does.
var schemaDir = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "kubeschema-test-")
	if err != nil {
		return "", err
	}
	return dir, run(dir, "", defaultGroupVersions)
})

func TestMain(m *testing.M) {
	code := m.Run()
	if dir, err := schemaDir(); err == nil {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// newValidator is kubeconform as make check-deploy runs it: -strict, the
// generated schemas only, a kind without one an error.
func newValidator(t *testing.T) validator.Validator {
	t.Helper()
	dir, err := schemaDir()
	if err != nil {
		t.Fatal(err)
	}
	v, err := validator.New([]string{filepath.Join(dir, "{{ .ResourceKind }}{{ .KindSuffix }}.json")}, validator.Opts{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// validate returns kubeconform's verdict on each document of a YAML
// stream, and the errors' text.
func validate(t *testing.T, v validator.Validator, yaml string) ([]validator.Status, string) {
	t.Helper()
	var statuses []validator.Status
	var errs []string
	for _, r := range v.Validate("manifest.yaml", io.NopCloser(strings.NewReader(yaml))) {
		if r.Status == validator.Empty {
			continue
		}
		statuses = append(statuses, r.Status)
		if r.Err != nil {
			errs = append(errs, r.Err.Error())
		}
	}
	return statuses, strings.Join(errs, "\n")
}

// The schemas accept what the API accepts (integers or names for ports,
// numbers or strings for quantities) and refuse, offline, the mistakes a
// cluster would: an unknown or misspelt field, a wrong type, a missing
// required field, a kind with no schema.
func TestSchemasCatchMistakes(t *testing.T) {
	v := newValidator(t)
	const good = `apiVersion: apps/v1
kind: Deployment
metadata: {name: a}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec:
      containers:
        - name: a
          image: a
          ports: [{name: http, containerPort: 8080}]
          readinessProbe: {httpGet: {path: /healthz, port: http, scheme: HTTPS}}
          livenessProbe: {tcpSocket: {port: 8080}}
          resources: {requests: {cpu: 250m, memory: 256Mi}, limits: {cpu: 2, memory: 0.5Gi}}
`
	for _, tc := range []struct {
		name, yaml string
		want       validator.Status
		wantErr    string
	}{
		{"a valid Deployment", good, validator.Valid, ""},
		{"a misspelt field", strings.Replace(good, "image: a", "image: a\n          imagePullPolcy: Always", 1),
			validator.Invalid, "imagePullPolcy"},
		{"a wrong type", strings.Replace(good, "selector:", "replicas: two\n  selector:", 1), validator.Invalid, "replicas"},
		{"a missing required field", strings.Replace(good, "- name: a\n          image: a", "- image: a", 1),
			validator.Invalid, "missing property 'name'"},
		{"a Service with an appProtocol", `apiVersion: v1
kind: Service
metadata: {name: a}
spec: {ports: [{name: grpc, port: 50051, targetPort: grpc, appProtocol: grpc}]}
`, validator.Valid, ""},
		{"a kind with no schema", "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: a}\n", validator.Error, "deploymnet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			statuses, errs := validate(t, v, tc.yaml)
			if len(statuses) != 1 || statuses[0] != tc.want || !strings.Contains(strings.ToLower(errs), strings.ToLower(tc.wantErr)) {
				t.Errorf("statuses %v (want [%v]), errors %q (want one naming %q)", statuses, tc.want, errs, tc.wantErr)
			}
		})
	}
}
