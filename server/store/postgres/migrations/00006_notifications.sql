-- +goose Up
-- Notifications (ledger/notification.go): the outbox, written in the
-- transaction of their cause and numbered afterwards by the sequencer.
-- New tables only: the customers' new columns are version 7, a change of
-- an existing (large) table of its own.

CREATE TABLE notifications (
    tenant_id       TEXT             NOT NULL,
    notification_id TEXT             NOT NULL,
    -- NULL until the sequencer numbers it.
    seq             BIGINT,
    type            TEXT             NOT NULL,
    customer_id     TEXT             NOT NULL DEFAULT '',
    customer_seq    BIGINT           NOT NULL DEFAULT 0,
    occurred_at     TIMESTAMPTZ      NOT NULL,
    created_at      TIMESTAMPTZ      NOT NULL,
    event_id        TEXT             NOT NULL DEFAULT '',
    policy_version  BIGINT           NOT NULL,
    before_value    DOUBLE PRECISION NOT NULL DEFAULT 0,
    before_status   TEXT             NOT NULL DEFAULT '',
    after_value     DOUBLE PRECISION NOT NULL DEFAULT 0,
    after_status    TEXT             NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, notification_id)
);
-- The sequencer's queue, in the order it numbers: per customer.
CREATE INDEX notifications_unsequenced ON notifications (tenant_id, customer_id, customer_seq) WHERE seq IS NULL;
-- A tenant's stream, and every tenant's (NATS).
CREATE INDEX notifications_by_tenant_seq ON notifications (tenant_id, seq) WHERE seq IS NOT NULL;
CREATE UNIQUE INDEX notifications_by_seq ON notifications (seq) WHERE seq IS NOT NULL;
CREATE INDEX notifications_by_created ON notifications (created_at) WHERE seq IS NOT NULL;

-- The last number the sequencer gave: one row, which every sequencing
-- transaction reads and writes, so replicas number in turn.
CREATE TABLE notification_seq (
    id  INT    NOT NULL PRIMARY KEY,
    seq BIGINT NOT NULL
);

-- +goose Down
-- Forward-only.
SELECT 1;
