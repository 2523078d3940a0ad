-- +goose Up
-- Daily snapshots of each segment's balance summary (and everyone's, with
-- overall = 1 and segment ''), one row per tenant, segment and day: the
-- trend endpoint reads a range of days from the primary key.
CREATE TABLE trend_points (
    tenant_id      TEXT    NOT NULL,
    overall        INTEGER NOT NULL,
    segment        TEXT    NOT NULL,
    day            TEXT    NOT NULL, -- YYYY-MM-DD, UTC
    customers      INTEGER NOT NULL,
    overdrawn      INTEGER NOT NULL,
    mean           REAL    NOT NULL,
    p10            REAL    NOT NULL,
    p50            REAL    NOT NULL,
    p90            REAL    NOT NULL,
    value_at_risk  REAL    NOT NULL,
    policy_version INTEGER NOT NULL,
    taken_at       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, overall, segment, day)
) WITHOUT ROWID;

-- +goose Down
-- Forward-only.
SELECT 1;
