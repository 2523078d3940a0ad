// Package ledger is the goodwill domain: events, customers, the scoring
// policy and the trust-balance math, and the Service that records and reads
// them through a Store.
//
// It must never import protobuf, HTTP or SQL packages: transports translate
// into these types at the edge, and backends implement Store.
package ledger
