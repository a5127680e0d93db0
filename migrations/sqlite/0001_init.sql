-- Vigil schema v1. Portable on purpose: the PostgreSQL set is the same text, so one query layer
-- serves both. Ids are UUID text, timestamps integer microseconds, JSON documents text.
CREATE TABLE companies (
    company_id   TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    is_system    BOOLEAN NOT NULL DEFAULT FALSE,
    meta_data    TEXT NOT NULL DEFAULT '{}',
    time_created BIGINT NOT NULL,
    time_updated BIGINT NOT NULL
);

-- ADMIN and OPERATOR users belong to this company.
INSERT INTO companies (company_id, name, is_system, meta_data, time_created, time_updated)
VALUES ('00000000-0000-0000-0000-000000000000', 'System', TRUE, '{}', 0, 0);

CREATE TABLE users (
    user_id                       TEXT PRIMARY KEY,
    email                         TEXT NOT NULL UNIQUE,
    password_hash                 TEXT NOT NULL,
    first_name                    TEXT NOT NULL DEFAULT '',
    last_name                     TEXT NOT NULL DEFAULT '',
    middle_name                   TEXT,
    user_type                     TEXT NOT NULL,
    company_id                    TEXT NOT NULL REFERENCES companies (company_id) ON DELETE CASCADE,
    is_admin                      BOOLEAN NOT NULL DEFAULT FALSE,
    is_service                    BOOLEAN NOT NULL DEFAULT FALSE,
    is_active                     BOOLEAN NOT NULL DEFAULT TRUE,
    can_start_analyse_biometry    BOOLEAN NOT NULL DEFAULT TRUE,
    can_start_analyse_quality     BOOLEAN NOT NULL DEFAULT TRUE,
    can_start_analyse_collection  BOOLEAN NOT NULL DEFAULT TRUE,
    meta_data                     TEXT NOT NULL DEFAULT '{}',
    time_created                  BIGINT NOT NULL,
    time_updated                  BIGINT NOT NULL
);
CREATE INDEX users_company ON users (company_id);

-- Tokens are stored only as SHA-256 hashes. A refreshed pair keeps `predecessor_id` until its
-- first use, which deletes the predecessor.
CREATE TABLE sessions (
    session_id       TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    access_hash      TEXT NOT NULL UNIQUE,
    refresh_hash     TEXT NOT NULL UNIQUE,
    access_expires   BIGINT NOT NULL,
    refresh_expires  BIGINT NOT NULL,
    ttl_secs         BIGINT NOT NULL,
    predecessor_id   TEXT,
    time_created     BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE folders (
    folder_id            TEXT PRIMARY KEY,
    company_id           TEXT NOT NULL REFERENCES companies (company_id) ON DELETE CASCADE,
    user_id              TEXT REFERENCES users (user_id) ON DELETE SET NULL,
    resolution_status    TEXT NOT NULL DEFAULT 'INITIAL',
    system_resolution    TEXT NOT NULL DEFAULT 'INITIAL',
    operator_status      TEXT,
    operator_comment     TEXT,
    pi_deleted           BOOLEAN NOT NULL DEFAULT FALSE,
    meta_data            TEXT NOT NULL DEFAULT '{}',
    technical_meta_data  TEXT NOT NULL DEFAULT '{}',
    time_created         BIGINT NOT NULL,
    time_updated         BIGINT NOT NULL
);
CREATE INDEX folders_company_created ON folders (company_id, time_created);
CREATE INDEX folders_user_created ON folders (user_id, time_created);
CREATE INDEX folders_created ON folders (time_created);

CREATE TABLE media (
    media_id             TEXT PRIMARY KEY,
    folder_id            TEXT NOT NULL REFERENCES folders (folder_id) ON DELETE CASCADE,
    company_id           TEXT NOT NULL REFERENCES companies (company_id) ON DELETE CASCADE,
    original_name        TEXT,
    media_type           TEXT NOT NULL,
    tags                 TEXT NOT NULL DEFAULT '[]',
    blob_key             TEXT NOT NULL,
    thumb_key            TEXT,
    content_type         TEXT NOT NULL,
    size                 BIGINT NOT NULL,
    width                BIGINT,
    height               BIGINT,
    meta_data            TEXT NOT NULL DEFAULT '{}',
    technical_meta_data  TEXT NOT NULL DEFAULT '{}',
    time_created         BIGINT NOT NULL,
    time_updated         BIGINT NOT NULL
);
CREATE INDEX media_folder ON media (folder_id, time_created);
