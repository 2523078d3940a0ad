-- +goose NO TRANSACTION
-- +goose Up
-- The idempotency backstop, key first. Both the primary key and the old
-- events_by_key began (tenant_id, customer_id), and PostgreSQL, planning
-- from statistics that describe an average customer, answered the key
-- probe from the primary key's prefix and filtered the key: linear in the
-- customer's history, so one busy customer slowed every batch it was in
-- (docs/benchmarks.md, round 2). With the key second, and the probes
-- leaving the customer out of what an index can serve, this index is the
-- only one that can answer them, whatever the statistics say. The same
-- columns, so the same uniqueness: one event per key and customer.
--
-- Outside a transaction, as a change to a large table must be on
-- CockroachDB (which then builds the index online), and written to be run
-- again: a start that dies between the two statements finishes the change
-- on the next. On PostgreSQL building the index blocks writes to events
-- meanwhile; on a large ledger, run `goodwilld migrate` in a quiet moment.
-- CASCADE: CockroachDB asks for it to drop a unique index.
CREATE UNIQUE INDEX IF NOT EXISTS events_by_idempotency_key ON events (tenant_id, idempotency_key, customer_id)
    WHERE idempotency_key <> '';
DROP INDEX IF EXISTS events_by_key CASCADE;

-- +goose Down
-- Forward-only.
SELECT 1;
