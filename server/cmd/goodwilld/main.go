// Command goodwilld is the Goodwill Ledger server.
//
//	goodwilld serve     serve gRPC and REST (the default)
//	goodwilld migrate   apply pending store migrations and exit
//	goodwilld keys      create, list and revoke API keys
//	goodwilld verify    replay every event log and compare with the stored balances
//	goodwilld version   print the version, commit, build date and Go version (also --version)
//
// Every flag has a GOODWILL_* environment equivalent (--grpc-addr is
// GOODWILL_GRPC_ADDR; --cors-origin, repeatable, is GOODWILL_CORS_ORIGINS,
// comma-separated); a flag given on the command line wins.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/goodwill-ledger/goodwill/server/app"
	"github.com/goodwill-ledger/goodwill/server/store"
	"github.com/goodwill-ledger/goodwill/server/store/postgres"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "goodwilld:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	var (
		cfg       app.Config
		logLevel  string
		logFormat string
	)
	root := &cobra.Command{
		Use:           "goodwilld",
		Short:         "Goodwill Ledger: per-customer goodwill ledger and trust balances",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			log, err := newLogger(logLevel, logFormat)
			if err != nil {
				return err
			}
			slog.SetDefault(log)
			cfg.Logger = log
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&cfg.DB, "db", app.DefaultDB, "store URL: sqlite:PATH (embedded) or postgres://... (CockroachDB or PostgreSQL)")
	pf.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	pf.StringVar(&logFormat, "log-format", "text", "text or json")

	var gcPercent int
	var memoryLimit string
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve the gRPC API and the REST gateway",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := tuneGC(gcPercent, memoryLimit, cfg.Logger); err != nil {
				return err
			}
			if cfg.OTLPEndpoint != "" {
				logOTelErrors(cfg.Logger)
			}
			ctx, again, stop := shutdownSignals(cmd.Context())
			defer stop()
			done, err := cfg.Complete(ctx)
			if err != nil {
				return err
			}
			ran := make(chan struct{})
			defer close(ran)
			go func() {
				select {
				case <-again:
					done.SkipDrain()
				case <-ran:
				}
			}()
			return done.Run(ctx)
		},
	}
	f := serve.Flags()
	f.StringVar(&cfg.GRPCAddr, "grpc-addr", app.DefaultGRPCAddr, "gRPC listen address")
	f.StringVar(&cfg.HTTPAddr, "http-addr", app.DefaultHTTPAddr, "REST gateway listen address")
	f.BoolVar(&cfg.NoAutoMigrate, "no-auto-migrate", false, "do not apply migrations at start (run `goodwilld migrate` instead)")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 0, "how long in-flight requests may run after SIGTERM (default 15s)")
	f.DurationVar(&cfg.DrainDelay, "drain-delay", 0, "on SIGTERM, report NOT_SERVING but keep serving this long before shutting down, so a load balancer stops sending requests first (5s-10s behind one; a second signal ends it)")
	f.StringVar(&cfg.OTLPEndpoint, "otlp-endpoint", "", "export traces over OTLP/gRPC to this collector: host:port (TLS), http://host:port (plaintext) or https://host:port; none: no tracing")
	f.BoolVar(&cfg.OTLPInsecure, "otlp-insecure", false, "export traces to a host:port --otlp-endpoint in plaintext")
	f.Float64Var(&cfg.TraceSampleRatio, "trace-sample-ratio", 1, "share of the traces starting here that are recorded, 0 to 1 (a caller's sampled traceparent always is)")
	f.IntVar(&cfg.MaxRequestBytes, "max-request-bytes", 0, "largest request accepted, gRPC or REST (default 4 MiB)")
	f.BoolVar(&cfg.GroupCommit.Disabled, "no-group-commit", false, "run every RecordEvent in its own transaction")
	f.DurationVar(&cfg.GroupCommit.Window, "group-commit-window", 0, "how long a write batch waits for more writes after its oldest arrived (default 1ms)")
	f.IntVar(&cfg.GroupCommit.MaxBatch, "group-commit-max", 0, "most writes in one batch (default 256)")
	f.IntVar(&cfg.GroupCommit.Writers, "group-commit-writers", 0, "write batches in flight at once, each customer always in the same one (default 1; more only helps a networked store, and only when writes rarely share customers)")
	f.StringVar(&cfg.NATSURL, "nats-url", "", "publish every notification to NATS JetStream at this URL (nats://host:4222), subject goodwill.<tenant>.<type>")
	f.StringVar(&cfg.NATSStream, "nats-stream", "GOODWILL", "the JetStream stream notifications are published to (created if missing)")
	f.StringVar(&cfg.NATSSubjectPrefix, "nats-subject-prefix", "goodwill", "the first token of the subjects: <prefix>.<tenant>.<type>")
	f.BoolVar(&cfg.WebhookAllowPrivate, "webhook-allow-private", false, "let webhooks use http and private, loopback or link-local addresses (tests, deployments inside one network)")
	f.DurationVar(&cfg.WebhookRetryFor, "webhook-retry-for", 24*time.Hour, "how long a notification a webhook does not take is retried before it is marked failed")
	f.DurationVar(&cfg.NotificationRetention, "notification-retention", 7*24*time.Hour, "how long notifications are kept for stream, webhook and NATS consumers that fell behind")
	f.BoolVar(&cfg.FollowerReads, "follower-reads", false, "serve analyst reads from a snapshot a few seconds old (CockroachDB follower reads)")
	f.StringVar(&cfg.BootstrapKeyFile, "bootstrap-key-file", "data/admin.key",
		"when the store has no API key, create an admin key for the default tenant and write it here (mode 0600); empty: never")
	f.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at /metrics on this address, such as 127.0.0.1:9090 (no authentication; warned about off loopback)")
	f.StringVar(&cfg.DebugAddr, "debug-addr", "", "serve Go's profiler (/debug/pprof/) here, without authentication: a loopback address only, such as 127.0.0.1:6060")
	f.Float64Var(&cfg.RateLimit.PerSecond, "rate-limit", 1000, "requests per second each API key may make on average; 0: unlimited")
	f.IntVar(&cfg.RateLimit.Burst, "rate-burst", 2000, "requests an API key may make at once above its rate")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate (chain) file: serve gRPC over TLS and REST over HTTPS (needs --tls-key)")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key file for --tls-cert")
	f.StringVar(&cfg.TLSClientCA, "tls-client-ca", "", "PEM CA file: require client certificates signed by it, gRPC and HTTPS (mutual TLS)")
	f.IntVar(&gcPercent, "gc-percent", defaultGCPercent, "garbage collection target, as GOGC (which wins when set): how far the heap may grow past what is live, in percent")
	f.StringVar(&memoryLimit, "memory-limit", "", "soft memory limit, as GOMEMLIMIT (which wins when set), such as 768MiB: set it to about 80% of a container's memory")
	f.BoolVar(&cfg.NoConsole, "no-console", false, "do not serve the web console at /console/ on the HTTP port")
	f.StringSliceVar(&cfg.CORSOrigins, "cors-origin", nil, "browser origin allowed to call the REST API, such as https://app.example.com (repeatable or comma-separated; default none)")

	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending store migrations and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := store.Open(cmd.Context(), cfg.DB, store.Options{Migrate: true, Logger: cfg.Logger})
			if err != nil {
				return err
			}
			cfg.Logger.Info("store is migrated", "db", store.Redact(cfg.DB))
			return st.Close()
		},
	}
	var printOnly bool
	grant := &cobra.Command{
		Use:   "grant ROLE",
		Short: "Grant a database role what goodwilld needs, and no more (PostgreSQL, CockroachDB)",
		Long: "Grant ROLE the privileges goodwilld serve, keys and verify need on a migrated database: no\n" +
			"UPDATE, DELETE or TRUNCATE on events, so the ledger is append-only for that role. Run it as\n" +
			"the schema's owner (who ran `goodwilld migrate`), then run goodwilld as ROLE with\n" +
			"--no-auto-migrate. With --print, print the statements instead (no --db needed).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if printOnly {
				for _, stmt := range postgres.GrantStatements(args[0]) {
					fmt.Fprintln(cmd.OutOrStdout(), stmt+";")
				}
				fmt.Fprintln(cmd.OutOrStdout(), "-- PostgreSQL only:")
				for _, stmt := range postgres.PostgresGrantStatements(args[0]) {
					fmt.Fprintln(cmd.OutOrStdout(), stmt+";")
				}
				return nil
			}
			st, err := store.Open(cmd.Context(), cfg.DB, store.Options{Logger: cfg.Logger})
			if err != nil {
				return err
			}
			defer st.Close()
			g, ok := st.(store.Granter)
			if !ok {
				return fmt.Errorf("--db %s: the embedded store has no database roles to grant", store.Redact(cfg.DB))
			}
			if err := store.RequireMigrated(cmd.Context(), st, cfg.DB); err != nil {
				return err
			}
			if err := g.Grant(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "granted %s what goodwilld needs on %s\n", args[0], store.Redact(cfg.DB))
			return nil
		},
	}
	grant.Flags().BoolVar(&printOnly, "print", false, "print the GRANT statements instead of running them")
	root.AddCommand(serve, migrate, grant, newKeysCommand(&cfg), newVerifyCommand(&cfg))
	addVersion(root)
	return root
}

// envNames are the variables not derived from their flag's name: a
// repeatable flag named in the singular reads a plural variable.
var envNames = map[string]string{"cors-origin": "GOODWILL_CORS_ORIGINS"}

// bindEnv sets every flag not given on the command line from its GOODWILL_*
// variable, if set.
func bindEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		env := "GOODWILL_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if name, ok := envNames[f.Name]; ok {
			env = name
		}
		if v, ok := os.LookupEnv(env); ok && !f.Changed && err == nil {
			if serr := f.Value.Set(v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, serr)
			}
		}
	})
	return err
}

func newLogger(level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
