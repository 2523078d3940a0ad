package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const testVersion = "v0.0.0-imagetest+dirty"

// TestImage builds the image as `make image` does, reads both outputs
// back as a runtime would, checks what a runtime relies on (user,
// entrypoint, ports, labels, files, a static binary), then starts the
// binary from the image with the image's entrypoint, command and
// environment and waits for /healthz.
func TestImage(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the image's binary runs on linux only")
	}
	dir := t.TempDir()
	created := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	o := options{
		src: "../..", pkg: "./server/cmd/goodwilld", goarch: runtime.GOARCH,
		ldflags: "-X github.com/goodwill-ledger/goodwill/server/buildinfo.version=" + testVersion,
		version: testVersion, revision: "0123abc", created: created.Format(time.RFC3339),
		source: "https://example.com/goodwill", caCerts: "/etc/ssl/certs/ca-certificates.crt",
		repo: "localhost/goodwilld", ociDir: filepath.Join(dir, "oci"), tarPath: filepath.Join(dir, "image.tar"),
	}
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute) // a cold build cache compiles everything
	defer cancel()
	var log bytes.Buffer
	res, err := run(ctx, o, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	wantTag := "v0.0.0-imagetest-dirty" // "+" is not allowed in a tag
	if res.tag != wantTag {
		t.Errorf("tag %q, want %q", res.tag, wantTag)
	}

	img := readOCILayout(t, o.ociDir, wantTag)
	checkSameImage(t, img, res.digest, o.tarPath, o.repo+":"+wantTag)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	checkConfig(t, cf, o, created)
	files := readFiles(t, img)
	checkFiles(t, files, o.caCerts)

	bin := filepath.Join(dir, "goodwilld")
	if err := os.WriteFile(bin, files[binaryPath].contents, 0o755); err != nil {
		t.Fatal(err)
	}
	checkELF(t, bin)
	checkEnvNamesAreFlags(t, bin, cf.Config.Env)
	serveFromImage(t, bin, cf.Config, dir)
}

// readOCILayout opens the layout as containerd or skopeo would: the index,
// the manifest named tag, its media types.
func readOCILayout(t *testing.T, dir, tag string) v1.Image {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("the layout holds %d manifests, want 1", len(im.Manifests))
	}
	d := im.Manifests[0]
	if d.MediaType != types.OCIManifestSchema1 || d.Annotations[refNameAnnotation] != tag {
		t.Errorf("index entry: media type %s, ref name %q; want %s, %q", d.MediaType, d.Annotations[refNameAnnotation],
			types.OCIManifestSchema1, tag)
	}
	img, err := idx.Image(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != types.OCIConfigJSON || len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
		t.Errorf("manifest: config %s, layers %v; want %s and one %s", m.Config.MediaType, m.Layers, types.OCIConfigJSON, types.OCILayer)
	}
	return img
}

// checkSameImage: the docker-archive tarball carries the same image (same
// configuration and layer), under the name podman load will give it.
func checkSameImage(t *testing.T, img v1.Image, digest v1.Hash, tarPath, ref string) {
	t.Helper()
	if d, err := img.Digest(); err != nil || d != digest {
		t.Errorf("layout image digest %v (%v), want %v", d, err, digest)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	fromTar, err := tarball.ImageFromPath(tarPath, &tag)
	if err != nil {
		t.Fatalf("the tarball has no %s: %v", ref, err)
	}
	for _, f := range []func(v1.Image) (v1.Hash, error){v1.Image.ConfigName, func(i v1.Image) (v1.Hash, error) {
		ls, err := i.Layers()
		if err != nil || len(ls) != 1 {
			return v1.Hash{}, errors.Join(err, errors.New("not one layer"))
		}
		return ls[0].DiffID()
	}} {
		a, errA := f(img)
		b, errB := f(fromTar)
		if errA != nil || errB != nil || a != b {
			t.Errorf("tarball and layout differ: %v (%v) and %v (%v)", a, errA, b, errB)
		}
	}
}

func checkConfig(t *testing.T, cf *v1.ConfigFile, o options, created time.Time) {
	t.Helper()
	c := cf.Config
	if cf.OS != "linux" || cf.Architecture != o.goarch || !cf.Created.Time.Equal(created) {
		t.Errorf("platform %s/%s created %v; want linux/%s %v", cf.OS, cf.Architecture, cf.Created.Time, o.goarch, created)
	}
	if c.User != "65532:65532" {
		t.Errorf("User %q, want 65532:65532 (numeric, so runAsNonRoot can check it)", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/goodwilld"}) || !slices.Equal(c.Cmd, []string{"serve"}) {
		t.Errorf("Entrypoint %q Cmd %q, want [/goodwilld] [serve]", c.Entrypoint, c.Cmd)
	}
	// The exposed ports are goodwilld's defaults, read from its source.
	config, err := os.ReadFile("../../server/app/config.go")
	if err != nil {
		t.Fatal(err)
	}
	wantPorts := map[string]struct{}{}
	for _, constName := range []string{"DefaultGRPCAddr", "DefaultHTTPAddr"} {
		m := regexp.MustCompile(constName + `\s*=\s*"[^"]*:(\d+)"`).FindSubmatch(config)
		if m == nil {
			t.Fatalf("server/app/config.go has no %s", constName)
		}
		wantPorts[string(m[1])+"/tcp"] = struct{}{}
	}
	if len(c.ExposedPorts) != len(wantPorts) {
		t.Errorf("ExposedPorts %v, want %v", c.ExposedPorts, wantPorts)
	}
	for p := range wantPorts {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("ExposedPorts %v lacks %s", c.ExposedPorts, p)
		}
	}
	env := envMap(c.Env)
	for k, want := range map[string]string{
		"GOODWILL_GRPC_ADDR": "0.0.0.0:" + strconv.Itoa(grpcPort), "GOODWILL_HTTP_ADDR": "0.0.0.0:" + strconv.Itoa(httpPort),
		"GOODWILL_DB": "sqlite:/data/goodwill.db", "GOODWILL_BOOTSTRAP_KEY_FILE": "/data/admin.key",
	} {
		if env[k] != want {
			t.Errorf("Env %s=%q, want %q", k, env[k], want)
		}
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.title":    "goodwilld",
		"org.opencontainers.image.version":  testVersion,
		"org.opencontainers.image.revision": "0123abc",
		"org.opencontainers.image.created":  "2026-10-01T12:00:00Z",
		"org.opencontainers.image.source":   "https://example.com/goodwill",
	} {
		if got := c.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	if _, ok := c.Labels["org.opencontainers.image.licenses"]; ok {
		t.Error("a licenses label with no -licenses given")
	}
}

// file is one entry of the image's file system.
type file struct {
	hdr      tar.Header
	contents []byte
}

// readFiles flattens the image's layers as a runtime unpacks them.
func readFiles(t *testing.T, img v1.Image) map[string]file {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]file{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files["/"+strings.TrimSuffix(h.Name, "/")] = file{hdr: *h, contents: body}
	}
	return files
}

func checkFiles(t *testing.T, files map[string]file, caCerts string) {
	t.Helper()
	want := map[string]struct {
		typ      byte
		mode     int64
		uid, gid int
	}{
		"/goodwilld":  {tar.TypeReg, 0o755, 0, 0},
		"/etc/passwd": {tar.TypeReg, 0o644, 0, 0},
		"/etc/group":  {tar.TypeReg, 0o644, 0, 0},
		"/data":       {tar.TypeDir, 0o700, 65532, 65532},
		"/tmp":        {tar.TypeDir, 0o1777, 0, 0},
	}
	if _, err := os.Stat(caCerts); err == nil {
		want[caPath] = struct {
			typ      byte
			mode     int64
			uid, gid int
		}{tar.TypeReg, 0o644, 0, 0}
	}
	for path, w := range want {
		f, ok := files[path]
		if !ok {
			t.Errorf("the image has no %s", path)
			continue
		}
		if f.hdr.Typeflag != w.typ || f.hdr.Mode != w.mode || f.hdr.Uid != w.uid || f.hdr.Gid != w.gid {
			t.Errorf("%s: type %c mode %o owner %d:%d; want type %c mode %o owner %d:%d", path,
				f.hdr.Typeflag, f.hdr.Mode, f.hdr.Uid, f.hdr.Gid, w.typ, w.mode, w.uid, w.gid)
		}
	}
	if !strings.Contains(string(files["/etc/passwd"].contents), "\nnonroot:x:65532:65532:") ||
		!strings.Contains(string(files["/etc/group"].contents), "\nnonroot:x:65532:") {
		t.Errorf("/etc/passwd and /etc/group lack nonroot 65532:\n%s%s", files["/etc/passwd"].contents, files["/etc/group"].contents)
	}
	// Nothing else: no shell, no package manager, no stray files.
	for path := range files {
		if _, ok := want[path]; !ok && !slices.Contains([]string{"/etc", "/etc/ssl", "/etc/ssl/certs"}, path) {
			t.Errorf("unexpected file %s in the image", path)
		}
	}
}

// checkELF: the binary in the image asks for no dynamic loader and no
// shared library, which an empty image does not have.
func checkELF(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("/goodwilld has a %v program header: not static", p.Type)
		}
	}
	if f.Section(".dynamic") != nil {
		t.Error("/goodwilld has a .dynamic section: not static")
	}
	if err := checkStatic(path, runtime.GOARCH); err != nil {
		t.Errorf("checkStatic: %v", err)
	}
}

// checkEnvNamesAreFlags: goodwilld ignores a GOODWILL_* variable that
// names no flag, so a misspelt default would silently do nothing.
func checkEnvNamesAreFlags(t *testing.T, bin string, env []string) {
	t.Helper()
	help, err := exec.Command(bin, "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("goodwilld serve --help: %v\n%s", err, help)
	}
	for k := range envMap(env) {
		flagName, ok := strings.CutPrefix(k, "GOODWILL_")
		if !ok {
			continue
		}
		flagName = "--" + strings.ToLower(strings.ReplaceAll(flagName, "_", "-"))
		if !regexp.MustCompile(`(?m)^\s+(-\w, )?` + regexp.QuoteMeta(flagName) + `\b`).Match(help) {
			t.Errorf("the image sets %s, but goodwilld serve has no %s", k, flagName)
		}
	}
}

// serveFromImage runs the image's entrypoint and command with its
// environment and nothing else from this process's, as a runtime would,
// except the addresses (free loopback ports) and the data directory (the
// image's /data is not here).
func serveFromImage(t *testing.T, bin string, c v1.Config, dir string) {
	t.Helper()
	env := envMap(c.Env)
	env["GOODWILL_GRPC_ADDR"], env["GOODWILL_HTTP_ADDR"] = "127.0.0.1:0", "127.0.0.1:0"
	env["GOODWILL_DB"] = "sqlite:" + filepath.Join(dir, "goodwill.db")
	env["GOODWILL_BOOTSTRAP_KEY_FILE"] = filepath.Join(dir, "admin.key")
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	args := append(slices.Clone(c.Entrypoint[1:]), c.Cmd...)
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Dir = envList, dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	// The image logs JSON (GOODWILL_LOG_FORMAT); the start line says which
	// ports were bound.
	addr := make(chan string, 1)
	var logged lockedBuffer
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logged.Write(append(sc.Bytes(), '\n'))
			var line struct{ Msg, HTTP string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "goodwilld serving" {
				select {
				case addr <- line.HTTP:
				default:
				}
			}
		}
		exited <- cmd.Wait()
	}()
	var httpAddr string
	select {
	case httpAddr = <-addr:
	case err := <-exited:
		exited <- err
		t.Fatalf("goodwilld exited before serving: %v\n%s", err, logged.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("goodwilld did not log \"goodwilld serving\" within 30s")
	}

	for path, want := range map[string]string{"/healthz": `"status":"SERVING"`, "/version": `"version":"` + testVersion + `"`} {
		resp, err := http.Get("http://" + httpAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: HTTP %d %s; want 200 with %s", path, resp.StatusCode, body, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "admin.key")); err != nil {
		t.Errorf("no bootstrap key where GOODWILL_BOOTSTRAP_KEY_FILE says: %v", err)
	}

	// The image's stop signal ends it cleanly.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("goodwilld exited with %v after SIGTERM\n%s", err, logged.String())
		}
	case <-time.After(30 * time.Second):
		t.Error("goodwilld did not stop within 30s of SIGTERM")
	}
}

// lockedBuffer is the child's log, written by the reader goroutine and
// read by the test when it fails.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// envMap reads KEY=value pairs.
func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}
