// Package store holds what every ledger backend shares: opening a backend
// from a --db URL. The backends themselves live in sub-packages (sqlite, and
// later crdb) and implement ledger.Store; storetest is the conformance suite
// they all pass.
package store
