// Command imagebuild builds goodwilld's container image with neither a
// Docker daemon nor a base image to pull: it compiles a static goodwilld
// (CGO_ENABLED=0, -trimpath) and lays it on an empty image with only what
// the binary needs (rootfs.go), then writes an OCI image layout directory
// and a docker-archive tarball (`podman load -i`, `docker load -i`).
//
//	go run ./imagebuild -ldflags "$LDFLAGS" -version v1.2.3 -revision abc123 \
//	    -created 2026-10-01T12:00:00Z -oci ../build/image -tar ../build/goodwilld-image.tar
//
// `make image` runs it with the same -ldflags as `make build`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"time"
)

// options are imagebuild's flags.
type options struct {
	// src is the main module's root, pkg the command to build inside it.
	src, pkg string
	goarch   string
	ldflags  string
	// version, revision, created and licenses become the image's OCI
	// labels; version also becomes its tag.
	version, revision, created, licenses string
	source                               string
	// caCerts is the build machine's CA bundle, copied in when present.
	caCerts string
	// repo is the image name the tarball carries (repo:tag).
	repo string
	// ociDir and tarPath are the outputs; either may be empty.
	ociDir, tarPath string
}

func main() {
	var o options
	flag.StringVar(&o.src, "src", "..", "the main module's root directory (holding go.mod)")
	flag.StringVar(&o.pkg, "pkg", "./server/cmd/goodwilld", "the command to build, relative to -src")
	flag.StringVar(&o.goarch, "goarch", runtime.GOARCH, "the image's CPU architecture (GOARCH)")
	flag.StringVar(&o.ldflags, "ldflags", "", "go build -ldflags (make image passes make build's)")
	flag.StringVar(&o.version, "version", "", "the image's version label and tag (default devel)")
	flag.StringVar(&o.revision, "revision", "", "the commit, for the org.opencontainers.image.revision label")
	flag.StringVar(&o.created, "created", "", "RFC 3339 creation time (default now); make image passes the commit's time, so one commit builds one image")
	flag.StringVar(&o.licenses, "licenses", "", "SPDX expression for org.opencontainers.image.licenses (default: no label, the repository declares no license)")
	flag.StringVar(&o.source, "source", "https://github.com/goodwill-ledger/goodwill", "the org.opencontainers.image.source label")
	flag.StringVar(&o.caCerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to copy to /etc/ssl/certs/ca-certificates.crt when present; empty: none")
	flag.StringVar(&o.repo, "repo", "localhost/goodwilld", "the image name in the tarball (podman lists it as repo:version)")
	flag.StringVar(&o.ociDir, "oci", "", "write an OCI image layout directory here (replacing it)")
	flag.StringVar(&o.tarPath, "tar", "", "write a docker-archive tarball here")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "imagebuild: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := run(ctx, o, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
	fmt.Printf("%s:%s %s\n", o.repo, res.tag, res.digest)
}

// createdTime is -created, or now.
func createdTime(s string) (time.Time, error) {
	if s == "" {
		return time.Now().UTC().Truncate(time.Second), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("-created %q: want an RFC 3339 time: %w", s, err)
	}
	return t.UTC(), nil
}
