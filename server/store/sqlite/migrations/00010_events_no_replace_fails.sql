-- +goose Up
-- The append-only guard against INSERT OR REPLACE (00001) now stops the
-- statement with RAISE(FAIL) rather than RAISE(ABORT). The insert is
-- refused either way; ABORT also promised to undo the rows the same
-- statement had already inserted, and for that SQLite kept a statement
-- journal (a copy of every page the statement changed, in a temp file
-- past 64 KiB) on every insert into events. The store never needs that
-- undo: a failed statement fails its whole transaction, which rolls back
-- (sqlstore.Dialect.InsertOrFail).
DROP TRIGGER events_no_replace;

-- +goose StatementBegin
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
    SELECT RAISE(FAIL, 'UNIQUE constraint failed: events are append-only');
END;
-- +goose StatementEnd

-- +goose Down
-- Forward-only.
SELECT 1;
