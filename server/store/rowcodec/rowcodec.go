// Package rowcodec holds the column encodings every SQL backend shares, so
// the stores agree on how kinds, attributes and job states look in a row.
// It must never hold SQL or ledger rules.
package rowcodec

import (
	"encoding/json"
	"fmt"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// KindName is a kind's column value; "" stands for "no such event yet".
func KindName(k ledger.Kind) string {
	if k == ledger.KindUnspecified {
		return ""
	}
	return k.String()
}

// ParseKind reads a column written by KindName.
func ParseKind(name string) (ledger.Kind, error) {
	if name == "" {
		return ledger.KindUnspecified, nil
	}
	k, ok := ledger.ParseKind(name)
	if !ok {
		return k, fmt.Errorf("unknown kind %q", name)
	}
	return k, nil
}

// EncodeAttrs is the JSON text of a string map ("{}" when empty).
func EncodeAttrs(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// DecodeAttrs reads EncodeAttrs's output; empty maps come back nil.
func DecodeAttrs(s string) (map[string]string, error) {
	if s == "" || s == "{}" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("decode attributes: %w", err)
	}
	return m, nil
}

var jobStates = map[ledger.JobState]string{
	ledger.JobRunning:   "running",
	ledger.JobSucceeded: "succeeded",
	ledger.JobFailed:    "failed",
}

// JobState is a job state's column value.
func JobState(s ledger.JobState) string { return jobStates[s] }

// ParseJobState reads a column written by JobState.
func ParseJobState(s string) (ledger.JobState, error) {
	for k, v := range jobStates {
		if v == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown job state %q", s)
}

// Scanner is a row: database/sql's and pgx's both are.
type Scanner interface{ Scan(dest ...any) error }

// WithExtra scans columns that follow a known set of columns in the same
// row: a backend's scanCustomer reads its columns, then extra receives the
// rest.
func WithExtra(row Scanner, extra ...any) Scanner { return withExtra{row: row, extra: extra} }

type withExtra struct {
	row   Scanner
	extra []any
}

func (w withExtra) Scan(dest ...any) error { return w.row.Scan(append(dest, w.extra...)...) }
