// Package server holds no code of its own: the server's parts live in its
// sub-packages, and imports_test.go here pins which part may import which
// (docs/architecture.md draws the same arrows).
//
//	cmd/goodwilld ─▶ app ─▶ api ─▶ ledger ◀─ store/{sqlite,postgres} ─▶ store/sqlstore
//	                  │      └──▶ auth ─▶ ledger
//	                  └─▶ gateway ─(gRPC, in process)─▶ api
package server
