-- +goose Up
-- Times are Unix microseconds (UTC). Kinds are stored by name.

-- customers holds each customer's profile and materialized balance in one
-- row, so recording an event reads and writes exactly one customer row.
CREATE TABLE customers (
    tenant_id          TEXT    NOT NULL,
    customer_id        TEXT    NOT NULL,
    display_name       TEXT    NOT NULL DEFAULT '',
    segment            TEXT    NOT NULL DEFAULT '',
    value              REAL    NOT NULL DEFAULT 1,
    overdraft_limit    REAL,
    attributes         TEXT    NOT NULL DEFAULT '{}',
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    policy_version     INTEGER NOT NULL,
    -- The balance just after the latest event, at last_at.
    value_at_last      REAL    NOT NULL DEFAULT 0,
    -- Orders customers by balance at any moment (see ledger.Policy.Rank).
    balance_rank       REAL    NOT NULL DEFAULT 0,
    event_count        INTEGER NOT NULL DEFAULT 0,
    last_at            INTEGER,
    last_kind          TEXT    NOT NULL DEFAULT '',
    last_fingerprint   TEXT    NOT NULL DEFAULT '',
    last_event_id      TEXT    NOT NULL DEFAULT '',
    last_notice_at     INTEGER,
    last_grievance_at  INTEGER,
    last_remedy_at     INTEGER,
    PRIMARY KEY (tenant_id, customer_id)
) WITHOUT ROWID;

-- Serves ranking customers by balance (outreach, balance lists).
CREATE INDEX customers_by_rank ON customers (tenant_id, balance_rank, customer_id);

CREATE TABLE events (
    tenant_id          TEXT    NOT NULL,
    customer_id        TEXT    NOT NULL,
    event_id           TEXT    NOT NULL,
    kind               TEXT    NOT NULL,
    magnitude          REAL    NOT NULL CHECK (magnitude >= 0),
    occurred_at        INTEGER NOT NULL,
    recorded_at        INTEGER NOT NULL,
    idempotency_key    TEXT    NOT NULL DEFAULT '',
    fingerprint        TEXT    NOT NULL,
    source             TEXT    NOT NULL DEFAULT '',
    note               TEXT    NOT NULL DEFAULT '',
    attributes         TEXT    NOT NULL DEFAULT '{}',
    incident_id        TEXT    NOT NULL DEFAULT '',
    reverses_event_id  TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, customer_id, event_id)
) WITHOUT ROWID;

-- The backstop for idempotency: one event per key and customer.
CREATE UNIQUE INDEX events_by_key ON events (tenant_id, customer_id, idempotency_key)
    WHERE idempotency_key <> '';
-- The backstop for "an event is reversed at most once", and the lookup of
-- an event's reversal.
CREATE UNIQUE INDEX events_by_reversed ON events (tenant_id, customer_id, reverses_event_id)
    WHERE reverses_event_id <> '';
-- Serves ListEvents (newest first) and time-range filters.
CREATE INDEX events_by_time ON events (tenant_id, customer_id, occurred_at, event_id);

-- The ledger is append-only, also against hand-written SQL.
-- +goose StatementBegin
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
-- +goose StatementEnd

-- INSERT OR REPLACE deletes the row it conflicts with without firing the
-- delete trigger (unless recursive_triggers is on), so a conflicting insert
-- is refused before it happens. The message keeps "UNIQUE" so the store
-- reports it as a duplicate, like the unique indexes.
-- +goose StatementBegin
CREATE TRIGGER events_no_replace BEFORE INSERT ON events
WHEN EXISTS (
    SELECT 1 FROM events
    WHERE tenant_id = NEW.tenant_id AND customer_id = NEW.customer_id
      AND (event_id = NEW.event_id
           OR (NEW.idempotency_key <> '' AND idempotency_key = NEW.idempotency_key)
           OR (NEW.reverses_event_id <> '' AND reverses_event_id = NEW.reverses_event_id))
)
BEGIN
    SELECT RAISE(ABORT, 'UNIQUE constraint failed: events are append-only');
END;
-- +goose StatementEnd

-- +goose Down
-- Forward-only: there is no going back from a ledger schema.
SELECT 1;
