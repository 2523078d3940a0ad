package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/goodwill-ledger/goodwill/client/exporter"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// exportFlags are the flags every export command has.
type exportFlags struct {
	format   string
	progress string
	segment  string
}

func newExportCmd(a *app) *cobra.Command {
	var f exportFlags
	var kinds []string
	var start, end, status, asOf string
	events := &cobra.Command{
		Use:   "events [FILE]",
		Short: "Write the tenant's events to CSV, JSON lines or Parquet (ExportEvents)",
		Long: `Stream every event of the tenant (ExportEvents) into FILE, or stdout when
FILE is - or absent: CSV (attributes as one JSON column, the form 'goodwill
import events' reads), JSON lines (the API's JSON) or Parquet (typed
columns: times as UTC timestamps, attributes as a map). Filters: --segment
(the customer's segment now), --kind (repeatable), and occurred_at within
[--start, --end). The export is the log as it stood when it began; if the
connection drops, goodwill resumes it after the last chunk it wrote.`,
		Example: `  goodwill export events events.parquet
  goodwill export events --segment gold --start 2026-01-01 --kind outage -o csv > outages.csv`,
		Args: nargs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &goodwillv1.ExportEventsRequest{Segment: f.segment, PageSize: maxPage}
			now := time.Now()
			var err error
			for _, k := range kinds {
				kind, err := parseKind(k)
				if err != nil {
					return err
				}
				req.Kinds = append(req.Kinds, kind)
			}
			if start != "" {
				if req.StartTime, err = parseTime("start", start, now); err != nil {
					return err
				}
			}
			if end != "" {
				if req.EndTime, err = parseTime("end", end, now); err != nil {
					return err
				}
			}
			return a.runExport(cmd, args, f, func(ctx context.Context, out io.Writer, format exporter.Format, rows *atomic.Int64) error {
				w, err := exporter.Events(out, format)
				if err != nil {
					return err
				}
				if err := a.exportEvents(ctx, cmd, req, w, rows); err != nil {
					return err
				}
				return w.Close()
			})
		},
	}
	events.Flags().StringSliceVar(&kinds, "kind", nil, "only events of this kind (repeatable)")
	events.Flags().StringVar(&start, "start", "", "only events that occurred at or after this time")
	events.Flags().StringVar(&end, "end", "", "only events that occurred before this time")
	_ = events.RegisterFlagCompletionFunc("kind", completeArgKind(-1, nil))

	listing := func(use, short, long string, write func(io.Writer, exporter.Format) (exporter.Writer[*goodwillv1.BalanceEntry], error)) *cobra.Command {
		return &cobra.Command{
			Use: use + " [FILE]", Short: short, Long: long,
			Args: nargs(cobra.MaximumNArgs(1)),
			RunE: func(cmd *cobra.Command, args []string) error {
				req := &goodwillv1.ListBalancesRequest{Segment: f.segment, PageSize: maxPage}
				if status != "" {
					n, err := parseEnum(statusEnum, "status", status)
					if err != nil {
						return err
					}
					req.Status = goodwillv1.BalanceStatus(n)
				}
				if asOf != "" {
					ts, err := parseTime("as-of", asOf, time.Now())
					if err != nil {
						return err
					}
					req.AsOf = ts
				}
				return a.runExport(cmd, args, f, func(ctx context.Context, out io.Writer, format exporter.Format, rows *atomic.Int64) error {
					w, err := write(out, format)
					if err != nil {
						return err
					}
					if err := a.exportBalances(ctx, cmd, req, w, rows); err != nil {
						return err
					}
					return w.Close()
				})
			},
		}
	}
	balances := listing("balances", "Write every customer's balance at one moment (ListBalances with as_of)",
		`Write each customer's balance, status and profile, all valued at one
moment: --as-of, or the moment the export starts (every page of the listing
uses the first page's). Filters: --segment and --status.`,
		exporter.Balances)
	customers := &cobra.Command{
		Use:   "customers [FILE]",
		Short: "Write customer profiles, the columns 'goodwill import customers' reads (ListCustomers)",
		Long: `Write every customer's profile as UpsertCustomer stored it: id, display
name, segment, value, own overdraft limit (blank when the policy's
applies), attributes (one JSON column in CSV, a map in Parquet) and when it
was created and last updated. Filter: --segment.`,
		Args: nargs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runExport(cmd, args, f, func(ctx context.Context, out io.Writer, format exporter.Format, rows *atomic.Int64) error {
				w, err := exporter.Customers(out, format)
				if err != nil {
					return err
				}
				c, err := a.dial(cmd)
				if err != nil {
					return err
				}
				req := &goodwillv1.ListCustomersRequest{Segment: f.segment, PageSize: maxPage}
				for {
					resp, err := c.ListCustomers(ctx, req)
					if err != nil {
						return err
					}
					for _, cu := range resp.GetCustomers() {
						if err := w.Write(cu); err != nil {
							return err
						}
					}
					rows.Add(int64(len(resp.GetCustomers())))
					if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
						return w.Close()
					}
				}
			})
		},
	}
	balances.Flags().StringVar(&status, "status", "", "only this status: "+joinComma(enumValues(statusEnum)))
	balances.Flags().StringVar(&asOf, "as-of", "", "value balances at this moment (default: when the export starts)")
	_ = balances.RegisterFlagCompletionFunc("status", complete(enumValues(statusEnum)...))

	for _, c := range []*cobra.Command{events, balances, customers} {
		fs := c.Flags()
		fs.StringVar(&f.format, "format", "", "csv, jsonl or parquet (default: from FILE's extension, else csv)")
		fs.StringVar(&f.segment, "segment", "", "only customers of this segment")
		fs.StringVar(&f.progress, "progress", "auto", "auto (a bar on a terminal, else a line every 5s), bar, lines or none")
		_ = c.RegisterFlagCompletionFunc("format", complete("csv", "jsonl", "parquet"))
		_ = c.RegisterFlagCompletionFunc("segment", a.completeSegments)
	}
	cmd := group("export", "Get data out: events, balances and customers as CSV, JSON lines or Parquet", events, balances, customers)
	cmd.GroupID = "data"
	return cmd
}

// runExport opens the output (FILE, or stdout), runs write with progress
// on stderr, and reports what it wrote. A file is written to FILE.partial
// and renamed when complete, so a FILE present is a whole export.
func (a *app) runExport(cmd *cobra.Command, args []string, f exportFlags,
	write func(ctx context.Context, out io.Writer, format exporter.Format, rows *atomic.Int64) error) error {
	path := "-"
	if len(args) == 1 {
		path = args[0]
	}
	format, err := exporter.ParseFormat(f.format, path)
	if err != nil {
		return usagef("--format: %v", err)
	}
	mode, err := progressMode(f.progress, a.stderr)
	if err != nil {
		return err
	}
	var out io.Writer = a.stdout
	var file *os.File
	if path != "-" {
		if file, err = os.Create(path + ".partial"); err != nil {
			return err
		}
		defer func() {
			if file != nil { // not renamed: an error
				file.Close()
				os.Remove(path + ".partial")
			}
		}()
		out = file
	} else if mode == progressBar {
		mode = progressNone // the bar would share the terminal with the data
	}
	counted := &countingWriter{w: out}
	var rows atomic.Int64
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopProgress := showProgress(a.stderr, mode, -1, func() progress { return progress{bytes: counted.n.Load(), rows: rows.Load()} })
	err = write(ctx, counted, format, &rows)
	stopProgress()
	if err != nil {
		return err
	}
	if file != nil {
		if err := file.Close(); err != nil {
			return err
		}
		file = nil
		if err := os.Rename(path+".partial", path); err != nil {
			return err
		}
		fmt.Fprintf(a.stderr, "goodwill: wrote %d rows (%d bytes) to %s\n", rows.Load(), counted.n.Load(), path)
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// exportRetries is how often an export stream is resumed after a
// retryable failure before goodwill gives up.
const exportRetries = 8

// exportEvents streams the events into w, resuming after the last chunk
// written when the stream fails with a retryable code.
func (a *app) exportEvents(ctx context.Context, cmd *cobra.Command, req *goodwillv1.ExportEventsRequest,
	w exporter.Writer[*goodwillv1.Event], rows *atomic.Int64) error {
	c, err := a.dial(cmd)
	if err != nil {
		return err
	}
	req = proto.CloneOf(req)
	failures := 0
	for {
		stream, err := c.ExportEvents(ctx, req)
		for err == nil {
			var chunk *goodwillv1.ExportEventsResponse
			if chunk, err = stream.Recv(); err != nil {
				break
			}
			for _, e := range chunk.GetEvents() {
				if err := w.Write(e); err != nil {
					return err
				}
			}
			rows.Add(int64(len(chunk.GetEvents())))
			req.PageToken, failures = chunk.GetPageToken(), 0
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if code := status.Code(err); (code != codes.Unavailable && code != codes.Aborted) || failures >= exportRetries || ctx.Err() != nil {
			return err
		}
		failures++
		select { // back off, then resume after the last chunk written
		case <-time.After(time.Duration(failures) * 200 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// exportBalances pages through ListBalances into w. The first page fixes
// the moment (as_of) and the next page tokens carry it.
func (a *app) exportBalances(ctx context.Context, cmd *cobra.Command, req *goodwillv1.ListBalancesRequest,
	w exporter.Writer[*goodwillv1.BalanceEntry], rows *atomic.Int64) error {
	c, err := a.dial(cmd)
	if err != nil {
		return err
	}
	req = proto.CloneOf(req)
	for {
		resp, err := c.ListBalances(ctx, req)
		if err != nil {
			return err
		}
		for _, b := range resp.GetBalances() {
			if err := w.Write(b); err != nil {
				return err
			}
		}
		rows.Add(int64(len(resp.GetBalances())))
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			return nil
		}
	}
}
