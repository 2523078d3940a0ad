package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/goodwill-ledger/goodwill/client"
	"github.com/goodwill-ledger/goodwill/client/importer"
)

// importFlags are the flags of both import commands.
type importFlags struct {
	format    string
	batch     int
	inFlight  int
	maxErrors int
	rejects   string
	namespace string
	progress  string
}

func newImportCmd(a *app) *cobra.Command {
	var f importFlags
	events := &cobra.Command{
		Use:   "events FILE",
		Short: "Record events from a CSV or JSON lines file (or - for stdin), exactly once",
		Long: `Record the events of a file through RecordEvents, in batches, with a few
calls in flight, in constant memory whatever the file's size.

CSV: a header row; columns customer_id and kind, and any of magnitude,
occurred_at, idempotency_key, source, note, attr.NAME (one attribute each)
and attributes (a JSON object, as 'goodwill export events' writes it; the
other columns of an export are read and ignored: the ledger sets them).
Kinds with or without EVENT_KIND_, in any case. Times in RFC 3339 or as a
date (UTC). JSON lines: one event a line in the API's JSON, with customerId.
gzip is detected; the format comes from --format, the file's extension or
its first byte.

Exactly once: a row without an idempotency_key gets one derived from
--namespace, its line number and its content, so running the same command
again after a crash, a Ctrl-C or a network failure records nothing twice
and completes the rest (the summary counts those rows as replayed). If the
file is edited between runs, a row whose line or content changed is a new
row: it is recorded (a changed row next to its earlier version, which
'goodwill reverse' can cancel). Append to a file, or import a new one, to
add history. Two files holding the same row on the same line are one event
unless each is imported with its own --namespace.

Invalid rows are reported with their line, column and the API's message;
--max-errors N skips up to N of them (default 0: stop at the first, before
anything of its batch is written), and --rejects FILE collects them.`,
		Example: `  goodwill import events history.csv
  zcat tickets.jsonl.gz | goodwill import events - --max-errors 100 --rejects rejected.csv`,
		Args: nargs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runImport(cmd, args[0], f, func(ctx context.Context, r *importer.Run, c *client.Client, in io.Reader) (importer.Counts, error) {
				return r.Events(ctx, c, in)
			})
		},
	}
	customers := &cobra.Command{
		Use:   "customers FILE",
		Short: "Create or update customer profiles from a CSV or JSON lines file",
		Long: `Upsert the customer profiles of a file, one UpsertCustomer a row, a few at
once. CSV columns: customer_id, and any of display_name, segment, value,
overdraft_limit, attr.NAME and attributes (a JSON object, as 'goodwill export
customers' writes it); JSON lines: the API's Customer JSON. Running
it again writes the same profiles again: an upsert is idempotent.`,
		Example: `  goodwill import customers customers.csv`,
		Args:    nargs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runImport(cmd, args[0], f, func(ctx context.Context, r *importer.Run, c *client.Client, in io.Reader) (importer.Counts, error) {
				return r.Customers(ctx, c, in)
			})
		},
	}
	for _, c := range []*cobra.Command{events, customers} {
		fs := c.Flags()
		fs.StringVar(&f.format, "format", "", "csv or jsonl (default: from the file's extension, else its content)")
		fs.IntVar(&f.batch, "batch-size", 1000, "events per RecordEvents call, 1 to 1000")
		fs.IntVar(&f.inFlight, "in-flight", 4, "calls at once")
		fs.IntVar(&f.maxErrors, "max-errors", 0, "invalid rows to skip before stopping")
		fs.StringVar(&f.rejects, "rejects", "", "write invalid and conflicting rows to this CSV file (line, column, error, row)")
		fs.StringVar(&f.namespace, "namespace", "", "keeps the derived keys of two sources apart (see above)")
		fs.StringVar(&f.progress, "progress", "auto", "auto (a bar on a terminal, else a line every 5s), bar, lines or none")
		_ = c.RegisterFlagCompletionFunc("format", complete("csv", "jsonl"))
		_ = c.RegisterFlagCompletionFunc("progress", complete("auto", "bar", "lines", "none"))
	}
	customers.Flags().Lookup("batch-size").Hidden = true
	cmd := group("import", "Bring history in: events and customer profiles from files", events, customers)
	cmd.GroupID = "data"
	return cmd
}

// runImport opens the input, runs do with progress on stderr, and shows
// the summary. Ctrl-C stops the import cleanly: the summary says what got
// in, and the same command completes the rest.
func (a *app) runImport(cmd *cobra.Command, path string, f importFlags,
	do func(context.Context, *importer.Run, *client.Client, io.Reader) (importer.Counts, error)) error {
	format, err := importer.ParseFormat(f.format)
	if err != nil {
		return usagef("--format: %v", err)
	}
	if f.batch < 1 || f.batch > 1000 {
		return usagef("--batch-size %d: want 1 to 1000", f.batch)
	}
	if f.inFlight < 1 || f.maxErrors < 0 {
		return usagef("--in-flight must be at least 1 and --max-errors at least 0")
	}
	mode, err := progressMode(f.progress, a.stderr)
	if err != nil {
		return err
	}
	in, size, err := openInput(path)
	if err != nil {
		return err
	}
	defer in.Close()
	opts := importer.Options{Name: path, Format: format, BatchSize: f.batch, InFlight: f.inFlight,
		MaxErrors: f.maxErrors, Namespace: f.namespace}
	if f.rejects != "" {
		rf, err := os.Create(f.rejects)
		if err != nil {
			return err
		}
		defer rf.Close()
		opts.Rejects = rf
	}
	run, err := importer.New(opts)
	if err != nil {
		return usagef("%v", err)
	}
	c, err := a.dial(cmd)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopProgress := showProgress(a.stderr, mode, size, func() progress {
		c := run.Progress()
		return progress{bytes: c.Bytes, rows: c.Rows}
	})
	counts, err := do(ctx, run, c, in)
	stopProgress()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil && cmd.Context().Err() == nil {
		err = errors.New("interrupted: run the same command again to complete the import (what is in is replayed, not doubled)")
	}
	if showErr := a.show(importSummary(counts)); err == nil {
		err = showErr
	}
	if err != nil {
		if _, ok := errors.AsType[*importer.RowError](err); ok {
			return &usageError{msg: err.Error()} // the file's mistake: exit 2
		}
	}
	return err
}

// openInput opens path ("-" is stdin) and returns its size when it is a
// regular file (-1 otherwise), for the progress's ETA.
func openInput(path string) (io.ReadCloser, int64, error) {
	if path == "-" {
		return io.NopCloser(os.Stdin), -1, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, usagef("%v", err)
	}
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		return f, st.Size(), nil
	}
	return f, -1, nil
}

func importSummary(c importer.Counts) view {
	return view{
		msg: map[string]int64{"rows": c.Rows, "created": c.Created, "replayed": c.Replayed, "conflicts": c.Conflicts,
			"invalid": c.Invalid, "bytes": c.Bytes},
		sections: []section{{
			header: []string{"ROWS", "CREATED", "REPLAYED", "CONFLICTS", "INVALID"},
			rows:   [][]any{{c.Rows, c.Created, c.Replayed, c.Conflicts, c.Invalid}},
			record: true,
		}},
	}
}
