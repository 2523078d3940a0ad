// Package api serves the goodwill.v1 gRPC API over a ledger.Service: it
// converts messages to domain types and back, and translates domain errors
// to status codes in one place (status.go).
//
// It is the only server package that imports gen/; it must never hold
// ledger rules or SQL.
package api
