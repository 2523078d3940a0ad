// Package auth is who may do what: API keys, their roles and tenants, and
// per-key rate limits. It knows nothing of gRPC, HTTP or SQL: the API layer
// maps methods to roles and reads tokens from requests; backends keep keys
// behind KeyStore.
//
// A key's secret is shown once, when it is created, and kept only as a
// SHA-256 hash. Secrets are 256 random bits, so a fast hash is enough: no
// dictionary or brute force reaches them, and a slow password hash would
// cost every request milliseconds.
package auth
