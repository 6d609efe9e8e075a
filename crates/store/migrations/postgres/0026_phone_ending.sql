-- A phone number's search digests as one row instead of two: the row of
-- its last four digits keeps the keyed hash of its last seven in `ending`,
-- and the index covers both, so that a search by seven digits or more (the
-- whole number, say) still reads one index range while a bulk import
-- inserts every number under its last four (10,000 places, clustered)
-- instead of also under a random seven-digit key (see docs/decisions.md).
-- Rows written before keep their shape (the last seven digits' hash as a
-- `digest` of its own, `ending` NULL) and are still found: a search looks
-- for both.
ALTER TABLE contact_index ADD COLUMN ending TEXT;
DROP INDEX contact_index_digest;
CREATE INDEX contact_index_digest ON contact_index(digest, ending, customer_id);
