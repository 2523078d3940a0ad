-- +goose Up
-- Webhooks (ledger/webhook.go): endpoints, their queues of retries, their
-- attempt logs; and where each named consumer of every tenant's
-- notifications stands (the NATS publisher).
CREATE TABLE webhooks (
    tenant_id       TEXT    NOT NULL,
    webhook_id      TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    -- Notification types, comma-separated; '' for all.
    types           TEXT    NOT NULL DEFAULT '',
    description     TEXT    NOT NULL DEFAULT '',
    secret          TEXT    NOT NULL,
    previous_secret TEXT    NOT NULL DEFAULT '',
    previous_until  INTEGER,
    created_at      INTEGER NOT NULL,
    cursor          INTEGER NOT NULL DEFAULT 0,
    delivered       INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until     INTEGER,
    PRIMARY KEY (tenant_id, webhook_id)
) WITHOUT ROWID;

CREATE TABLE webhook_deliveries (
    tenant_id       TEXT    NOT NULL,
    webhook_id      TEXT    NOT NULL,
    notification_id TEXT    NOT NULL,
    seq             INTEGER NOT NULL,
    customer_id     TEXT    NOT NULL DEFAULT '',
    type            TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    first_try_at    INTEGER NOT NULL,
    next_try_at     INTEGER NOT NULL,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, webhook_id, notification_id)
) WITHOUT ROWID;
CREATE INDEX webhook_deliveries_by_seq ON webhook_deliveries (tenant_id, webhook_id, seq);

CREATE TABLE webhook_attempts (
    tenant_id       TEXT    NOT NULL,
    webhook_id      TEXT    NOT NULL,
    slot            INTEGER NOT NULL,
    notification_id TEXT    NOT NULL,
    seq             INTEGER NOT NULL,
    type            TEXT    NOT NULL,
    customer_id     TEXT    NOT NULL DEFAULT '',
    at              INTEGER NOT NULL,
    status          INTEGER NOT NULL DEFAULT 0,
    error           TEXT    NOT NULL DEFAULT '',
    latency_us      INTEGER NOT NULL DEFAULT 0,
    delivered       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, webhook_id, slot)
) WITHOUT ROWID;

CREATE TABLE notification_cursors (
    name        TEXT    NOT NULL PRIMARY KEY,
    seq         INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT    NOT NULL DEFAULT '',
    lease_until INTEGER
) WITHOUT ROWID;

-- +goose Down
-- Forward-only.
SELECT 1;
