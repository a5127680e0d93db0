-- Single-use refresh tokens (OAuth 2.0 Security BCP): a refresh marks its session's refresh token
-- used; a second use is reuse, and every session of the family (one log-in and its refreshes) is
-- revoked. NULL family_id (sessions made before this) is the session itself.
ALTER TABLE sessions ADD COLUMN family_id TEXT;
ALTER TABLE sessions ADD COLUMN refresh_used BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX sessions_family ON sessions (family_id);
