-- The audit log is append-only (SPEC S3): the database itself refuses to
-- change or remove an entry, whatever the application does. Indexes for the
-- admins' search by actor and by action over a date range (by entity: the
-- existing audit_log_entity; by date alone: audit_log_at).

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE INDEX audit_log_actor ON audit_log(actor_id, at);
CREATE INDEX audit_log_action ON audit_log(action, at);
