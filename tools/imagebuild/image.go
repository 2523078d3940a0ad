package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The ports goodwilld serves on: the defaults of --grpc-addr and
// --http-addr (server/app/config.go; the test checks they still are).
const (
	grpcPort = 50051
	httpPort = 8080
)

// imageEnv are the image's defaults, each a goodwilld flag's GOODWILL_*
// form (the test checks every name is a flag), so `podman run` with a
// volume on /data serves at once. goodwilld's own defaults listen on
// loopback only, which no one outside a container can reach.
var imageEnv = []string{
	"GOODWILL_GRPC_ADDR=0.0.0.0:" + strconv.Itoa(grpcPort),
	"GOODWILL_HTTP_ADDR=0.0.0.0:" + strconv.Itoa(httpPort),
	// Absolute, in the one writable directory (the default,
	// data/goodwill.db, is relative to the working directory).
	"GOODWILL_DB=sqlite:" + dataDir + "/goodwill.db",
	"GOODWILL_BOOTSTRAP_KEY_FILE=" + dataDir + "/admin.key",
	// One JSON object a line is what log collectors read.
	"GOODWILL_LOG_FORMAT=json",
}

// result is what run built.
type result struct {
	tag    string
	digest v1.Hash
	img    v1.Image
}

// run builds the binary and the image and writes the outputs o asks for.
// Progress goes to log.
func run(ctx context.Context, o options, log io.Writer) (result, error) {
	created, err := createdTime(o.created)
	if err != nil {
		return result{}, err
	}
	if o.version == "" {
		o.version = "devel"
	}
	tmp, err := os.MkdirTemp("", "imagebuild-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintf(log, "imagebuild: building %s for linux/%s (CGO_ENABLED=0, -trimpath)\n", o.pkg, o.goarch)
	binPath, err := buildStatic(ctx, o, tmp)
	if err != nil {
		return result{}, err
	}
	binary, err := os.ReadFile(binPath)
	if err != nil {
		return result{}, err
	}
	ca, err := readCACerts(o.caCerts, log)
	if err != nil {
		return result{}, err
	}
	img, err := buildImage(o, binary, ca, created)
	if err != nil {
		return result{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return result{}, err
	}
	res := result{tag: imageTag(o.version), digest: digest, img: img}
	if o.ociDir != "" {
		if err := writeOCILayout(o.ociDir, img, res.tag); err != nil {
			return result{}, err
		}
		fmt.Fprintf(log, "imagebuild: OCI image layout in %s (ref %s)\n", o.ociDir, res.tag)
	}
	if o.tarPath != "" {
		if err := writeDockerArchive(o.tarPath, img, o.repo+":"+res.tag); err != nil {
			return result{}, err
		}
		fmt.Fprintf(log, "imagebuild: docker-archive %s (podman load -i %s)\n", o.tarPath, o.tarPath)
	}
	return res, nil
}

// readCACerts returns the CA bundle at path, or nil (with a warning) when
// there is none: goodwilld then cannot verify TLS servers it dials
// (webhooks over https, NATS or OTLP over TLS, a database with
// sslmode=verify-full and no sslrootcert).
func readCACerts(path string, log io.Writer) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	ca, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		fmt.Fprintf(log, "imagebuild: WARNING: no CA bundle at %s: the image has no CA certificates; "+
			"mount one at %s to dial TLS servers\n", path, caPath)
		return nil, nil
	}
	return ca, err
}

// buildImage lays the root file system on an empty image and writes the
// configuration a runtime reads: who runs what, on which ports, with
// which defaults. Media types are OCI's throughout.
func buildImage(o options, binary, ca []byte, created time.Time) (v1.Image, error) {
	fs, err := rootFS(binary, ca, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(fs)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		Created:   v1.Time{Time: created},
		CreatedBy: "imagebuild: static goodwilld, /etc/passwd, /etc/group, CA certificates, /data, /tmp",
	}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", o.goarch
	cf.Created = v1.Time{Time: created}
	cf.Config = v1.Config{
		// Numeric, so a runtime can tell it is not root without reading
		// /etc/passwd (Kubernetes' runAsNonRoot needs that).
		User:       fmt.Sprintf("%d:%d", nonrootUID, nonrootUID),
		Entrypoint: []string{binaryPath},
		Cmd:        []string{"serve"},
		WorkingDir: dataDir,
		Env:        imageEnv,
		ExposedPorts: map[string]struct{}{
			strconv.Itoa(grpcPort) + "/tcp": {},
			strconv.Itoa(httpPort) + "/tcp": {},
		},
		// goodwilld drains and shuts down gracefully on SIGTERM.
		StopSignal: "SIGTERM",
		Labels:     labels(o, created),
	}
	return mutate.ConfigFile(img, cf)
}

// labels are the OCI annotations of the image's configuration.
func labels(o options, created time.Time) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "goodwilld",
		"org.opencontainers.image.description": "Goodwill Ledger: per-customer goodwill ledger and trust balances, over gRPC and REST",
		"org.opencontainers.image.version":     o.version,
		"org.opencontainers.image.created":     created.Format(time.RFC3339),
		"org.opencontainers.image.source":      o.source,
	}
	if o.revision != "" {
		l["org.opencontainers.image.revision"] = o.revision
	}
	if o.licenses != "" {
		l["org.opencontainers.image.licenses"] = o.licenses
	}
	return l
}

// notInTag are the characters an image tag may not hold ([A-Za-z0-9_.-]
// are allowed): a Go pseudo-version's "+dirty", for one.
var notInTag = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// imageTag turns a version into a valid tag: at most 128 characters, not
// beginning with "." or "-".
func imageTag(version string) string {
	t := notInTag.ReplaceAllString(version, "-")
	if t == "" || t[0] == '.' || t[0] == '-' {
		t = "v" + t
	}
	if len(t) > 128 {
		t = t[:128]
	}
	return t
}
