-- The pgvector face index (issue #14) exists only on PostgreSQL; this keeps the two migration
-- sets numbered alike.
SELECT 1;
