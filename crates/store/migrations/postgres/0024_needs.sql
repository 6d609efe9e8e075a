-- The need record of a need ticket (SPEC T1, 需求-响应-反馈 closed loop; R3's
-- needs report): the target department (a group), the need status
-- (guanxi_domain::ticket::need::NeedStatus), the planned version or date, the
-- reason when declined, when the outcome was reached and when the customer
-- was told it (the outbox message that told them).
CREATE TABLE ticket_needs (
    ticket_id BIGINT PRIMARY KEY REFERENCES tickets(id) ON DELETE CASCADE,
    department_id BIGINT REFERENCES groups(id) ON DELETE SET NULL,
    status TEXT NOT NULL,
    planned_version TEXT,
    planned_date TEXT,
    decline_reason TEXT,
    submitted_at BIGINT NOT NULL,
    outcome_at BIGINT,
    customer_told_at BIGINT,
    told_outreach_id BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX ticket_needs_by_submitted ON ticket_needs(submitted_at);
