-- Name search (SPEC C8): every two-character window of a customer's name and
-- of its contacts' names (lower-cased, per whitespace-separated word, plus
-- the last character of each word followed by U+0001), so that a fragment is
-- found through an index instead of a scan of every name. Filled by the
-- application (guanxi_store::search), which also backfills it after this
-- migration.
CREATE TABLE name_grams (
    gram TEXT NOT NULL,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    PRIMARY KEY (gram, customer_id)
) WITHOUT ROWID;
CREATE INDEX name_grams_customer ON name_grams(customer_id);

-- Superseded by contact_index (0002); the columns stay, no longer written.
DROP INDEX customers_phone_index;
DROP INDEX customers_email_index;
