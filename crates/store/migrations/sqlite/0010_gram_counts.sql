-- How many customers hold each name gram, so that a search walks the
-- rarest gram of its fragment without counting postings first. Kept by
-- guanxi_store::search with every change of name_grams.
CREATE TABLE gram_counts (
    gram TEXT PRIMARY KEY,
    n INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO gram_counts (gram, n) SELECT gram, COUNT(*) FROM name_grams GROUP BY gram;
