-- The pgvector face index (issue #14): when the server offers the `vector` extension and this
-- role may create it, every person image also keeps its embedding as a pgvector `vector`,
-- searched in the database (per-collection HNSW indexes are created by the server as
-- collections grow). Without the extension nothing changes: the in-process indexes serve, and a
-- server configured for pgvector says so at start. The function is also what the server calls
-- at start when the extension was installed after this migration ran.
CREATE OR REPLACE FUNCTION vigil_enable_pgvector() RETURNS TEXT LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
        IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
            RETURN 'the PostgreSQL server has no pgvector extension (vector) installed';
        END IF;
        BEGIN
            CREATE EXTENSION IF NOT EXISTS vector;
        EXCEPTION WHEN OTHERS THEN
            RETURN 'CREATE EXTENSION vector failed: ' || SQLERRM;
        END;
    END IF;
    ALTER TABLE person_images ADD COLUMN IF NOT EXISTS embedding_vec vector;
    -- Faces written by a process that did not know the column yet, found quickly to fill in.
    CREATE INDEX IF NOT EXISTS person_images_vec_missing ON person_images (collection_id)
        WHERE embedding_vec IS NULL;
    RETURN 'ready';
END
$fn$;

SELECT vigil_enable_pgvector();
