package ledger

import "time"

// JobState is where a recompute job is.
type JobState int

const (
	JobRunning JobState = iota + 1
	JobSucceeded
	JobFailed
)

// Job recomputes every stored balance of a tenant under one policy version.
// It walks customers in id order, a batch per transaction, and records its
// cursor, so it resumes where it stopped after a restart.
type Job struct {
	TenantID      string
	ID            string
	PolicyVersion int64
	State         JobState
	Total         int64
	Done          int64
	// Cursor is the id of the last customer processed.
	Cursor     string
	StartedAt  time.Time
	FinishedAt time.Time
	Error      string
}
