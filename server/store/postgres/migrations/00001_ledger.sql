-- +goose Up
-- One schema for CockroachDB and PostgreSQL. Keys lead with the tenant and
-- the customer, so writes for different customers land on different ranges
-- (CockroachDB) and no row or sequence is touched by every write. Event ids
-- are UUIDv7 strings made by the server: unique without coordination.

-- customers holds each customer's profile and materialized balance in one
-- row: recording an event reads and writes exactly one customer row.
CREATE TABLE customers (
    tenant_id           TEXT             NOT NULL,
    customer_id         TEXT             NOT NULL,
    display_name        TEXT             NOT NULL DEFAULT '',
    segment             TEXT             NOT NULL DEFAULT '',
    value               DOUBLE PRECISION NOT NULL DEFAULT 1,
    overdraft_limit     DOUBLE PRECISION,
    attributes          JSONB            NOT NULL DEFAULT '{}',
    created_at          TIMESTAMPTZ      NOT NULL,
    updated_at          TIMESTAMPTZ      NOT NULL,
    policy_version      BIGINT           NOT NULL,
    -- The balance just after the latest event, at last_at.
    value_at_last       DOUBLE PRECISION NOT NULL DEFAULT 0,
    -- Orders customers by balance at any moment (ledger.Policy.Rank).
    balance_rank        DOUBLE PRECISION NOT NULL DEFAULT 0,
    event_count         BIGINT           NOT NULL DEFAULT 0,
    last_at             TIMESTAMPTZ,
    last_kind           TEXT             NOT NULL DEFAULT '',
    last_fingerprint    TEXT             NOT NULL DEFAULT '',
    last_event_id       TEXT             NOT NULL DEFAULT '',
    last_notice_at      TIMESTAMPTZ,
    last_grievance_at   TIMESTAMPTZ,
    last_grievance_kind TEXT             NOT NULL DEFAULT '',
    last_remedy_at      TIMESTAMPTZ,
    trend               DOUBLE PRECISION NOT NULL DEFAULT 0,
    -- Outreach keys (ledger.Policy.KeysOf); NULL when not on that list.
    recovery_key        DOUBLE PRECISION,
    advocacy_key        DOUBLE PRECISION,
    PRIMARY KEY (tenant_id, customer_id)
);

-- Serve ListBalances, overall and per segment, in either direction.
CREATE INDEX customers_by_rank ON customers (tenant_id, balance_rank, customer_id);
CREATE INDEX customers_by_segment_rank ON customers (tenant_id, segment, balance_rank, customer_id);
-- Serve the outreach lists; partial, so they hold only listed customers.
CREATE INDEX customers_by_recovery ON customers (tenant_id, recovery_key, customer_id)
    WHERE recovery_key IS NOT NULL;
CREATE INDEX customers_by_advocacy ON customers (tenant_id, advocacy_key, customer_id)
    WHERE advocacy_key IS NOT NULL;

CREATE TABLE events (
    tenant_id          TEXT             NOT NULL,
    customer_id        TEXT             NOT NULL,
    event_id           TEXT             NOT NULL,
    kind               TEXT             NOT NULL,
    magnitude          DOUBLE PRECISION NOT NULL CHECK (magnitude >= 0),
    occurred_at        TIMESTAMPTZ      NOT NULL,
    recorded_at        TIMESTAMPTZ      NOT NULL,
    idempotency_key    TEXT             NOT NULL DEFAULT '',
    fingerprint        TEXT             NOT NULL,
    source             TEXT             NOT NULL DEFAULT '',
    note               TEXT             NOT NULL DEFAULT '',
    attributes         JSONB            NOT NULL DEFAULT '{}',
    incident_id        TEXT             NOT NULL DEFAULT '',
    reverses_event_id  TEXT             NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, customer_id, event_id)
);

-- The backstop for idempotency: one event per key and customer.
CREATE UNIQUE INDEX events_by_key ON events (tenant_id, customer_id, idempotency_key)
    WHERE idempotency_key <> '';
-- The backstop for "an event is reversed at most once", and the lookup of
-- an event's reversal.
CREATE UNIQUE INDEX events_by_reversed ON events (tenant_id, customer_id, reverses_event_id)
    WHERE reverses_event_id <> '';
-- Serves ListEvents (newest first) and time ranges. Customer-prefixed, so
-- not a time-ordered hot spot: no hash sharding needed.
CREATE INDEX events_by_time ON events (tenant_id, customer_id, occurred_at, event_id);

CREATE TABLE policies (
    tenant_id   TEXT        NOT NULL,
    version     BIGINT      NOT NULL,
    -- The domain's encoding, kept byte for byte (JSONB would reorder it).
    body        TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

CREATE TABLE active_policies (
    tenant_id   TEXT   NOT NULL PRIMARY KEY,
    version     BIGINT NOT NULL
);

CREATE TABLE recompute_jobs (
    tenant_id      TEXT        NOT NULL,
    job_id         TEXT        NOT NULL,
    policy_version BIGINT      NOT NULL,
    state          TEXT        NOT NULL,
    total          BIGINT      NOT NULL,
    done           BIGINT      NOT NULL,
    cursor         TEXT        NOT NULL DEFAULT '',
    started_at     TIMESTAMPTZ NOT NULL,
    finished_at    TIMESTAMPTZ,
    error          TEXT        NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, job_id)
);
CREATE INDEX recompute_jobs_running ON recompute_jobs (state) WHERE state = 'running';

-- +goose Down
-- Forward-only.
SELECT 1;
