-- The coded reason recorded when a churn warning is followed up (SPEC G4):
-- it chooses the recovery plan and feeds the churn-reason statistics (R3).
CREATE TABLE churn_reasons (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    note TEXT,
    recorded_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX churn_reasons_customer ON churn_reasons(customer_id, recorded_at);
CREATE INDEX churn_reasons_reason ON churn_reasons(reason, recorded_at);
