package main

import (
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"
)

func newConfigCmd(a *app) *cobra.Command {
	var use bool
	set := &cobra.Command{
		Use:   "set-profile NAME [--addr ADDR] [--token-file FILE | --token KEY] [--tls...] [--timeout D]",
		Short: "Create or change a connection profile",
		Long: `Create a named profile, or change the settings given of an existing one
(an empty value, such as --token "", clears that setting). The connection
flags are the same as everywhere; only those on this command line are
stored, not environment variables. File paths are stored absolute.

The file is written with mode 0600, because a profile may hold a key given
with --token; --token-file stores only the path, and the key is read from
that file at each run.`,
		Example: `  goodwill config set-profile local --addr 127.0.0.1:50051 --token-file data/admin.key --use
  goodwill config set-profile prod --addr ledger.example.com:50051 --tls --token-file ~/.goodwill-prod.key`,
		Args: nargs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, path, err := a.loadConfig()
			if err != nil {
				return err
			}
			name := args[0]
			p := cfg.Profiles[name]
			if p == nil {
				p = &profile{}
			}
			changed := func(n string) bool {
				f := cmd.Flags().Lookup(n)
				return f != nil && f.Changed
			}
			if changed("token") && changed("token-file") {
				return usagef("give --token or --token-file, not both")
			}
			abs := func(flag, v string) (string, error) {
				if v == "" {
					return "", nil
				}
				out, err := filepath.Abs(v)
				if err != nil {
					return "", usagef("--%s: %v", flag, err)
				}
				return out, nil
			}
			for _, f := range []struct {
				flag string
				val  string
				dst  *string
				file bool
			}{
				{"addr", a.conn.addr, &p.Addr, false},
				{"tls-ca", a.conn.tlsCA, &p.TLSCA, true},
				{"tls-cert", a.conn.tlsCert, &p.TLSCert, true},
				{"tls-key", a.conn.tlsKey, &p.TLSKey, true},
				{"tls-server-name", a.conn.tlsServerName, &p.TLSServerName, false},
			} {
				if !changed(f.flag) {
					continue
				}
				v := f.val
				if f.file {
					if v, err = abs(f.flag, v); err != nil {
						return err
					}
				}
				*f.dst = v
			}
			// A profile has one key source: setting one clears the other.
			if changed("token") {
				p.Token, p.TokenFile = a.conn.token, ""
			}
			if changed("token-file") {
				if p.TokenFile, err = abs("token-file", a.conn.tokenFile); err != nil {
					return err
				}
				p.Token = ""
			}
			if changed("tls") {
				p.TLS = a.conn.tls
			}
			if changed("timeout") {
				p.Timeout = a.conn.timeout.String()
			}
			if cfg.Profiles == nil {
				cfg.Profiles = map[string]*profile{}
			}
			cfg.Profiles[name] = p
			if use {
				cfg.Current = name
			}
			if err := cfg.save(path); err != nil {
				return err
			}
			return a.show(profilesView(cfg, name))
		},
	}
	set.Flags().BoolVar(&use, "use", false, "also make it the current profile")

	useCmd := &cobra.Command{
		Use:               "use-profile NAME",
		Short:             "Make a profile the current one (\"\" for none)",
		Args:              nargs(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeProfiles,
		RunE: func(_ *cobra.Command, args []string) error {
			cfg, path, err := a.loadConfig()
			if err != nil {
				return err
			}
			if args[0] != "" && cfg.Profiles[args[0]] == nil {
				return usagef("no profile %q; goodwill config list shows the profiles", args[0])
			}
			cfg.Current = args[0]
			if err := cfg.save(path); err != nil {
				return err
			}
			return a.show(profilesView(cfg, ""))
		},
	}
	del := &cobra.Command{
		Use:               "delete-profile NAME",
		Short:             "Remove a profile",
		Args:              nargs(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeProfiles,
		RunE: func(_ *cobra.Command, args []string) error {
			cfg, path, err := a.loadConfig()
			if err != nil {
				return err
			}
			if cfg.Profiles[args[0]] == nil {
				return usagef("no profile %q", args[0])
			}
			delete(cfg.Profiles, args[0])
			if cfg.Current == args[0] {
				cfg.Current = ""
			}
			if err := cfg.save(path); err != nil {
				return err
			}
			return a.show(profilesView(cfg, ""))
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the profiles (keys show as set or unset, never themselves)",
		Args:  nargs(cobra.NoArgs),
		RunE: func(_ *cobra.Command, _ []string) error {
			cfg, _, err := a.loadConfig()
			if err != nil {
				return err
			}
			return a.show(profilesView(cfg, ""))
		},
	}
	show := &cobra.Command{
		Use:   "show",
		Short: "Show the connection settings in effect and where each comes from",
		Long: `Show the settings the other commands would use, after applying flags >
environment > profile > default, and where each came from. The key shows as
set or unset, never itself.`,
		Args: nargs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.resolve(cmd)
			if err != nil {
				return err
			}
			rows := s.describe()
			rows = append(rows, []any{"config_file", a.cfgPath, ""})
			js := map[string]map[string]string{}
			for _, r := range rows {
				js[r[0].(string)] = map[string]string{"value": r[1].(string), "source": r[2].(string)}
			}
			return a.show(view{msg: js, sections: []section{{header: []string{"SETTING", "VALUE", "SOURCE"}, rows: rows}}})
		},
	}
	cmd := group("config", "Manage connection profiles ("+configHint()+")", set, useCmd, del, list, show)
	cmd.GroupID = "settings"
	return cmd
}

func configHint() string {
	if p, err := configPath(); err == nil {
		return p
	}
	return "no config directory"
}

// profileJSON is a profile as config list prints it: the key only as
// "set" or "unset".
type profileJSON struct {
	Name          string `json:"name"`
	Current       bool   `json:"current"`
	Addr          string `json:"addr"`
	Token         string `json:"token"`
	TokenFile     string `json:"token_file"`
	TLS           bool   `json:"tls"`
	TLSCA         string `json:"tls_ca"`
	TLSCert       string `json:"tls_cert"`
	TLSKey        string `json:"tls_key"`
	TLSServerName string `json:"tls_server_name"`
	Timeout       string `json:"timeout"`
}

// profilesView lists every profile, or only one when name is set.
func profilesView(cfg *config, name string) view {
	out := []profileJSON{}
	s := section{
		header: []string{"CURRENT", "NAME", "ADDR", "TOKEN", "TOKEN FILE", "TLS", "TLS CA", "TLS CERT", "TLS KEY", "TLS SERVER NAME", "TIMEOUT"},
		only:   csvOnly(7, 8, 9),
	}
	for _, n := range cfg.names() {
		if name != "" && n != name {
			continue
		}
		p := cfg.Profiles[n]
		tok := "unset"
		if p.Token != "" {
			tok = "set"
		}
		tls := p.TLS || p.TLSCA != "" || p.TLSCert != "" || p.TLSServerName != ""
		pj := profileJSON{Name: n, Current: n == cfg.Current, Addr: p.Addr, Token: tok, TokenFile: p.TokenFile, TLS: tls,
			TLSCA: p.TLSCA, TLSCert: p.TLSCert, TLSKey: p.TLSKey, TLSServerName: p.TLSServerName, Timeout: p.Timeout}
		out = append(out, pj)
		cur := ""
		if pj.Current {
			cur = "*"
		}
		s.rows = append(s.rows, []any{cur, n, p.Addr, tok, p.TokenFile, strconv.FormatBool(tls), p.TLSCA, p.TLSCert, p.TLSKey, p.TLSServerName, p.Timeout})
	}
	if name != "" {
		s.record = true
		return view{msg: out[0], sections: []section{s}}
	}
	return view{msg: map[string]any{"current": cfg.Current, "profiles": out}, sections: []section{s}}
}
