package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yannh/kubeconform/pkg/validator"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// kustomizations are deploy/'s base and its overlays.
func kustomizations(t *testing.T) []string {
	t.Helper()
	overlays, err := filepath.Glob("../../deploy/overlays/*/kustomization.yaml")
	if err != nil || len(overlays) == 0 {
		t.Fatalf("no overlay under deploy/overlays: %v", err)
	}
	dirs := []string{"../../deploy/base"}
	for _, o := range overlays {
		dirs = append(dirs, filepath.Dir(o))
	}
	return dirs
}

// render is `kustomize build dir`, in-process (the same library as the
// pinned kustomize binary).
func render(t *testing.T, dir string) []byte {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDeployManifests validates every rendered kustomization as make
// check-deploy does, then checks what no schema can: that the parts agree
// with one another and with what goodwilld does.
func TestDeployManifests(t *testing.T) {
	v := newValidator(t)
	for _, dir := range kustomizations(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			rendered := render(t, dir)
			statuses, errs := validate(t, v, string(rendered))
			for _, s := range statuses {
				if s != validator.Valid {
					t.Fatalf("kubeconform -strict: %v\n%s", statuses, errs)
				}
			}
			checkConsistent(t, parseObjects(t, rendered), dir != "../../deploy/base")
		})
	}
}

// The few fields the checks read.
type (
	object struct {
		Kind     string
		Metadata struct {
			Name   string
			Labels map[string]string
		}
		Spec       json.RawMessage
		StringData map[string]string `json:"stringData"`
		Data       map[string]string
	}
	workloadSpec struct {
		Replicas *int
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		}
		Template struct {
			Metadata struct{ Labels map[string]string }
			Spec     podSpec
		}
	}
	podSpec struct {
		TerminationGracePeriodSeconds *int `json:"terminationGracePeriodSeconds"`
		SecurityContext               struct {
			RunAsNonRoot *bool `json:"runAsNonRoot"`
		} `json:"securityContext"`
		InitContainers []container `json:"initContainers"`
		Containers     []container
		Volumes        []struct{ Name string }
	}
	container struct {
		Name, Image string
		Args        []string
		Ports       []struct {
			Name          string
			ContainerPort int `json:"containerPort"`
		}
		Env []struct {
			Name, Value string
			ValueFrom   *struct {
				SecretKeyRef *struct{ Name, Key string } `json:"secretKeyRef"`
			} `json:"valueFrom"`
		}
		Resources struct {
			Limits map[string]string
		}
		StartupProbe   *probe                  `json:"startupProbe"`
		ReadinessProbe *probe                  `json:"readinessProbe"`
		LivenessProbe  *probe                  `json:"livenessProbe"`
		VolumeMounts   []struct{ Name string } `json:"volumeMounts"`
		// Pointers: an unset field must fail the checks, not read as false.
		SecurityContext struct {
			RunAsNonRoot             *bool `json:"runAsNonRoot"`
			AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
			ReadOnlyRootFilesystem   *bool `json:"readOnlyRootFilesystem"`
			Capabilities             struct{ Drop []string }
			SeccompProfile           struct{ Type string } `json:"seccompProfile"`
		} `json:"securityContext"`
	}
	probe struct {
		HTTPGet *struct {
			Path string
			Port any
		} `json:"httpGet"`
		TCPSocket *struct{ Port any } `json:"tcpSocket"`
	}
	selectorSpec struct {
		Selector    map[string]string // a Service's
		PodSelector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"podSelector"`
		Ports []struct {
			Name       string
			TargetPort any `json:"targetPort"`
		}
		Ingress []struct {
			Ports []struct{ Port any }
		}
	}
)

func parseObjects(t *testing.T, rendered []byte) []object {
	t.Helper()
	var out []object
	for _, doc := range bytes.Split(rendered, []byte("\n---\n")) {
		var o object
		if err := yaml.Unmarshal(doc, &o); err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		out = append(out, o)
	}
	return out
}

func decodeSpec[T any](t *testing.T, o object) T {
	t.Helper()
	var s T
	if err := json.Unmarshal(o.Spec, &s); err != nil {
		t.Fatalf("%s %s: %v", o.Kind, o.Metadata.Name, err)
	}
	return s
}

func checkConsistent(t *testing.T, objs []object, overlay bool) {
	byKind := map[string][]object{}
	for _, o := range objs {
		byKind[o.Kind] = append(byKind[o.Kind], o)
	}
	for _, kind := range []string{"Deployment", "Job", "Service", "PodDisruptionBudget", "NetworkPolicy", "ServiceAccount"} {
		if len(byKind[kind]) == 0 {
			t.Errorf("no %s", kind)
		}
	}
	if len(byKind["Deployment"]) != 1 || len(byKind["Job"]) != 1 {
		t.Fatalf("want one Deployment and one Job, have %d and %d", len(byKind["Deployment"]), len(byKind["Job"]))
	}
	dep := decodeSpec[workloadSpec](t, byKind["Deployment"][0])
	job := decodeSpec[workloadSpec](t, byKind["Job"][0])
	podLabels := dep.Template.Metadata.Labels
	if !selects(dep.Selector.MatchLabels, podLabels) {
		t.Errorf("the Deployment's selector %v does not select its pods %v", dep.Selector.MatchLabels, podLabels)
	}
	if dep.Replicas == nil || *dep.Replicas < 2 {
		t.Errorf("replicas %v: want 2 or more, so a rollout or a node's loss leaves one serving", dep.Replicas)
	}
	if len(dep.Template.Spec.Containers) != 1 {
		t.Fatalf("want one container in the Deployment, have %d", len(dep.Template.Spec.Containers))
	}
	server := dep.Template.Spec.Containers[0]
	if !slices.Equal(server.Args, []string{"serve"}) {
		t.Errorf("the server's args %q, want [serve]", server.Args)
	}
	ports := map[string]int{}
	for _, p := range server.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for _, want := range []string{"grpc", "http", "metrics"} {
		if ports[want] == 0 {
			t.Errorf("the server has no container port %q", want)
		}
	}
	checkProbes(t, server, ports)
	checkGracePeriod(t, dep.Template.Spec, server)
	checkMemoryLimit(t, server)
	if len(job.Template.Spec.InitContainers) != 1 || !slices.Equal(job.Template.Spec.InitContainers[0].Args, []string{"migrate"}) {
		t.Errorf("the Job's first step is not `goodwilld migrate`: %+v", job.Template.Spec.InitContainers)
	}
	for _, w := range []struct {
		name string
		spec podSpec
	}{{"Deployment", dep.Template.Spec}, {"Job", job.Template.Spec}} {
		checkPodSecurity(t, w.name, w.spec)
		checkVolumes(t, w.name, w.spec)
	}

	for _, svc := range byKind["Service"] {
		s := decodeSpec[selectorSpec](t, svc)
		if !selects(s.Selector, podLabels) || selects(s.Selector, job.Template.Metadata.Labels) {
			t.Errorf("Service %s selects %v: want the server's pods %v and not the Job's", svc.Metadata.Name, s.Selector, podLabels)
		}
		for _, p := range s.Ports {
			if name, ok := p.TargetPort.(string); ok && ports[name] == 0 {
				t.Errorf("Service %s port %s targets %q, which no container port is named", svc.Metadata.Name, p.Name, name)
			}
		}
	}
	for _, pdb := range byKind["PodDisruptionBudget"] {
		if s := decodeSpec[workloadSpec](t, pdb); !selects(s.Selector.MatchLabels, podLabels) {
			t.Errorf("PodDisruptionBudget %s selects %v, not the server's pods %v", pdb.Metadata.Name, s.Selector.MatchLabels, podLabels)
		}
	}
	for _, np := range byKind["NetworkPolicy"] {
		s := decodeSpec[selectorSpec](t, np)
		if !selects(s.PodSelector.MatchLabels, podLabels) || !selects(s.PodSelector.MatchLabels, job.Template.Metadata.Labels) {
			t.Errorf("NetworkPolicy %s selects %v: want the server's and the Job's pods", np.Metadata.Name, s.PodSelector.MatchLabels)
		}
		open := map[string]bool{}
		for _, in := range s.Ingress {
			for _, p := range in.Ports {
				open[fmt.Sprint(p.Port)] = true
			}
		}
		for name, port := range ports {
			if !open[strconv.Itoa(port)] && !open[name] {
				t.Errorf("NetworkPolicy %s lets nothing reach container port %s (%d)", np.Metadata.Name, name, port)
			}
		}
	}

	if overlay {
		checkOverlay(t, byKind, append(append(dep.Template.Spec.Containers, job.Template.Spec.InitContainers...), job.Template.Spec.Containers...))
	}
}

// checkProbes: each probe asks a port the container has, /healthz when
// it asks over HTTP.
func checkProbes(t *testing.T, c container, ports map[string]int) {
	t.Helper()
	for name, p := range map[string]*probe{"startupProbe": c.StartupProbe, "readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe} {
		if p == nil {
			t.Errorf("the server has no %s", name)
			continue
		}
		var port any
		switch {
		case p.HTTPGet != nil:
			port = p.HTTPGet.Port
			if p.HTTPGet.Path != "/healthz" {
				t.Errorf("%s asks %s, want /healthz", name, p.HTTPGet.Path)
			}
		case p.TCPSocket != nil:
			port = p.TCPSocket.Port
		}
		switch port := port.(type) {
		case string:
			if ports[port] == 0 {
				t.Errorf("%s asks port %q, which the container does not name", name, port)
			}
		case float64:
			if !slices.Contains(mapsValues(ports), int(port)) {
				t.Errorf("%s asks port %v, which the container does not have", name, port)
			}
		default:
			t.Errorf("%s has no port", name)
		}
	}
}

// checkGracePeriod: the kubelet's SIGKILL must not come before goodwilld
// has drained (GOODWILL_DRAIN_DELAY), finished in-flight requests
// (GOODWILL_SHUTDOWN_TIMEOUT, default 15s) and closed the store (a few
// seconds more).
func checkGracePeriod(t *testing.T, spec podSpec, c container) {
	t.Helper()
	env := envOf(c)
	duration := func(name string, def time.Duration) time.Duration {
		v, ok := env[name]
		if !ok {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Errorf("%s=%q: %v", name, v, err)
		}
		return d
	}
	need := duration("GOODWILL_DRAIN_DELAY", 0) + duration("GOODWILL_SHUTDOWN_TIMEOUT", 15*time.Second) + 5*time.Second
	grace := 30 * time.Second // Kubernetes' default
	if spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	}
	if grace < need {
		t.Errorf("terminationGracePeriodSeconds %v: want at least drain delay + shutdown timeout + 5s = %v", grace, need)
	}
}

// checkMemoryLimit: GOODWILL_MEMORY_LIMIT (GOMEMLIMIT) below the
// container's limit, or the collector never works harder before the
// kernel kills the process.
func checkMemoryLimit(t *testing.T, c container) {
	t.Helper()
	soft, ok := envOf(c)["GOODWILL_MEMORY_LIMIT"]
	if !ok {
		t.Error("no GOODWILL_MEMORY_LIMIT: the Go heap does not know the container's limit")
		return
	}
	softBytes, err1 := parseBytes(soft, map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30})
	hardBytes, err2 := parseBytes(c.Resources.Limits["memory"], map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30})
	if err1 != nil || err2 != nil {
		t.Fatalf("GOODWILL_MEMORY_LIMIT %q, limits.memory %q: %v %v", soft, c.Resources.Limits["memory"], err1, err2)
	}
	if softBytes >= hardBytes || softBytes < hardBytes*7/10 {
		t.Errorf("GOODWILL_MEMORY_LIMIT %s against limits.memory %s: want 70%% to 100%% of it (docs say about 80%%)",
			soft, c.Resources.Limits["memory"])
	}
}

// parseBytes reads "410MiB" or "512Mi" with the given unit suffixes.
func parseBytes(s string, units map[string]int64) (int64, error) {
	for u, mult := range units {
		if n, ok := strings.CutSuffix(s, u); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			return v * mult, err
		}
	}
	return 0, fmt.Errorf("%q: no unit of %v", s, units)
}

// checkPodSecurity: what the "restricted" Pod Security Standard and the
// brief ask of every container: non-root, no privilege escalation, no
// capabilities, RuntimeDefault seccomp, a read-only root.
func checkPodSecurity(t *testing.T, workload string, spec podSpec) {
	t.Helper()
	if spec.SecurityContext.RunAsNonRoot == nil || !*spec.SecurityContext.RunAsNonRoot {
		t.Errorf("%s: the pod does not set runAsNonRoot", workload)
	}
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		sc := c.SecurityContext
		if !isTrue(sc.RunAsNonRoot) || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			!isTrue(sc.ReadOnlyRootFilesystem) || !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) ||
			sc.SeccompProfile.Type != "RuntimeDefault" {
			t.Errorf("%s container %s: securityContext %+v; want runAsNonRoot, no privilege escalation, a read-only root, "+
				"capabilities dropped (ALL) and RuntimeDefault seccomp", workload, c.Name, sc)
		}
	}
}

// checkVolumes: every mount names a volume of the pod (the API server
// would refuse the pod; no schema can say so).
func checkVolumes(t *testing.T, workload string, spec podSpec) {
	t.Helper()
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		for _, m := range c.VolumeMounts {
			if !slices.ContainsFunc(spec.Volumes, func(v struct{ Name string }) bool { return v.Name == m.Name }) {
				t.Errorf("%s container %s mounts %q, which the pod has no volume for", workload, c.Name, m.Name)
			}
		}
	}
}

// checkOverlay: an overlay names a real image, and its example Secret
// holds every key the pods read from it.
func checkOverlay(t *testing.T, byKind map[string][]object, containers []container) {
	t.Helper()
	secrets := map[string]map[string]bool{}
	for _, s := range byKind["Secret"] {
		keys := map[string]bool{}
		for k := range s.StringData {
			keys[k] = true
		}
		for k := range s.Data {
			keys[k] = true
		}
		secrets[s.Metadata.Name] = keys
	}
	for _, c := range containers {
		if !strings.Contains(c.Image, "/") {
			t.Errorf("container %s runs image %q: the overlay's images: should name a registry", c.Name, c.Image)
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				continue
			}
			ref := e.ValueFrom.SecretKeyRef
			if keys, ok := secrets[ref.Name]; ok && !keys[ref.Key] {
				t.Errorf("container %s reads key %q of Secret %s, which its example does not hold", c.Name, ref.Key, ref.Name)
			}
		}
	}
}

func envOf(c container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}

// selects reports whether a label selector matches labels (an empty one
// matches nothing here: every selector in deploy/ names labels).
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func isTrue(b *bool) bool { return b != nil && *b }

func mapsValues(m map[string]int) []int {
	var out []int
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
