// Package api serves the goodwill.v1 gRPC API over a ledger.Service: it
// converts messages to domain types and back, and translates domain errors
// to status codes in one place (status.go).
//
// It is the one server package that turns API messages into domain calls.
// Others import gen/ only for wiring: app registers the service, gateway
// maps REST routes onto it. api must never hold ledger rules or SQL, and
// reaches data only through ledger.Service (server/imports_test.go).
package api
