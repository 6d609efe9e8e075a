-- Improvement actions (优化措施, SPEC R1): what a review decided to do
-- about a KPI on a slice, with the "before" figure captured when recorded
-- (the KPI over [before_from, before_to], the 30 days before started_on);
-- the "after" figure is computed live over [started_on, review_on].
-- Dates are YYYY-MM-DD text, as elsewhere.
CREATE TABLE kpi_actions (
    id INTEGER PRIMARY KEY,
    kpi TEXT NOT NULL,
    group_by TEXT NOT NULL,
    slice_key TEXT NOT NULL,
    title TEXT NOT NULL,
    note TEXT NOT NULL,
    owner_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    started_on TEXT NOT NULL,
    review_on TEXT,
    before_value REAL,
    before_from TEXT NOT NULL,
    before_to TEXT NOT NULL,
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX kpi_actions_kpi ON kpi_actions(kpi, started_on);
