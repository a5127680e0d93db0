-- Oz completeness (#12): who uses a session and from where, one-time password-restore tokens,
-- the original file's MD5 and a shots set's frame list.
ALTER TABLE sessions ADD COLUMN last_used BIGINT;
ALTER TABLE sessions ADD COLUMN ip TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;

-- Tokens are stored only as SHA-256 hashes; a row is deleted when used.
CREATE TABLE password_restores (
    token_hash    TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    expires       BIGINT NOT NULL,
    time_created  BIGINT NOT NULL
);
CREATE INDEX password_restores_user ON password_restores (user_id);

ALTER TABLE media ADD COLUMN md5 TEXT;
ALTER TABLE media ADD COLUMN frames TEXT;

-- The folder list's result filters look analyses up by stage or verdict, and by type.
CREATE INDEX analyses_status_folder ON analyses (resolution_status, folder_id);
CREATE INDEX analyses_state_folder ON analyses (state, folder_id);
CREATE INDEX analyses_type_folder ON analyses (type, folder_id);

-- Equality result filters are written as JSON containment, which these indexes answer.
CREATE INDEX analyses_results_data_gin ON analyses USING GIN ((results_data::jsonb) jsonb_path_ops);
CREATE INDEX analyses_results_media_gin ON analyses USING GIN ((results_media::jsonb) jsonb_path_ops);
