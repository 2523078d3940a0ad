package ledger

import "context"

// GroupCommitRunning lets external tests wait until Run has started the
// group-commit writers.
func GroupCommitRunning(s *Service) bool { return s.running.Load() != nil }

// EachHistoryPaged lets external tests walk histories in small pages.
func EachHistoryPaged(ctx context.Context, r Reader, tenant string, customers, events int,
	fn func(c Customer, hist []Event) error) error {
	return eachHistoryPaged(ctx, r, tenant, customers, events, nil, fn)
}
