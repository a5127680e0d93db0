-- Analyses, the durable job queue and webhook deliveries (the analyses issue). Portable text: the
-- PostgreSQL set is identical.

-- One row per requested analysis. `system_resolution` is the plugin's verdict and never changes;
-- `resolution_status`/`resolution` start equal to it and an operator decision may override them.
CREATE TABLE analyses (
    analyse_id                TEXT PRIMARY KEY,
    folder_id                 TEXT NOT NULL REFERENCES folders (folder_id) ON DELETE CASCADE,
    company_id                TEXT NOT NULL REFERENCES companies (company_id) ON DELETE CASCADE,
    user_id                   TEXT REFERENCES users (user_id) ON DELETE SET NULL,
    group_id                  TEXT NOT NULL,
    type                      TEXT NOT NULL,
    state                     TEXT NOT NULL,
    resolution_status         TEXT NOT NULL,
    system_resolution         TEXT NOT NULL,
    params                    TEXT NOT NULL DEFAULT '{}',
    source_media              TEXT NOT NULL DEFAULT '[]',
    results_data              TEXT,
    results_media             TEXT NOT NULL DEFAULT '[]',
    error                     TEXT,
    plugin                    TEXT,
    webhook_url               TEXT,
    operator_id               TEXT,
    operator_comment          TEXT,
    time_decided              BIGINT,
    attempts                  BIGINT NOT NULL DEFAULT 0,
    worker                    TEXT,
    meta_data                 TEXT NOT NULL DEFAULT '{}',
    technical_meta_data       TEXT NOT NULL DEFAULT '{}',
    time_task_send_to_broker  BIGINT,
    time_task_received        BIGINT,
    time_task_finished        BIGINT,
    time_created              BIGINT NOT NULL,
    time_updated              BIGINT NOT NULL
);
CREATE INDEX analyses_folder ON analyses (folder_id, time_created);
CREATE INDEX analyses_company_created ON analyses (company_id, time_created);
CREATE INDEX analyses_created ON analyses (time_created);

-- The work queue. A worker claims a queued job whose run_at has come by setting a lease; a job
-- whose lease expires is queued again by the reaper. `attempts` counts claims.
CREATE TABLE jobs (
    job_id        TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    company_id    TEXT,
    subject_id    TEXT,
    payload       TEXT NOT NULL DEFAULT '{}',
    state         TEXT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    max_attempts  BIGINT NOT NULL,
    run_at        BIGINT NOT NULL,
    lease_owner   TEXT,
    lease_until   BIGINT,
    last_error    TEXT,
    time_created  BIGINT NOT NULL,
    time_updated  BIGINT NOT NULL
);
CREATE INDEX jobs_ready ON jobs (state, run_at);
CREATE INDEX jobs_subject ON jobs (subject_id);

-- One row per webhook delivery attempt.
CREATE TABLE webhook_deliveries (
    delivery_id   TEXT PRIMARY KEY,
    job_id        TEXT NOT NULL,
    company_id    TEXT NOT NULL REFERENCES companies (company_id) ON DELETE CASCADE,
    analyse_id    TEXT,
    folder_id     TEXT,
    event         TEXT NOT NULL,
    url           TEXT NOT NULL,
    attempt       BIGINT NOT NULL,
    status_code   BIGINT,
    error         TEXT,
    duration_ms   BIGINT NOT NULL,
    time_created  BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_analysis ON webhook_deliveries (analyse_id, time_created);
CREATE INDEX webhook_deliveries_company ON webhook_deliveries (company_id, time_created);

-- A company's default webhook and the secret its deliveries are signed with.
ALTER TABLE companies ADD COLUMN webhook_url TEXT;
ALTER TABLE companies ADD COLUMN webhook_secret TEXT;
