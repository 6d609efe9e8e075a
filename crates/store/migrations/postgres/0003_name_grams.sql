-- Name search (SPEC C8): see the SQLite migration of the same number. The
-- "C" collation keeps the one-character prefix ranges byte-ordered.
CREATE TABLE name_grams (
    gram TEXT COLLATE "C" NOT NULL,
    customer_id BIGINT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    PRIMARY KEY (gram, customer_id)
);
CREATE INDEX name_grams_customer ON name_grams(customer_id);

DROP INDEX customers_phone_index;
DROP INDEX customers_email_index;
