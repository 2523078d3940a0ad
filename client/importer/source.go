package importer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
)

// Format is an input file's format.
type Format string

const (
	// CSV has a header row naming its columns.
	CSV Format = "csv"
	// JSONL holds one JSON object per line, in the API's JSON form.
	JSONL Format = "jsonl"
)

// ParseFormat reads a --format value ("" means detect).
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "":
		return "", nil
	case "csv":
		return CSV, nil
	case "jsonl", "ndjson", "json":
		return JSONL, nil
	}
	return "", fmt.Errorf("format %q: want csv or jsonl", s)
}

// countingReader counts the bytes read through it: the progress of a
// file, in its own (possibly compressed) bytes, against its size.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// open unwraps gzip when the input starts with gzip's magic bytes, and
// settles the format: the one asked for, else the file name's extension,
// else the first byte that is not white space ('{' is JSON lines).
func open(r io.Reader, name string, asked Format) (io.Reader, Format, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, "", fmt.Errorf("gzip: %w", err)
		}
		br = bufio.NewReaderSize(zr, 64<<10)
		name = strings.TrimSuffix(name, ".gz")
	}
	if asked != "" {
		return br, asked, nil
	}
	switch lower := strings.ToLower(name); {
	case strings.HasSuffix(lower, ".csv"):
		return br, CSV, nil
	case strings.HasSuffix(lower, ".jsonl"), strings.HasSuffix(lower, ".ndjson"), strings.HasSuffix(lower, ".json"):
		return br, JSONL, nil
	}
	head, _ := br.Peek(4096)
	if first := bytes.TrimLeft(head, " \t\r\n\ufeff"); len(first) > 0 && first[0] == '{' {
		return br, JSONL, nil
	}
	return br, CSV, nil
}
