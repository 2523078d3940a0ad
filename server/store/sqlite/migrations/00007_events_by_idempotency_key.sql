-- +goose Up
-- The idempotency backstop, key first, as on PostgreSQL (its migration
-- 00011 says why): the probe compares customer_id through an expression no
-- index serves, so this index, found by (tenant_id, idempotency_key), is
-- the one that answers it. The same columns, so the same uniqueness.
CREATE UNIQUE INDEX events_by_idempotency_key ON events (tenant_id, idempotency_key, customer_id)
    WHERE idempotency_key <> '';
DROP INDEX events_by_key;

-- +goose Down
-- Forward-only.
SELECT 1;
