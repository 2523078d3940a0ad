package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// timeCol scans a time column whichever way the dialect stores it: Unix
// microseconds (SQLite) or a timestamp (PostgreSQL); NULL is the zero time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	case time.Time:
		*c.t = v.UTC()
	default:
		return fmt.Errorf("time column: unexpected %T", src)
	}
	return nil
}

// textCol scans a text column that a driver may hand back as bytes.
type textCol struct{ s *string }

func (c textCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.s = ""
	case string:
		*c.s = v
	case []byte:
		*c.s = string(v)
	default:
		return fmt.Errorf("text column: unexpected %T", src)
	}
	return nil
}

// kindName is a kind's column value; "" stands for "no such event yet".
func kindName(k ledger.Kind) string {
	if k == ledger.KindUnspecified {
		return ""
	}
	return k.String()
}

// parseKind reads a column written by kindName.
func parseKind(name string) (ledger.Kind, error) {
	if name == "" {
		return ledger.KindUnspecified, nil
	}
	k, ok := ledger.ParseKind(name)
	if !ok {
		return k, fmt.Errorf("unknown kind %q", name)
	}
	return k, nil
}

// encodeAttrs is the JSON text of a string map ("{}" when empty).
func encodeAttrs(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// decodeAttrs reads encodeAttrs's output; empty maps come back nil.
func decodeAttrs(s string) (map[string]string, error) {
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

func parseJobState(s string) (ledger.JobState, error) {
	for k, v := range jobStates {
		if v == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown job state %q", s)
}

// statuses are the stored names of balance statuses ("" for unspecified:
// a customer never announced).
var statuses = map[ledger.Status]string{
	ledger.StatusUnspecified: "",
	ledger.StatusHealthy:     "healthy",
	ledger.StatusOverdrawn:   "overdrawn",
}

func statusName(s ledger.Status) string { return statuses[s] }

func parseStatus(name string) (ledger.Status, bool) {
	for k, v := range statuses {
		if v == name {
			return k, true
		}
	}
	return 0, false
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
