-- +goose Up
-- Leases of the jobs one replica at a time should run (the trend worker's
-- daily snapshot), one row per job: the replica that holds a job's lease
-- runs it, and the others skip it until the lease is released or ends.
CREATE TABLE leases (
    name        TEXT        NOT NULL PRIMARY KEY,
    owner       TEXT        NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL
);

-- +goose Down
-- Forward-only.
SELECT 1;
