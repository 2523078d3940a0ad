-- +goose Up
-- The idempotency backstop, key first, as on PostgreSQL (its migration
-- 00011 says why). SQLite's probes name it (INDEXED BY) and use all three
-- of its columns. The same columns, so the same uniqueness.
CREATE UNIQUE INDEX IF NOT EXISTS events_by_idempotency_key ON events (tenant_id, idempotency_key, customer_id)
    WHERE idempotency_key <> '';
DROP INDEX IF EXISTS events_by_key;

-- +goose Down
-- Forward-only.
SELECT 1;
