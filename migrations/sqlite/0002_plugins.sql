-- Installed plugin versions. company_id NULL marks a global built-in. At most one version of a
-- (company, name) is active; the code keeps that rule inside one transaction.
CREATE TABLE plugins (
    plugin_id     TEXT PRIMARY KEY,
    company_id    TEXT REFERENCES companies (company_id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    version       TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    size          BIGINT NOT NULL,
    blob_key      TEXT NOT NULL,
    config        TEXT NOT NULL DEFAULT '{}',
    sdk           TEXT,
    active        BOOLEAN NOT NULL DEFAULT FALSE,
    time_created  BIGINT NOT NULL,
    time_updated  BIGINT NOT NULL
);
CREATE UNIQUE INDEX plugins_version ON plugins (COALESCE(company_id, ''), name, version);
CREATE INDEX plugins_company ON plugins (company_id, name);
