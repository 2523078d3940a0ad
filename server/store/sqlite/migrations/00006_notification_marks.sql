-- +goose Up
-- How far retention has deleted each tenant's notifications: the highest
-- number pruned. A stream cursor below it may have missed some, and is
-- told so instead of being handed a stream with a hole.
CREATE TABLE notification_marks (
    tenant_id TEXT    NOT NULL PRIMARY KEY,
    pruned    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- +goose Down
-- Forward-only.
SELECT 1;
