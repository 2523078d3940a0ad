// Package store holds what every ledger backend shares: opening a backend
// from a --db URL. The backends themselves live in sub-packages (sqlite, the
// embedded default; postgres, for PostgreSQL and CockroachDB) and implement
// ledger.Store over the shared SQL layer in sqlstore; storetest is the
// conformance suite they all pass.
package store
