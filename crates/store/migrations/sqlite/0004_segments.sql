-- Segmentation and churn warning (SPEC G1-G7): one row per customer,
-- written by the recompute job (only rows that changed), read by the 360
-- page, the overview, the churn-risk list and saved segments.
CREATE TABLE customer_segments (
    customer_id INTEGER PRIMARY KEY REFERENCES customers(id) ON DELETE CASCADE,
    tier TEXT NOT NULL,
    activity TEXT NOT NULL,
    spend_fen INTEGER NOT NULL,
    orders_total INTEGER NOT NULL,
    last_order_on TEXT,
    last_interaction_on TEXT,
    rfm TEXT,
    rfm_segment TEXT,
    -- ',order_drop,no_login,' (',' when none), for LIKE tests.
    signals TEXT NOT NULL,
    -- JSON array of the signals with their evidence.
    evidence TEXT NOT NULL,
    rule_tags TEXT NOT NULL,
    at_risk INTEGER NOT NULL,
    p_alive REAL,
    expected_purchases REAL,
    computed_at INTEGER NOT NULL
);
CREATE INDEX customer_segments_tier ON customer_segments(tier, activity);
CREATE INDEX customer_segments_rfm ON customer_segments(rfm_segment);
CREATE INDEX customer_segments_risk ON customer_segments(at_risk, p_alive);

CREATE TABLE saved_segments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    definition TEXT NOT NULL,
    created_by INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Events other capabilities consume: a raised churn warning is the
-- churn-recovery trigger of maintenance plans (M).
CREATE TABLE segment_events (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    at INTEGER NOT NULL,
    consumed_at INTEGER
);
CREATE INDEX segment_events_pending ON segment_events(consumed_at, id);
CREATE INDEX segment_events_customer ON segment_events(customer_id);

-- The recompute job reads each customer's orders from the index alone.
CREATE INDEX orders_customer_amount ON orders(customer_id, ordered_on, amount_fen);
DROP INDEX orders_customer;
CREATE INDEX communications_customer_dir ON communications(customer_id, occurred_at, direction, satisfaction);
