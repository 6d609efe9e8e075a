-- Complaint handling (SPEC P1–P7): one row per complaint on top of its
-- ticket (type complaint): the CP number, demand type, urgency with its
-- grading, the batch it belongs to, the investigation, the solution and
-- its approval, execution, the customer's confirmation, and the deadlines
-- (JSON, guanxi_domain::complaint::Deadlines) with the nearest one.

CREATE TABLE complaints (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL UNIQUE REFERENCES tickets(id) ON DELETE CASCADE,
    number TEXT NOT NULL UNIQUE,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    category TEXT NOT NULL,
    demand_type TEXT NOT NULL,
    state TEXT NOT NULL,
    urgency TEXT NOT NULL,
    -- Why (JSON, guanxi_domain::complaint::grading::Grading).
    grading TEXT NOT NULL,
    -- An agent's override: {"from", "to", "reason", "by", "at"} (JSON).
    urgency_override TEXT,
    -- The content words, for finding similar complaints (space separated).
    signature TEXT NOT NULL,
    -- The first complaint of its batch (批量客诉), itself included.
    batch_id INTEGER,
    handler_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    department_id INTEGER REFERENCES groups(id) ON DELETE SET NULL,
    responsible_party TEXT,
    root_cause TEXT,
    evidence TEXT,
    investigated_at INTEGER,
    solution TEXT,
    rejection_reason TEXT,
    approved_by INTEGER,
    approved_at INTEGER,
    agreed_at INTEGER,
    promised_at INTEGER,
    executed_at INTEGER,
    notified_at INTEGER,
    satisfaction INTEGER,
    feedback TEXT,
    close_reason TEXT,
    escalated_at INTEGER,
    deadlines TEXT NOT NULL,
    next_due_at INTEGER,
    -- A deadline was missed or met late (the review's timeout rate).
    overdue INTEGER NOT NULL DEFAULT 0,
    received_at INTEGER NOT NULL,
    registered_at INTEGER NOT NULL,
    closed_at INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE INDEX complaints_registered ON complaints(registered_at, id);
CREATE INDEX complaints_category ON complaints(category, registered_at);
CREATE INDEX complaints_customer ON complaints(customer_id, registered_at);
CREATE INDEX complaints_state ON complaints(state, registered_at);
CREATE INDEX complaints_batch ON complaints(batch_id);

-- Messages recorded for the customer until outreach sends them (P5: told
-- within 1 h of execution).
CREATE TABLE complaint_notifications (
    id INTEGER PRIMARY KEY,
    complaint_id INTEGER NOT NULL REFERENCES complaints(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    actor_id INTEGER,
    purpose TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX complaint_notifications_complaint ON complaint_notifications(complaint_id, id);
