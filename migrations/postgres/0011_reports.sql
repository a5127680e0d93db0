-- Folder reports (issue #15): per-company report templates with their attachments, and the
-- generated reports, kept as files.
CREATE TABLE report_templates (
    report_template_id   TEXT PRIMARY KEY,
    -- NULL: a global template (ADMIN's), used by companies without their own default.
    company_id           TEXT REFERENCES companies (company_id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    -- Raised by every update; a report records the version it was made with.
    version              BIGINT NOT NULL,
    -- 'template': a minijinja file (.typ or .html) run by the generic template component;
    -- 'component': the company's own report-template Wasm component.
    source_kind          TEXT NOT NULL,
    file_name            TEXT NOT NULL,
    blob_key             TEXT NOT NULL,
    sha256               TEXT NOT NULL,
    size                 BIGINT NOT NULL,
    -- The template a report uses when the request names none (the newest such, per company).
    is_default           BOOLEAN NOT NULL DEFAULT TRUE,
    meta_data            TEXT NOT NULL DEFAULT '{}',
    time_created         BIGINT NOT NULL,
    time_updated         BIGINT NOT NULL
);
CREATE INDEX report_templates_company ON report_templates (company_id, time_updated);

CREATE TABLE report_template_attachments (
    attachment_id        TEXT PRIMARY KEY,
    report_template_id   TEXT NOT NULL REFERENCES report_templates (report_template_id) ON DELETE CASCADE,
    -- The name the template refers to it by (`attachments/<name>`).
    name                 TEXT NOT NULL,
    content_type         TEXT NOT NULL,
    blob_key             TEXT NOT NULL,
    size                 BIGINT NOT NULL,
    time_created         BIGINT NOT NULL
);
CREATE UNIQUE INDEX report_template_attachments_name ON report_template_attachments (report_template_id, name);

CREATE TABLE reports (
    report_id            TEXT PRIMARY KEY,
    folder_id            TEXT NOT NULL REFERENCES folders (folder_id) ON DELETE CASCADE,
    company_id           TEXT NOT NULL REFERENCES companies (company_id) ON DELETE CASCADE,
    -- Who asked; a user's reports go with the user.
    user_id              TEXT REFERENCES users (user_id) ON DELETE CASCADE,
    -- NULL for the built-in default. No foreign key: a report outlives its template.
    report_template_id   TEXT,
    template_name        TEXT NOT NULL,
    template_version     BIGINT NOT NULL,
    format               TEXT NOT NULL,
    file_name            TEXT NOT NULL,
    content_type         TEXT NOT NULL,
    blob_key             TEXT NOT NULL,
    size                 BIGINT NOT NULL,
    time_created         BIGINT NOT NULL
);
CREATE INDEX reports_folder ON reports (folder_id, time_created);
CREATE INDEX reports_user ON reports (user_id);
