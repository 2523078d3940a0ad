package main

import (
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

func newPolicyCmd(a *app) *cobra.Command {
	var version int64
	get := &cobra.Command{
		Use:   "get",
		Short: "Show the active policy, or --version N (GetPolicy)",
		Long: `Show the active scoring policy, or an older version. -o json prints what
policy set reads back: edit it and install it as the next version.`,
		Example: "  goodwill policy get -o json > policy.json",
		Args:    nargs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.GetPolicy(cmd.Context(), &goodwillv1.GetPolicyRequest{Version: version})
			if err != nil {
				return err
			}
			return a.show(policyView(resp.GetPolicy(), resp.GetActiveVersion(), resp))
		},
	}
	get.Flags().Int64Var(&version, "version", 0, "the version to show (default: the active one)")

	var key string
	set := &cobra.Command{
		Use:   "set FILE",
		Short: "Install a new policy version from a JSON file (SetPolicy; admin)",
		Long: `Install the policy in FILE (- for stdin) as the next version, and start the job
that recomputes every stored balance under it. FILE is protojson: a Policy
object, or what policy get -o json prints ({"policy": {...}, ...}). Its
version and createdAt are set by the server and ignored here.

Without --key every run installs a new version; with --key a repeat of an
install that committed returns it (replayed) instead.`,
		Example: `  goodwill policy get -o json | jq '.policy.weights.EVENT_KIND_OUTAGE = -24' > p.json
  goodwill policy set p.json --key outage-24`,
		Args: nargs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := readPolicy(args[0], cmd.InOrStdin())
			if err != nil {
				return err
			}
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.SetPolicy(cmd.Context(), &goodwillv1.SetPolicyRequest{Policy: p, IdempotencyKey: key})
			if err != nil {
				return err
			}
			a.rememberJob(resp.GetJob().GetJobId())
			v := view{msg: resp, sections: []section{{
				header: []string{"VERSION", "REPLAYED", "JOB ID", "JOB STATE"},
				rows:   [][]any{{resp.GetPolicy().GetVersion(), resp.GetReplayed(), resp.GetJob().GetJobId(), resp.GetJob().GetState()}},
				record: true,
			}}}
			v.notes = []string{"follow the recompute job with: goodwill policy job " + resp.GetJob().GetJobId()}
			return a.show(v)
		},
	}
	set.Flags().StringVar(&key, "key", "", "idempotency key: a repeat with the same key and policy is replayed, not installed again")
	set.ValidArgsFunction = func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return []string{"json"}, cobra.ShellCompDirectiveFilterFileExt
	}

	resume := &cobra.Command{
		Use:   "resume [JOB_ID]",
		Short: "Resume a failed recompute job (ResumeRecomputeJob; admin)",
		Long:  "Resume a failed recompute job; without JOB_ID, the job of the last policy set run here against this address.",
		Args:  nargs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := a.jobID(cmd, args)
			if err != nil {
				return err
			}
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.ResumeRecomputeJob(cmd.Context(), &goodwillv1.ResumeRecomputeJobRequest{JobId: id})
			if err != nil {
				return err
			}
			return a.show(view{msg: resp, sections: []section{jobSection(resp.GetJob())}})
		},
	}
	job := &cobra.Command{
		Use:   "job [JOB_ID]",
		Short: "Show a recompute job's progress (GetRecomputeJob)",
		Long: `Show how far a recompute job has come. Without JOB_ID: the job the last
policy set run from this machine against this address started (the API lists
no jobs; the id is kept in the config file).`,
		Args: nargs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := a.jobID(cmd, args)
			if err != nil {
				return err
			}
			c, err := a.dial(cmd)
			if err != nil {
				return err
			}
			resp, err := c.GetRecomputeJob(cmd.Context(), &goodwillv1.GetRecomputeJobRequest{JobId: id})
			if err != nil {
				return err
			}
			return a.show(view{msg: resp, sections: []section{jobSection(resp.GetJob())}})
		},
	}
	job.AddCommand(resume)

	cmd := group("policy", "Read, simulate and install the scoring policy; follow its recompute jobs", get, set,
		newSimulateCmd(a), newSimulationCmd(a), job)
	cmd.GroupID = "admin"
	return cmd
}

// readPolicy reads a Policy, or a GetPolicyResponse around one, so the
// output of policy get -o json goes back in as it is.
func readPolicy(path string, stdin io.Reader) (*goodwillv1.Policy, error) {
	var raw []byte
	var err error
	if path == "-" {
		raw, err = io.ReadAll(stdin)
	} else {
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, usagef("policy file: %v", err)
	}
	p := &goodwillv1.Policy{}
	perr := protojson.Unmarshal(raw, p)
	if perr != nil {
		wrapped := &goodwillv1.GetPolicyResponse{}
		if protojson.Unmarshal(raw, wrapped) != nil || wrapped.GetPolicy() == nil {
			return nil, usagef("policy file %s: %v", path, perr)
		}
		p = wrapped.GetPolicy()
	}
	// Output only: the server assigns them.
	p.Version, p.CreatedAt = 0, nil
	return p, nil
}

// jobID is the job named on the command line or, failing that, the one
// remembered for this address.
func (a *app) jobID(cmd *cobra.Command, args []string) (string, error) {
	if len(args) == 1 {
		return args[0], nil
	}
	s, err := a.resolve(cmd)
	if err != nil {
		return "", err
	}
	if id := a.cfg.LastJobs[s.addr.value]; id != "" {
		return id, nil
	}
	return "", usagef("no JOB_ID given, and no policy set was run from here against %s", s.addr.value)
}

// rememberJob keeps the id of the job policy set started, for policy job.
// Failing to keep it costs only that convenience: a warning, not an error.
func (a *app) rememberJob(id string) {
	if id == "" || a.settings == nil {
		return
	}
	cfg, path, err := a.loadConfig()
	if err == nil {
		if cfg.LastJobs == nil {
			cfg.LastJobs = map[string]string{}
		}
		cfg.LastJobs[a.settings.addr.value] = id
		err = cfg.save(path)
	}
	if err != nil {
		a.warn("could not remember the job id for policy job: %v", err)
	}
}

func jobSection(j *goodwillv1.RecomputeJob) section {
	return section{
		header: []string{"JOB ID", "POLICY VERSION", "STATE", "CUSTOMERS DONE", "CUSTOMERS TOTAL", "STARTED AT", "FINISHED AT", "ERROR"},
		rows: [][]any{{j.GetJobId(), j.GetPolicyVersion(), j.GetState(), j.GetCustomersDone(), j.GetCustomersTotal(),
			j.GetStartedAt(), j.GetFinishedAt(), j.GetError()}},
		record: true,
	}
}

// policyView shows a policy: its settings as a record, its weights as a
// table (what -o csv writes).
func policyView(p *goodwillv1.Policy, active int64, msg *goodwillv1.GetPolicyResponse) view {
	rel := p.GetRelationship()
	relKinds := make([]string, 0, len(rel.GetKinds()))
	for _, k := range rel.GetKinds() {
		relKinds = append(relKinds, enumName(k, true))
	}
	settings := section{
		header: []string{"VERSION", "ACTIVE VERSION", "CREATED AT", "HALF LIFE", "TREND HALF LIFE", "DEFAULT OVERDRAFT LIMIT",
			"DUST THRESHOLD", "NOTICE", "CHANGE NOTICE", "RELATIONSHIP"},
		rows: [][]any{{p.GetVersion(), active, p.GetCreatedAt(), p.GetHalfLife(), p.GetTrendHalfLife(), p.GetDefaultOverdraftLimit(),
			p.DustThreshold, noticeText(p.GetNotice()), noticeText(p.GetChangeNotice()),
			relationshipText(relKinds, rel)}},
		record: true,
	}
	weights := section{title: "Weights (points per unit of magnitude):", header: []string{"KIND", "WEIGHT"}}
	names := make([]string, 0, len(p.GetWeights()))
	for k := range p.GetWeights() {
		names = append(names, k)
	}
	// In the enum's order, which is the README's, not alphabetical.
	slices.SortFunc(names, func(x, y string) int {
		return int(goodwillv1.EventKind_value[x] - goodwillv1.EventKind_value[y])
	})
	for _, k := range names {
		var kind any = k
		if n, ok := goodwillv1.EventKind_value[k]; ok {
			kind = goodwillv1.EventKind(n)
		}
		weights.rows = append(weights.rows, []any{kind, p.GetWeights()[k]})
	}
	return view{msg: msg, sections: []section{settings, weights}, csv: 1}
}

func noticeText(n *goodwillv1.NoticeEffect) string {
	if n == nil {
		return ""
	}
	return "x" + number(n.GetFactor(), true) + " within " + n.GetWindow().AsDuration().String()
}

func relationshipText(kinds []string, r *goodwillv1.RelationshipEffect) string {
	if r == nil {
		return ""
	}
	return joinComma(kinds) + ": x(1 + balance/" + number(r.GetScale(), true) + ") in [" + number(r.GetMinFactor(), true) + ", " +
		number(r.GetMaxFactor(), true) + "], x" + number(r.GetMinFactor(), true) + " below " + number(r.GetHollowBelow(), true)
}
