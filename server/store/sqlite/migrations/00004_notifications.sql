-- +goose Up
-- Notifications (ledger/notification.go): the outbox, written in the
-- transaction of their cause and numbered afterwards by the sequencer.

-- What each customer's notifications have announced (ledger.Watch).
ALTER TABLE customers ADD COLUMN watch_status TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN watch_advocate INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN watch_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN watch_due_at INTEGER;
-- The scheduler's work: customers whose status changes by time alone.
CREATE INDEX customers_watch_due ON customers (watch_due_at) WHERE watch_due_at IS NOT NULL;

CREATE TABLE notifications (
    tenant_id       TEXT    NOT NULL,
    notification_id TEXT    NOT NULL,
    -- NULL until the sequencer numbers it.
    seq             INTEGER,
    type            TEXT    NOT NULL,
    customer_id     TEXT    NOT NULL DEFAULT '',
    customer_seq    INTEGER NOT NULL DEFAULT 0,
    occurred_at     INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    event_id        TEXT    NOT NULL DEFAULT '',
    policy_version  INTEGER NOT NULL,
    before_value    REAL    NOT NULL DEFAULT 0,
    before_status   TEXT    NOT NULL DEFAULT '',
    after_value     REAL    NOT NULL DEFAULT 0,
    after_status    TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, notification_id)
) WITHOUT ROWID;
-- The sequencer's queue, in the order it numbers: per customer.
CREATE INDEX notifications_unsequenced ON notifications (tenant_id, customer_id, customer_seq) WHERE seq IS NULL;
-- A tenant's stream, and every tenant's (NATS).
CREATE INDEX notifications_by_tenant_seq ON notifications (tenant_id, seq) WHERE seq IS NOT NULL;
CREATE UNIQUE INDEX notifications_by_seq ON notifications (seq) WHERE seq IS NOT NULL;
CREATE INDEX notifications_by_created ON notifications (created_at) WHERE seq IS NOT NULL;

-- The last number the sequencer gave: one row.
CREATE TABLE notification_seq (
    id  INTEGER NOT NULL PRIMARY KEY,
    seq INTEGER NOT NULL
);

-- +goose Down
-- Forward-only.
SELECT 1;
