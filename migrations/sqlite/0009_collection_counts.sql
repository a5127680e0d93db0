-- Persons and faces of a collection, kept in the transaction of every change: a search reads
-- them on every call, and counting a million rows each time would cost more than the search.
ALTER TABLE collections ADD COLUMN persons_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE collections ADD COLUMN faces_total BIGINT NOT NULL DEFAULT 0;
UPDATE collections SET
    persons_total = (SELECT COUNT(*) FROM persons p WHERE p.collection_id = collections.collection_id),
    faces_total = (SELECT COUNT(*) FROM person_images i WHERE i.collection_id = collections.collection_id);
