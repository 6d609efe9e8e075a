-- See the SQLite migration of the same number.
CREATE TABLE gram_counts (
    gram TEXT COLLATE "C" PRIMARY KEY,
    n BIGINT NOT NULL
);
INSERT INTO gram_counts (gram, n) SELECT gram, COUNT(*) FROM name_grams GROUP BY gram;
