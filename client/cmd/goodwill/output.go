package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Output formats (-o).
const (
	formatTable = "table"
	formatJSON  = "json"
	formatCSV   = "csv"
)

var formats = []string{formatTable, formatJSON, formatCSV}

// view is what a command shows: msg, the response, for -o json (exactly
// what the API returned, so scripts see the API's own field names; a plain
// Go value for the commands that make no call), and sections of rows for -o
// table and -o csv.
type view struct {
	msg      any
	sections []section
	// csv is the section -o csv writes: CSV holds one table.
	csv int
	// notes go to stderr under a table or CSV (a hint to fetch the next
	// page, say); the JSON carries the same facts itself.
	notes []string
}

// section is one table. A record (one object) shows as FIELD VALUE lines in
// a table and as a header and one row in CSV.
type section struct {
	title  string
	header []string
	rows   [][]any
	record bool
	// only marks columns shown in one format: CSV carries every field a
	// program may want, a table what fits a terminal.
	only map[int]string
}

// columns returns s with the columns of another format dropped.
func (s section) columns(format string) section {
	if len(s.only) == 0 {
		return s
	}
	keep := func(i int) bool { f, ok := s.only[i]; return !ok || f == format }
	out := section{title: s.title, record: s.record}
	for i, h := range s.header {
		if keep(i) {
			out.header = append(out.header, h)
		}
	}
	for _, r := range s.rows {
		var row []any
		for i, c := range r {
			if keep(i) {
				row = append(row, c)
			}
		}
		out.rows = append(out.rows, row)
	}
	return out
}

// defaultFormat is table on a terminal, JSON otherwise (a pipe, a file):
// what a person reads and what a program parses.
func defaultFormat(w io.Writer) string {
	if terminal(w) {
		return formatTable
	}
	return formatJSON
}

// render writes v to stdout (and its notes to stderr) in format.
func render(stdout, stderr io.Writer, format string, v view) error {
	switch format {
	case formatJSON:
		return writeJSON(stdout, v.msg)
	case formatCSV:
		if len(v.sections) == 0 {
			return usagef("this command has no CSV output; use -o json")
		}
		if err := writeCSV(stdout, v.sections[v.csv].columns(formatCSV)); err != nil {
			return err
		}
	default:
		if err := writeTable(stdout, v.sections); err != nil {
			return err
		}
	}
	for _, n := range v.notes {
		fmt.Fprintln(stderr, n)
	}
	return nil
}

// writeJSON writes protojson, indented. protojson's own multiline output
// varies its whitespace from build to build on purpose; indenting its
// compact form with encoding/json gives the same bytes every time.
// Scalars, lists and maps are written even when empty, as the REST gateway
// does; an unset message or optional field is left out.
func writeJSON(w io.Writer, v any) error {
	var raw []byte
	var err error
	if m, ok := v.(proto.Message); ok {
		raw, err = protojson.MarshalOptions{EmitDefaultValues: true}.Marshal(m)
	} else {
		raw, err = json.Marshal(v)
	}
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

func writeCSV(w io.Writer, s section) error {
	cw := csv.NewWriter(w)
	header := make([]string, len(s.header))
	for i, h := range s.header {
		header[i] = strings.ToLower(strings.ReplaceAll(h, " ", "_"))
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, r := range s.rows {
		rec := make([]string, len(r))
		for i, c := range r {
			rec[i] = cell(c, false)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func writeTable(out io.Writer, sections []section) error {
	w := &trimWriter{w: out}
	for i, s := range sections {
		s = s.columns(formatTable)
		if i > 0 {
			fmt.Fprintln(w)
		}
		if s.title != "" {
			fmt.Fprintln(w, s.title)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		if s.record {
			for _, r := range s.rows {
				for j, c := range r {
					fmt.Fprintf(tw, "%s:\t%s\n", strings.ToLower(s.header[j]), flat(cell(c, true)))
				}
			}
		} else {
			if len(s.rows) == 0 {
				fmt.Fprintln(w, "(none)")
				continue
			}
			fmt.Fprintln(tw, strings.Join(s.header, "\t"))
			for _, r := range s.rows {
				cells := make([]string, len(r))
				for j, c := range r {
					cells[j] = flat(cell(c, true))
				}
				fmt.Fprintln(tw, strings.Join(cells, "\t"))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// trimWriter drops the spaces tabwriter pads empty last columns with.
type trimWriter struct {
	w   io.Writer
	buf []byte
}

func (t *trimWriter) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	for {
		i := bytes.IndexByte(t.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := bytes.TrimRight(t.buf[:i], " ")
		if _, err := t.w.Write(append(line, '\n')); err != nil {
			return 0, err
		}
		t.buf = t.buf[i+1:]
	}
}

// flat keeps a cell on its line: tabs and newlines would break the columns.
func flat(s string) string {
	return strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ").Replace(s)
}

// cell formats one value. human (a table) rounds numbers to two decimals
// and shortens enum names (OVERDRAWN for BALANCE_STATUS_OVERDRAWN); CSV
// keeps full precision and the API's enum names, like the JSON.
func cell(v any, human bool) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return number(v, human)
	case *float64:
		if v == nil {
			return ""
		}
		return number(*v, human)
	case int:
		return strconv.Itoa(v)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		return strconv.FormatBool(v)
	case *timestamppb.Timestamp:
		if v == nil {
			return ""
		}
		if human {
			return v.AsTime().UTC().Format(time.RFC3339)
		}
		return v.AsTime().UTC().Format(time.RFC3339Nano)
	case *durationpb.Duration:
		if v == nil {
			return ""
		}
		return v.AsDuration().String()
	case protoreflect.Enum:
		return enumName(v, human)
	case map[string]string:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + v[k]
		}
		return strings.Join(parts, ",")
	case []string:
		return strings.Join(v, "; ")
	case labelled:
		if human {
			return v.human
		}
		return v.raw
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}

func number(v float64, human bool) string {
	if human && !math.IsInf(v, 0) && !math.IsNaN(v) {
		r := math.Round(v*100) / 100
		if r == 0 {
			r = 0 // no "-0"
		}
		return strconv.FormatFloat(r, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// enumName is an enum value's name; human drops the prefix every value of
// its enum shares (the part before UNSPECIFIED in the zero value's name).
func enumName(e protoreflect.Enum, human bool) string {
	d := e.Descriptor()
	v := d.Values().ByNumber(e.Number())
	if v == nil {
		return strconv.Itoa(int(e.Number()))
	}
	name := string(v.Name())
	if human {
		zero := string(d.Values().ByNumber(0).Name())
		if prefix, ok := strings.CutSuffix(zero, "UNSPECIFIED"); ok {
			name = strings.TrimPrefix(name, prefix)
		}
	}
	return name
}

// labelled is a value a table shows in words and CSV as it is: the
// summary's overall row is "(all)" to a person and "" (with overall=true) to
// a program.
type labelled struct{ raw, human string }
