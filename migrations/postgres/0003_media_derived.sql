-- Files derived from a media: the MP4 preview rebuilt from a shots set, and the still served by
-- /api/media/{id}/snapshot/. Both live in blob storage next to the original.
ALTER TABLE media ADD COLUMN preview_key TEXT;
ALTER TABLE media ADD COLUMN snapshot_key TEXT;
