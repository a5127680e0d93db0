-- 1:N face search (issue #14): collections of persons, each with face images whose embeddings
-- are stored here (the source of truth; every face index is a cache rebuilt from this table).
CREATE TABLE collections (
    collection_id        TEXT PRIMARY KEY,
    company_id           TEXT NOT NULL REFERENCES companies (company_id) ON DELETE CASCADE,
    alias                TEXT NOT NULL,
    -- The embedding model every face of the collection was embedded with; a search with another
    -- model is refused.
    embedding_model      TEXT NOT NULL,
    -- Raised in the transaction of every change to the collection's faces: a process whose
    -- index has applied an older version brings it up to date from person_images first.
    faces_version        BIGINT NOT NULL DEFAULT 0,
    meta_data            TEXT NOT NULL DEFAULT '{}',
    technical_meta_data  TEXT NOT NULL DEFAULT '{}',
    time_created         BIGINT NOT NULL,
    time_updated         BIGINT NOT NULL
);
CREATE UNIQUE INDEX collections_company_alias ON collections (company_id, alias);
CREATE INDEX collections_created ON collections (time_created);

CREATE TABLE persons (
    person_id            TEXT PRIMARY KEY,
    collection_id        TEXT NOT NULL REFERENCES collections (collection_id) ON DELETE CASCADE,
    company_id           TEXT NOT NULL REFERENCES companies (company_id) ON DELETE CASCADE,
    meta_data            TEXT NOT NULL DEFAULT '{}',
    technical_meta_data  TEXT NOT NULL DEFAULT '{}',
    time_created         BIGINT NOT NULL,
    time_updated         BIGINT NOT NULL
);
CREATE INDEX persons_collection_created ON persons (collection_id, time_created);

CREATE TABLE person_images (
    person_image_id      TEXT PRIMARY KEY,
    person_id            TEXT NOT NULL REFERENCES persons (person_id) ON DELETE CASCADE,
    collection_id        TEXT NOT NULL REFERENCES collections (collection_id) ON DELETE CASCADE,
    company_id           TEXT NOT NULL REFERENCES companies (company_id) ON DELETE CASCADE,
    original_name        TEXT,
    tags                 TEXT NOT NULL DEFAULT '[]',
    blob_key             TEXT NOT NULL,
    content_type         TEXT NOT NULL,
    size                 BIGINT NOT NULL,
    width                BIGINT,
    height               BIGINT,
    md5                  TEXT,
    -- The face found at enrolment: box, detector score.
    face                 TEXT NOT NULL DEFAULT '{}',
    embedding_model      TEXT NOT NULL,
    -- Little-endian f32 values, L2-normalised.
    embedding            BLOB NOT NULL,
    meta_data            TEXT NOT NULL DEFAULT '{}',
    time_created         BIGINT NOT NULL,
    time_updated         BIGINT NOT NULL
);
CREATE INDEX person_images_person_created ON person_images (person_id, time_created);
CREATE INDEX person_images_collection ON person_images (collection_id);

-- Which collections an analysis searched and which persons it found: a collection or person
-- referred to here cannot be deleted.
CREATE TABLE analysis_refs (
    analyse_id           TEXT NOT NULL REFERENCES analyses (analyse_id) ON DELETE CASCADE,
    collection_id        TEXT NOT NULL,
    -- Empty when the row records the search of a collection rather than a person found.
    person_id            TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (analyse_id, collection_id, person_id)
);
CREATE INDEX analysis_refs_collection ON analysis_refs (collection_id);
CREATE INDEX analysis_refs_person ON analysis_refs (person_id);
