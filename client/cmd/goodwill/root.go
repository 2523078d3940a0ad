package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/goodwill-ledger/goodwill/client"
)

// commands are goodwill's top-level commands, in help order, each built
// around the app they share. A new command is one constructor in a file of
// its own, added here.
var commands = []func(*app) *cobra.Command{
	newRecordCmd, newReverseCmd, newIncidentCmd, newEventsCmd, newCustomerCmd,
	newBalanceCmd, newExplainCmd, newPlanCmd, newHistoryCmd, newBalancesCmd, newTrendCmd, newOutreachCmd,
	newPolicyCmd, newNotificationsCmd, newWebhooksCmd,
	newImportCmd, newExportCmd,
	newWhoamiCmd, newConfigCmd,
}

// Help groups.
var groups = []*cobra.Group{
	{ID: "ledger", Title: "Record and read the ledger:"},
	{ID: "balances", Title: "Balances and outreach:"},
	{ID: "admin", Title: "Policy, notifications and webhooks:"},
	{ID: "data", Title: "Bulk data:"},
	{ID: "settings", Title: "Connection and shell:"},
}

// app is what every command shares: where output goes, the connection
// flags, and the connection itself, dialled on first use so that commands
// that make no call (config, completion, help) never need a server.
type app struct {
	stdout, stderr io.Writer
	conn           connFlags
	output         string

	cfg      *config
	cfgPath  string
	settings *settings
	client   *client.Client
}

// run executes one command line and returns its exit code; main and the
// tests both go through it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root, a := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	a.close()
	if err != nil {
		fmt.Fprintf(stderr, "goodwill: %s\n", errorMessage(err, a.secrets()...))
		if _, ok := errors.AsType[*usageError](err); ok && cmd != nil {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
	}
	return exitCode(err)
}

// newRootCmd builds the command tree writing to stdout and stderr.
func newRootCmd(stdout, stderr io.Writer) (*cobra.Command, *app) {
	a := &app{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "goodwill",
		Short: "Command-line client of the Goodwill Ledger (goodwilld)",
		Long: `goodwill records events and reads trust balances, outreach lists, the
policy and webhooks of a goodwilld server, over gRPC. Writes carry an
idempotency key (--key, or a fresh one) and are retried safely.

Connection settings (--addr, --token, --tls...) come from, in order: flags,
environment variables (` + envAddr + `, ` + envToken + `, ` + envTokenFile + `,
` + envProfile + `), the profile in use (goodwill config), defaults. The API key
is never printed.

Output (-o): table on a terminal, json otherwise; csv for tables.
Times are RFC 3339 (2026-11-20T14:00:00Z), a date (2026-11-20), now, or an
offset from now (-30d, -2h). Event kinds are accepted with or without the
EVENT_KIND_ prefix, in any case (outage, EVENT_KIND_OUTAGE).

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noSubcommand,
		RunE:          helpOrUsage,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if a.output == "" {
				a.output = defaultFormat(stdout)
			}
			if !slices.Contains(formats, a.output) {
				return usagef("-o %q: one of %s", a.output, strings.Join(formats, ", "))
			}
			// Cobra checks these after this hook and returns plain errors;
			// checked here first, they are usage errors (exit 2).
			for _, check := range []func() error{cmd.ValidateRequiredFlags, cmd.ValidateFlagGroups} {
				if err := check(); err != nil {
					return &usageError{msg: err.Error()}
				}
			}
			return nil
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{msg: err.Error()} })
	pf := root.PersistentFlags()
	a.conn.register(pf)
	pf.StringVarP(&a.output, "output", "o", "", "output format: table, json or csv (default: table on a terminal, else json)")
	_ = root.RegisterFlagCompletionFunc("output", complete(formats...))
	_ = root.RegisterFlagCompletionFunc("profile", a.completeProfiles)

	root.AddGroup(groups...)
	root.SetHelpCommandGroupID("settings")
	root.SetCompletionCommandGroupID("settings")
	for _, newCmd := range commands {
		root.AddCommand(newCmd(a))
	}
	return root, a
}

// noSubcommand refuses arguments on a command that only groups others: an
// unknown subcommand is a usage error, with cobra's suggestion.
func noSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's own default, which it sets only on its own path
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usagef("%s", msg)
}

// helpOrUsage runs a grouping command: its help.
func helpOrUsage(cmd *cobra.Command, _ []string) error { return cmd.Help() }

// group makes a command that holds subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: noSubcommand, RunE: helpOrUsage}
	c.AddCommand(subs...)
	return c
}

// nargs wraps cobra's argument checks so a wrong count is a usage error.
func nargs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &usageError{msg: err.Error()}
		}
		return nil
	}
}

// loadConfig reads the config file once.
func (a *app) loadConfig() (*config, string, error) {
	if a.cfg == nil {
		c, path, err := loadConfig()
		if err != nil {
			return nil, path, err
		}
		a.cfg, a.cfgPath = c, path
		if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 && c.holdsKey() {
			a.warn("%s holds an API key and is readable by others (mode %v): chmod 600 it", path, st.Mode().Perm())
		}
	}
	return a.cfg, a.cfgPath, nil
}

// resolve works out the connection settings once.
func (a *app) resolve(cmd *cobra.Command) (*settings, error) {
	if a.settings != nil {
		return a.settings, nil
	}
	cfg, _, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	s, err := resolve(cmd, &a.conn, cfg)
	if err != nil {
		return nil, err
	}
	a.settings = s
	return s, nil
}

// dial connects with the settings in effect (lazily: the first call
// connects).
func (a *app) dial(cmd *cobra.Command) (*client.Client, error) {
	if a.client != nil {
		return a.client, nil
	}
	s, err := a.resolve(cmd)
	if err != nil {
		return nil, err
	}
	opts, _, err := s.dialOptions()
	if err != nil {
		return nil, err
	}
	if s.plaintextKeyOffLoopback() {
		fmt.Fprintf(a.stderr, "goodwill: warning: sending the API key without TLS to %s: anyone on the network path can read it (use --tls)\n", s.addr.value)
	}
	c, err := client.Dial(s.addr.value, opts...)
	if err != nil {
		return nil, usagef("--addr %q: %v", s.addr.value, err)
	}
	a.client = c
	return c, nil
}

func (a *app) close() {
	if a.client != nil {
		_ = a.client.Close()
	}
}

// secrets are the keys this command line could be using, to be cut out of
// any message: the one in effect, and any given that lost to another.
func (a *app) secrets() []string {
	var out []string
	for _, s := range []string{a.conn.token, os.Getenv(envToken)} {
		if s != "" {
			out = append(out, s)
		}
	}
	if a.settings != nil && a.settings.token.value != "" {
		out = append(out, a.settings.token.value)
	}
	if a.cfg != nil {
		for _, p := range a.cfg.Profiles {
			if p.Token != "" {
				out = append(out, p.Token)
			}
		}
	}
	return out
}

// show prints v in the chosen format.
func (a *app) show(v view) error {
	return render(a.stdout, a.stderr, a.output, v)
}

// completeProfiles completes --profile and profile names.
func (a *app) completeProfiles(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	cfg, _, err := a.loadConfig()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return cfg.names(), cobra.ShellCompDirectiveNoFileComp
}
