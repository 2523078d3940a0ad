-- +goose Up
-- The idempotency backstop, key first. Both the primary key and the old
-- events_by_key began (tenant_id, customer_id), and PostgreSQL, planning
-- from statistics that describe an average customer, answered the key
-- probe from the primary key's prefix and filtered the key: linear in the
-- customer's history, so one busy customer slowed every batch it was in
-- (docs/benchmarks.md, round 2). With the key second, and the probe
-- comparing customer_id through an expression no index serves, this index
-- is the only one that can answer it, whatever the statistics say. The
-- same columns, so the same uniqueness: one event per key and customer.
--
-- Building it reads the whole events table and, on PostgreSQL, blocks
-- writes to it meanwhile (CockroachDB builds indexes online); plan the
-- upgrade of a large ledger for it.
CREATE UNIQUE INDEX events_by_idempotency_key ON events (tenant_id, idempotency_key, customer_id)
    WHERE idempotency_key <> '';
DROP INDEX events_by_key;

-- +goose Down
-- Forward-only.
SELECT 1;
