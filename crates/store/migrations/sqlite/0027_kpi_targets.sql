-- KPI targets on a slice (SPEC R1): a KPI's target for one slice (an agent,
-- a team, a channel, …); group_by 'none' with slice_key '' overrides the
-- KPI's default target (the registry's) for every slice without its own.
-- Values are in the KPI's unit as the API gives them (a share 0–1,
-- minutes, a score).
CREATE TABLE kpi_targets (
    id INTEGER PRIMARY KEY,
    kpi TEXT NOT NULL,
    group_by TEXT NOT NULL,
    slice_key TEXT NOT NULL,
    at_least INTEGER NOT NULL,
    value REAL NOT NULL,
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX kpi_targets_slice ON kpi_targets(kpi, group_by, slice_key);
