package ledger

// GroupCommitRunning lets external tests wait until Run has started the
// group-commit writers.
func GroupCommitRunning(s *Service) bool { return s.running.Load() != nil }
