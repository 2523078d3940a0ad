package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// The config file holds named connection profiles. It is JSON (the
// standard library reads it; no new dependency) at
// os.UserConfigDir()/goodwill/config.json, written 0600 in a 0700
// directory because a profile may hold an API key.
type config struct {
	// Current is the profile used when neither --profile nor
	// GOODWILL_PROFILE names one; empty for none.
	Current  string              `json:"current,omitempty"`
	Profiles map[string]*profile `json:"profiles,omitempty"`
	// LastJobs remembers, per server address, the recompute job the last
	// `policy set` from this machine started: `policy job` without an id
	// shows it (the API has no call listing jobs).
	LastJobs map[string]string `json:"last_jobs,omitempty"`
}

// profile is one set of connection settings. Empty fields fall through to
// the defaults; flags and environment variables override each field.
type profile struct {
	Addr          string `json:"addr,omitempty"`
	Token         string `json:"token,omitempty"`
	TokenFile     string `json:"token_file,omitempty"`
	TLS           bool   `json:"tls,omitempty"`
	TLSCA         string `json:"tls_ca,omitempty"`
	TLSCert       string `json:"tls_cert,omitempty"`
	TLSKey        string `json:"tls_key,omitempty"`
	TLSServerName string `json:"tls_server_name,omitempty"`
	Timeout       string `json:"timeout,omitempty"`
}

// configPath is where the config file lives.
func configPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory (set XDG_CONFIG_HOME or HOME): %w", err)
	}
	return filepath.Join(dir, "goodwill", "config.json"), nil
}

// loadConfig reads the config file; a missing file is an empty config.
func loadConfig() (*config, string, error) {
	path, err := configPath()
	if err != nil {
		return nil, "", err
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &config{}, path, nil
	}
	if err != nil {
		return nil, path, fmt.Errorf("read config: %w", err)
	}
	var c config
	if err := json.Unmarshal(raw, &c); err != nil {
		// The message names the file and the position, never the content:
		// the content may hold a key.
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, path, fmt.Errorf("config %s is not valid JSON (at byte %d)", path, se.Offset)
		}
		return nil, path, fmt.Errorf("config %s: not a goodwill config file", path)
	}
	return &c, path, nil
}

// save writes the config atomically (a temporary file renamed over the old
// one), so an interrupted write never leaves half a file, with mode 0600.
func (c *config) save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	raw, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.json")
	if err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	// CreateTemp makes the file 0600 already; Chmod says so for readers.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write config: %w", err)
	}
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

// names lists the profiles in order.
func (c *config) names() []string {
	out := make([]string, 0, len(c.Profiles))
	for n := range c.Profiles {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// holdsKey reports whether any profile stores a key itself.
func (c *config) holdsKey() bool {
	for _, p := range c.Profiles {
		if p.Token != "" {
			return true
		}
	}
	return false
}
