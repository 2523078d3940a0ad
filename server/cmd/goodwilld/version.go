package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/goodwill-ledger/goodwill/server/buildinfo"
)

// addVersion gives the root command --version (one line) and adds
// `goodwilld version` (one field a line, for people and scripts alike).
func addVersion(root *cobra.Command) {
	root.Version = buildinfo.Get().String()
	// cobra's default template would print "goodwilld version goodwilld ...".
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date and Go version of this binary",
		Args:  cobra.NoArgs,
		// The root's hook reads GOODWILL_* variables and builds a logger:
		// a version check must answer even where those are wrong.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printVersion(cmd.OutOrStdout(), buildinfo.Get())
		},
	})
}

// printVersion writes "name: value" lines, names padded to one column.
func printVersion(w io.Writer, i buildinfo.Info) error {
	for _, f := range i.Fields() {
		if _, err := fmt.Fprintf(w, "%-11s %s\n", f[0]+":", f[1]); err != nil {
			return err
		}
	}
	return nil
}
