package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envVarName finds the GOODWILL_* variables a manifest sets.
var envVarName = regexp.MustCompile(`(?m)^\s*-?\s*name:\s*"?(GOODWILL_[A-Z0-9_]+)"?\s*$`)

// Every GOODWILL_* variable the Kubernetes manifests under deploy/ set
// names a flag of goodwilld: bindEnv ignores a variable no flag reads, so a
// misspelt one (GOODWILL_DRAIN_DELAY as GOODWILL_DRAIN_DELAYS) would
// silently change nothing.
func TestDeployEnvNamesAreFlags(t *testing.T) {
	envs := map[string]bool{}
	for _, c := range allCommands(newRoot()) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				name := "GOODWILL_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
				if n, ok := envNames[f.Name]; ok {
					name = n
				}
				envs[name] = true
			})
		}
	}
	seen := 0
	err := filepath.WalkDir("../../../deploy", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range envVarName.FindAllSubmatch(raw, -1) {
			seen++
			if name := string(m[1]); !envs[name] {
				t.Errorf("%s sets %s, which no goodwilld flag reads", path, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 5 {
		t.Fatalf("found only %d GOODWILL_* variables under deploy/: is the pattern still right?", seen)
	}
}

func allCommands(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		out = append(out, allCommands(sub)...)
	}
	return out
}
