package main

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/goodwill-ledger/goodwill/server/app"
	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store"
)

// newKeysCommand is `goodwilld keys`: API keys, managed on the store
// directly (like migrate), by whoever can reach the database.
func newKeysCommand(cfg *app.Config) *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Create, list and revoke API keys"}

	var tenant, role, name string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API key and print its secret (shown only this once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return fmt.Errorf("--role: %w", err)
			}
			return withStore(cmd.Context(), cfg, func(st store.Backend) error {
				k, token, err := auth.CreateKey(cmd.Context(), st, cfg.Logger, tenant, r, name, operator())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "created key %s (tenant %s, role %s); its secret, shown only now:\n", k.ID, k.Tenant, k.Role)
				fmt.Fprintln(cmd.OutOrStdout(), token)
				return nil
			})
		},
	}
	create.Flags().StringVar(&tenant, "tenant", ledger.DefaultTenant, "the tenant the key reads and writes")
	create.Flags().StringVar(&role, "role", "", "reader, writer or admin (required)")
	create.Flags().StringVar(&name, "name", "", "what the key is for, as in crm-ingest")
	_ = create.MarkFlagRequired("role")

	var listTenant string
	list := &cobra.Command{
		Use:   "list",
		Short: "List API keys (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd.Context(), cfg, func(st store.Backend) error {
				ks, err := st.Keys(cmd.Context(), listTenant)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tTENANT\tROLE\tNAME\tCREATED\tCREATED BY\tREVOKED")
				for _, k := range ks {
					revoked := "-"
					if k.Revoked() {
						revoked = k.RevokedAt.Format(time.RFC3339)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Tenant, k.Role, k.Name,
						k.CreatedAt.Format(time.RFC3339), k.CreatedBy, revoked)
				}
				return w.Flush()
			})
		},
	}
	list.Flags().StringVar(&listTenant, "tenant", "", "only this tenant's keys (default: all)")

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key (servers stop accepting it within 5 seconds)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), cfg, func(st store.Backend) error {
				if err := auth.RevokeKey(cmd.Context(), st, cfg.Logger, args[0], operator()); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "revoked key %s\n", args[0])
				return nil
			})
		},
	}
	keys.AddCommand(create, list, revoke)
	return keys
}

// withStore opens the store for one command. It never migrates: keys are
// managed from an operator's machine while replicas run, and a schema
// change is a step of its own (`goodwilld migrate`, or a replica's start),
// taken under the migration lock with the owner's rights. A store with
// pending migrations is refused, saying so.
func withStore(ctx context.Context, cfg *app.Config, fn func(store.Backend) error) error {
	st, err := store.Open(ctx, cfg.DB, store.Options{Logger: cfg.Logger})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := store.RequireMigrated(ctx, st, cfg.DB); err != nil {
		return err
	}
	return fn(st)
}

// operator names who ran the command, for the audit log.
func operator() string {
	if u, err := user.Current(); err == nil {
		return "cli:" + u.Username
	}
	return fmt.Sprintf("cli:uid-%d", os.Getuid())
}
