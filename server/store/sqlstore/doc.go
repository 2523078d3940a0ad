// Package sqlstore is the SQL both store backends share: the tables and
// their columns, how a customer, an event, a job, a policy and a key map to
// a row, and every statement the ledger runs, built for one small Dialect
// (placeholders, how times and JSON travel, the bulk strategy, index
// hints).
//
// Every statement on a tenant's rows is built by onTenant, which writes the
// tenant predicate first, so no query can leave it out; a test fails if a
// backend writes one by hand. Each backend keeps only what truly differs:
// opening, transactions and retries, error translation, migrations, and the
// Conn it hands this package.
//
// It must never hold ledger rules (package ledger has them) nor open a
// database (the backends do).
package sqlstore
