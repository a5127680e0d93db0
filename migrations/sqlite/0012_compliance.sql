-- Compliance (issue #17): the append-only audit log, SDK telemetry sessions, and when a folder's
-- personal data was deleted.

-- No foreign keys: entries outlive the users, folders and companies they name.
CREATE TABLE audit_log (
    audit_id          TEXT PRIMARY KEY,
    time_created      BIGINT NOT NULL,
    -- The actor (NULL: the server itself) and the actor's company.
    user_id           TEXT,
    user_company_id   TEXT,
    -- The tenant of the changed object: what CLIENT ADMIN reads by.
    company_id        TEXT,
    ip                TEXT,
    request_id        TEXT,
    action            TEXT NOT NULL,
    object_type       TEXT NOT NULL,
    object_id         TEXT NOT NULL,
    folder_id         TEXT,
    changes           TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_created ON audit_log (time_created);
CREATE INDEX audit_log_company ON audit_log (company_id, time_created);
CREATE INDEX audit_log_object ON audit_log (object_id);
CREATE INDEX audit_log_folder ON audit_log (folder_id);
CREATE INDEX audit_log_user ON audit_log (user_id);

-- Append-only below the API too.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TABLE event_sessions (
    company_id        TEXT NOT NULL REFERENCES companies (company_id) ON DELETE CASCADE,
    session_id        TEXT NOT NULL,
    user_id           TEXT,
    folder_id         TEXT,
    events            TEXT NOT NULL DEFAULT '[]',
    time_created      BIGINT NOT NULL,
    time_updated      BIGINT NOT NULL,
    PRIMARY KEY (company_id, session_id)
);
CREATE INDEX event_sessions_created ON event_sessions (company_id, time_created);
CREATE INDEX event_sessions_updated ON event_sessions (company_id, time_updated);

ALTER TABLE folders ADD COLUMN time_pi_deleted BIGINT;
