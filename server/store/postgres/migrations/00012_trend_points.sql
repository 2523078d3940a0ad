-- +goose Up
-- Daily snapshots of each segment's balance summary (and everyone's, with
-- overall = 1 and segment ''), one row per tenant, segment and day: the
-- trend endpoint reads a range of days from the primary key. On
-- CockroachDB a tenant's rows are one short span of it.
CREATE TABLE trend_points (
    tenant_id      TEXT             NOT NULL,
    overall        BIGINT           NOT NULL,
    segment        TEXT             NOT NULL,
    day            TEXT             NOT NULL, -- YYYY-MM-DD, UTC
    customers      BIGINT           NOT NULL,
    overdrawn      BIGINT           NOT NULL,
    mean           DOUBLE PRECISION NOT NULL,
    p10            DOUBLE PRECISION NOT NULL,
    p50            DOUBLE PRECISION NOT NULL,
    p90            DOUBLE PRECISION NOT NULL,
    value_at_risk  DOUBLE PRECISION NOT NULL,
    policy_version BIGINT           NOT NULL,
    taken_at       TIMESTAMPTZ      NOT NULL,
    PRIMARY KEY (tenant_id, overall, segment, day)
);

-- +goose Down
-- Forward-only.
SELECT 1;
