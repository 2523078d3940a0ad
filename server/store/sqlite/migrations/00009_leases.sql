-- +goose Up
-- Leases of the jobs one replica at a time should run (the trend worker's
-- daily snapshot), one row per job. An embedded store has one process,
-- which always gets the lease; the table keeps the SQL shared.
CREATE TABLE leases (
    name        TEXT    NOT NULL PRIMARY KEY,
    owner       TEXT    NOT NULL,
    lease_until INTEGER NOT NULL
) WITHOUT ROWID;

-- +goose Down
-- Forward-only.
SELECT 1;
