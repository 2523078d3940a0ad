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
    last_grievance_kind TEXT   NOT NULL DEFAULT '',
    last_remedy_at     INTEGER,
    trend              REAL    NOT NULL DEFAULT 0,
    -- Outreach keys (ledger.Policy.KeysOf); NULL when not on that list.
    recovery_key       REAL,
    advocacy_key       REAL,
    PRIMARY KEY (tenant_id, customer_id)
) WITHOUT ROWID;

-- Serve ListBalances, overall and per segment, in either direction.
CREATE INDEX customers_by_rank ON customers (tenant_id, balance_rank, customer_id);
CREATE INDEX customers_by_segment_rank ON customers (tenant_id, segment, balance_rank, customer_id);
-- Serve the outreach lists; partial, so they hold only listed customers.
CREATE INDEX customers_by_recovery ON customers (tenant_id, recovery_key, customer_id)
    WHERE recovery_key IS NOT NULL;
CREATE INDEX customers_by_advocacy ON customers (tenant_id, advocacy_key, customer_id)
    WHERE advocacy_key IS NOT NULL;

-- Installed scoring policy versions; body is the domain's JSON encoding.
CREATE TABLE policies (
    tenant_id   TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, version)
) WITHOUT ROWID;

-- The active version per tenant (absent: the built-in version 1).
CREATE TABLE active_policies (
    tenant_id   TEXT    NOT NULL PRIMARY KEY,
    version     INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE recompute_jobs (
    tenant_id      TEXT    NOT NULL,
    job_id         TEXT    NOT NULL,
    policy_version INTEGER NOT NULL,
    state          TEXT    NOT NULL,
    total          INTEGER NOT NULL,
    done           INTEGER NOT NULL,
    cursor         TEXT    NOT NULL DEFAULT '',
    started_at     INTEGER NOT NULL,
    finished_at    INTEGER,
    error          TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, job_id)
) WITHOUT ROWID;
CREATE INDEX recompute_jobs_running ON recompute_jobs (state) WHERE state = 'running';

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
-- Three separate EXISTS, each answered by its own index (an OR of the three
-- would walk the customer's whole history on every insert).
CREATE TRIGGER events_no_replace BEFORE INSERT ON events
WHEN EXISTS (SELECT 1 FROM events
             WHERE tenant_id = NEW.tenant_id AND customer_id = NEW.customer_id AND event_id = NEW.event_id)
  OR (NEW.idempotency_key <> '' AND EXISTS (
        SELECT 1 FROM events
        WHERE tenant_id = NEW.tenant_id AND customer_id = NEW.customer_id
          AND idempotency_key = NEW.idempotency_key AND idempotency_key <> ''))
  OR (NEW.reverses_event_id <> '' AND EXISTS (
        SELECT 1 FROM events
        WHERE tenant_id = NEW.tenant_id AND customer_id = NEW.customer_id
          AND reverses_event_id = NEW.reverses_event_id AND reverses_event_id <> ''))
BEGIN
    SELECT RAISE(ABORT, 'UNIQUE constraint failed: events are append-only');
END;
-- +goose StatementEnd

-- +goose Down
-- Forward-only: there is no going back from a ledger schema.
SELECT 1;
