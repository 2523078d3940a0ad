package main

import (
	"github.com/spf13/cobra"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

func newWhoamiCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show the API key in use: its id, tenant and role (GetCaller)",
		Long: `Show which key the settings in effect send (its id, never the key), the
tenant it reads and writes, and its role, and where goodwill connects. Any
valid key may call it: a quick check that a profile works.`,
		GroupID: "settings",
		Args:    nargs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.GetCaller(cmd.Context(), &goodwillv1.GetCallerRequest{})
			if err != nil {
				return err
			}
			profile := a.settings.profile.value
			if profile == "" {
				profile = "(none)"
			}
			return a.show(view{msg: resp, sections: []section{{
				header: []string{"KEY ID", "TENANT", "ROLE", "ADDR", "PROFILE"},
				rows:   [][]any{{resp.GetKeyId(), resp.GetTenantId(), resp.GetRole(), a.settings.addr.value, profile}},
				record: true,
				only:   tableOnly(3, 4),
			}}})
		},
	}
}
