-- +goose Up
-- Finds an incident's events from any customer, so a RecordIncident call
-- without started_at reuses the start an earlier call recorded, whichever
-- customers either call listed.
CREATE INDEX events_by_incident ON events (tenant_id, incident_id, kind, fingerprint) WHERE incident_id <> '';

-- +goose Down
-- Forward-only.
SELECT 1;
