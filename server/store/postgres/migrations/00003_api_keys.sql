-- +goose Up
-- API keys (server/auth). The secret is never stored: only its SHA-256.
-- (Version 2 is the Go migration that adds the append-only triggers.)
CREATE TABLE api_keys (
    key_id      TEXT        NOT NULL PRIMARY KEY,
    tenant_id   TEXT        NOT NULL,
    role        TEXT        NOT NULL,
    name        TEXT        NOT NULL DEFAULT '',
    secret_hash BYTEA       NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  TEXT        NOT NULL DEFAULT '',
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, key_id);

-- +goose Down
-- Forward-only.
SELECT 1;
