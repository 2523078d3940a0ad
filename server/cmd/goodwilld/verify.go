package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/goodwill-ledger/goodwill/server/app"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store"
)

// newVerifyCommand is `goodwilld verify`: replay every customer's event log
// and compare it with the stored balances and the ledger's invariants. It
// only reads; it exits non-zero when anything differs.
func newVerifyCommand(cfg *app.Config) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Replay every customer's events and compare with the stored balances; exit 1 on any mismatch",
		Long: `verify reads every tenant's customers and events (in pages, each from one snapshot),
replays each history under the policy version the customer row was computed under, and
reports every stored field that differs from the replay (value_at_last, event_count,
last_event_id, trend, balance_rank, recovery_key, ...) and every broken invariant of the
log (a reversal of a missing event, an event reversed twice, an idempotency key held twice,
events with no customer row). It exits 1 when it finds any mismatch.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			// Opening a missing SQLite file would create an empty one.
			if path, ok := strings.CutPrefix(cfg.DB, "sqlite:"); ok {
				if _, err := os.Stat(strings.TrimPrefix(path, "//")); err != nil {
					return fmt.Errorf("--db %s: no store there: %w", store.Redact(cfg.DB), err)
				}
			}
			// No migration: verify never writes.
			st, err := store.Open(ctx, cfg.DB, store.Options{Logger: cfg.Logger})
			if err != nil {
				return err
			}
			defer st.Close()
			svc := ledger.NewService(st, ledger.Options{GroupCommit: ledger.GroupCommit{Disabled: true}})
			out := cmd.OutOrStdout()
			sum, err := svc.Verify(ctx, func(m ledger.Mismatch) {
				fmt.Fprintf(out, "MISMATCH tenant=%q customer=%q field=%s", m.Tenant, m.CustomerID, m.Field)
				if m.Stored != "" || m.Want != "" {
					fmt.Fprintf(out, " stored=%s replayed=%s", m.Stored, m.Want)
				}
				if m.Detail != "" {
					fmt.Fprintf(out, " detail=%q", m.Detail)
				}
				fmt.Fprintln(out)
			})
			if err != nil {
				return fmt.Errorf("verify stopped after %d customers and %d mismatches: %w", sum.Customers, sum.Mismatches, err)
			}
			fmt.Fprintf(out, "checked %d tenants, %d customers, %d events: %d mismatches\n",
				sum.Tenants, sum.Customers, sum.Events, sum.Mismatches)
			if sum.Mismatches > 0 {
				return fmt.Errorf("the ledger does not verify: %d mismatches (listed above)", sum.Mismatches)
			}
			return nil
		},
	}
}
