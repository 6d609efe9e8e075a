-- Measurement (SPEC R1–R2): the indexes the KPIs of complaints, surveys,
-- scripts, outgoing messages, orders and customers read a period through,
-- and the tier × activity counts of the last segmentation run (the
-- dashboard reads a handful of rows instead of counting every customer).
CREATE INDEX orders_day_customer ON orders(ordered_on, customer_id);
CREATE INDEX customers_created ON customers(created_at);
CREATE INDEX surveys_created ON surveys(created_at, kind);
CREATE INDEX script_uses_used ON script_uses(used_at, outcome, user_id);
CREATE INDEX outbox_created ON outbox(created_at, status, channel);

CREATE TABLE segment_counts (
    tier TEXT NOT NULL,
    activity TEXT NOT NULL,
    customers INTEGER NOT NULL,
    computed_at INTEGER NOT NULL,
    PRIMARY KEY (tier, activity)
);
INSERT INTO segment_counts (tier, activity, customers, computed_at)
    SELECT tier, activity, COUNT(*), 0 FROM customer_segments GROUP BY tier, activity;
