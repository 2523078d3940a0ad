package buildinfo

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestFromBuild(t *testing.T) {
	stamped := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/goodwill-ledger/goodwill", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{
			{Key: "-trimpath", Value: "true"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-10-01T12:00:00Z"},
			{Key: "vcs.modified", Value: "false"},
		},
	}
	dirty := *stamped
	dirty.Settings = append(append([]debug.BuildSetting(nil), stamped.Settings[:4]...), debug.BuildSetting{Key: "vcs.modified", Value: "true"})
	unstamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/goodwill-ledger/goodwill", Version: "(devel)"}}

	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		set  Info
		want Info
	}{
		{"stamped by the toolchain", stamped, Info{},
			Info{"v1.4.0", "0123456789abcdef0123456789abcdef01234567", "2026-10-01T12:00:00Z", "go1.26.8"}},
		{"uncommitted changes", &dirty, Info{},
			Info{"v1.4.0", "0123456789abcdef0123456789abcdef01234567-dirty", "2026-10-01T12:00:00Z", "go1.26.8"}},
		{"no VCS stamp (-buildvcs=false, go run)", unstamped, Info{},
			Info{"devel", Unknown, Unknown, "go1.26.8"}},
		{"no build info at all", nil, Info{},
			Info{"devel", Unknown, Unknown, runtime.Version()}},
		{"ldflags win over the stamp", stamped, Info{Version: "v2.0.0-rc.1", Commit: "abc1234-dirty", BuildDate: "2026-11-01T00:00:00Z"},
			Info{"v2.0.0-rc.1", "abc1234-dirty", "2026-11-01T00:00:00Z", "go1.26.8"}},
		{"ldflags version alone keeps the stamped commit", &dirty, Info{Version: "v2.0.0"},
			Info{"v2.0.0", "0123456789abcdef0123456789abcdef01234567-dirty", "2026-10-01T12:00:00Z", "go1.26.8"}},
		{"ldflags on a build without a stamp", unstamped, Info{Version: "v2.0.0", Commit: "abc1234"},
			Info{"v2.0.0", "abc1234", Unknown, "go1.26.8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fromBuild(tc.bi, tc.set); got != tc.want {
				t.Errorf("fromBuild = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// GET /version's body and the version command read these names; a
// renamed field would break clients and the docs.
func TestJSONNames(t *testing.T) {
	raw, err := json.Marshal(Info{"v1", "c", "d", "go1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"version":"v1","commit":"c","buildDate":"d","goVersion":"go1"}`; string(raw) != want {
		t.Errorf("JSON = %s, want %s", raw, want)
	}
}

// The test binary itself: no field is ever empty, and the Go version is
// the running one.
func TestGet(t *testing.T) {
	i := Get()
	if i.Version == "" || i.Commit == "" || i.BuildDate == "" {
		t.Errorf("Get() = %+v: an empty field", i)
	}
	if i.GoVersion != runtime.Version() {
		t.Errorf("GoVersion = %q, want %q", i.GoVersion, runtime.Version())
	}
	if got, want := i.String(), "goodwilld "+i.Version+" (commit "+i.Commit+", built "+i.BuildDate+", "+i.GoVersion+")"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
