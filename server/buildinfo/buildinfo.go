// Package buildinfo says which build of goodwilld is running: its version,
// the commit it was built from, when, and with which Go. It reads what the
// Go toolchain stamps into every binary (runtime/debug.ReadBuildInfo), and
// lets a release build override the version, commit and date with
// -ldflags -X (the Makefile does, from git): the toolchain stamps VCS
// data only when it builds inside a checkout with -buildvcs on, which a
// release pipeline building from a tarball, or GOFLAGS=-buildvcs=false,
// does not give.
//
// It knows no transport: the version command, GET /version and the
// goodwill_build_info metric all read Get.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// Set with -ldflags "-X github.com/goodwill-ledger/goodwill/server/buildinfo.version=v1.2.3"
// (and .commit, .buildDate). Empty: read from the binary's build info.
var (
	version   string
	commit    string
	buildDate string
)

// Unknown stands for what a build did not record (no VCS stamp, no
// ldflags): a value always appears, so a metric label or a JSON field is
// never empty.
const Unknown = "unknown"

// Info is one build's identity. Its JSON form is GET /version's body.
type Info struct {
	// Version is the release (v1.2.3, or git describe's
	// v1.2.3-4-gabcdef0-dirty), else the main module's version as the Go
	// toolchain stamped it, else "devel" (go run, go test, a build outside a
	// checkout).
	Version string `json:"version"`
	// Commit is the VCS revision, with "-dirty" when the tree had
	// uncommitted changes.
	Commit string `json:"commit"`
	// BuildDate is the RFC 3339 time the Makefile passes (the commit's
	// time, so one commit builds the same binary), else the commit time Go
	// stamped (vcs.time).
	BuildDate string `json:"buildDate"`
	// GoVersion is the toolchain that built the binary (go1.26.8).
	GoVersion string `json:"goVersion"`
}

// Get is this binary's Info, read once.
var Get = sync.OnceValue(func() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return fromBuild(bi, Info{Version: version, Commit: commit, BuildDate: buildDate})
})

// fromBuild combines the toolchain's build info (nil when the binary has
// none) with the values set by ldflags, which win when not empty.
func fromBuild(bi *debug.BuildInfo, set Info) Info {
	out := Info{Version: "devel", Commit: Unknown, BuildDate: Unknown, GoVersion: runtime.Version()}
	if bi != nil {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			out.Version = v
		}
		if bi.GoVersion != "" {
			out.GoVersion = bi.GoVersion
		}
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if s.Value != "" {
					out.Commit = s.Value
				}
			case "vcs.time":
				if s.Value != "" {
					out.BuildDate = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && out.Commit != Unknown {
			out.Commit += "-dirty"
		}
	}
	if set.Version != "" {
		out.Version = set.Version
	}
	if set.Commit != "" {
		out.Commit = set.Commit
	}
	if set.BuildDate != "" {
		out.BuildDate = set.BuildDate
	}
	return out
}

// String is the one-line form (goodwilld --version).
func (i Info) String() string {
	return fmt.Sprintf("goodwilld %s (commit %s, built %s, %s)", i.Version, i.Commit, i.BuildDate, i.GoVersion)
}

// Fields are the name and value of each field, in order, for a listing
// (goodwilld version).
func (i Info) Fields() [][2]string {
	return [][2]string{{"version", i.Version}, {"commit", i.Commit}, {"build date", i.BuildDate}, {"go version", i.GoVersion}}
}
