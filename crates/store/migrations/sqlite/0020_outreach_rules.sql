-- Outreach rules (SPEC O3): consent per channel with its history, and
-- revisit appointments with the reminder sent ahead of them.

-- Every change of a customer's consent to a channel (email, sms, wecom):
-- the newest row per customer and channel is the consent in force.
CREATE TABLE channel_consents (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    -- 1 accepted, 0 refused.
    granted INTEGER NOT NULL,
    -- How the customer said so (phone, email, form, ...), free text.
    source TEXT NOT NULL,
    note TEXT,
    actor_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    at INTEGER NOT NULL
);
CREATE INDEX channel_consents_customer ON channel_consents(customer_id, channel, id);

-- A revisit appointment on a maintenance task (客服专员将于明日10:00回访您):
-- one per task; rescheduling moves it (version + 1), cancelling keeps the row.
CREATE TABLE revisit_appointments (
    id INTEGER PRIMARY KEY,
    task_id INTEGER NOT NULL UNIQUE REFERENCES maintenance_tasks(id) ON DELETE CASCADE,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    agent_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    -- scheduled, cancelled, done
    status TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    -- The outbox row of the current reminder (none: nothing could be sent).
    reminder_id INTEGER,
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX revisit_appointments_customer ON revisit_appointments(customer_id, at);
