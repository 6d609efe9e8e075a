-- Rule tags defined by administrators (SPEC G6): a tag name and a segment
-- condition (JSON, see guanxi_domain::segment::Segment). The recompute job
-- gives each enabled rule tag to the customers that match it and writes the
-- names into customer_segments.rule_tags. The four rule tags the system
-- used to define in code are seeded as ordinary rows (builtin = 1 only
-- marks where they came from): administrators edit or disable them.
CREATE TABLE rule_tags (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    definition TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    builtin INTEGER NOT NULL,
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    updated_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    updated_at INTEGER NOT NULL
);
INSERT INTO rule_tags (name, definition, enabled, builtin, created_at, updated_at) VALUES
    ('高价值', '{"all":[{"tier":"high"}]}', 1, 1, 0, 0),
    ('活跃', '{"all":[{"activity":"active"}]}', 1, 1, 0, 0),
    ('流失预警', '{"all":["at_risk"]}', 1, 1, 0, 0),
    ('投诉风险', '{"all":[{"any":[{"has_signal":"contact_spike"},{"has_signal":"negative_feedback"}]}]}', 1, 1, 0, 0);
