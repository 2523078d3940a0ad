-- +goose NO TRANSACTION
-- +goose Up
-- What each customer's notifications have announced (ledger.Watch). A
-- change to an existing table that may be large: outside a transaction,
-- one statement per change, each safe to run again, so a start that stops
-- half way finishes on the next one (on CockroachDB each is an online
-- schema change; docs/deploy-cockroachdb.md).
ALTER TABLE customers ADD COLUMN IF NOT EXISTS watch_status TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN IF NOT EXISTS watch_advocate BIGINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN IF NOT EXISTS watch_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN IF NOT EXISTS watch_due_at TIMESTAMPTZ;
-- The scheduler's work: customers whose status changes by time alone.
CREATE INDEX IF NOT EXISTS customers_watch_due ON customers (watch_due_at) WHERE watch_due_at IS NOT NULL;

-- +goose Down
-- Forward-only.
SELECT 1;
