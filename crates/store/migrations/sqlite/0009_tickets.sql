-- Tickets and the service process (SPEC T1–T7): tickets with their SLA
-- clocks, history, replies and notes; routing rules, escalation paths, the
-- service settings of groups and the agents' availability and load; and the
-- durable job table of the scheduler that runs every timed piece of work.

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    ticket_type TEXT NOT NULL,
    channel TEXT NOT NULL,
    category TEXT NOT NULL,
    priority TEXT NOT NULL,
    status TEXT NOT NULL,
    -- Not archived: listed in the queues.
    active INTEGER NOT NULL,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    description TEXT NOT NULL,
    group_id INTEGER REFERENCES groups(id) ON DELETE SET NULL,
    assignee_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    -- The work schedule the SLA clocks count on (work_schedules.code).
    schedule_code TEXT NOT NULL,
    -- Why it went where it went (JSON, guanxi_domain::ticket::routing::RoutingReason).
    routing TEXT NOT NULL,
    -- The earlier ticket of the same customer and category (T6).
    repeat_of INTEGER,
    -- The clocks (JSON, guanxi_domain::ticket::sla::SlaClocks).
    sla TEXT NOT NULL,
    -- The nearest deadline of a running clock; 9999-12-31 when none, so
    -- that one ascending index serves every queue on both engines.
    sla_due_at INTEGER NOT NULL,
    sla_breached INTEGER NOT NULL DEFAULT 0,
    -- The escalation (JSON, guanxi_domain::ticket::escalation::Escalation).
    escalation TEXT,
    escalation_level INTEGER NOT NULL DEFAULT 0,
    external_id TEXT UNIQUE,
    created_by INTEGER,
    received_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    first_response_at INTEGER,
    resolved_at INTEGER,
    closed_at INTEGER
);
CREATE INDEX tickets_assignee_queue ON tickets(assignee_id, active, sla_due_at, id);
CREATE INDEX tickets_group_queue ON tickets(group_id, active, sla_due_at, id);
CREATE INDEX tickets_active_queue ON tickets(active, sla_due_at, id);
CREATE INDEX tickets_customer ON tickets(customer_id, category, received_at);

-- Every change of a ticket, in order (its history).
CREATE TABLE ticket_events (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    actor_id INTEGER,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX ticket_events_ticket ON ticket_events(ticket_id, id);

-- Public replies, internal notes and the customer's messages.
CREATE TABLE ticket_messages (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    author_id INTEGER,
    kind TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX ticket_messages_ticket ON ticket_messages(ticket_id, id);

-- People other than the assignee a ticket was escalated to: they see it.
CREATE TABLE ticket_participants (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, user_id)
);
CREATE INDEX ticket_participants_user ON ticket_participants(user_id, ticket_id);

-- A group's service settings: its schedule and how it hands out tickets.
CREATE TABLE ticket_groups (
    group_id INTEGER PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,
    schedule_code TEXT NOT NULL,
    assign_mode TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- An agent's availability (在线), skills and load (tickets in hand).
CREATE TABLE ticket_agents (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    available INTEGER NOT NULL,
    -- Comma-separated.
    skills TEXT NOT NULL,
    open_tickets INTEGER NOT NULL,
    last_assigned_at INTEGER,
    updated_at INTEGER NOT NULL
);

CREATE TABLE routing_rules (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    position INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    -- JSON, guanxi_domain::ticket::routing::RuleConditions.
    conditions TEXT NOT NULL,
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    skill TEXT,
    updated_by INTEGER,
    updated_at INTEGER NOT NULL
);

CREATE TABLE escalation_paths (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    position INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    -- JSON: guanxi_domain::ticket::escalation::PathConditions and the steps.
    conditions TEXT NOT NULL,
    steps TEXT NOT NULL,
    updated_by INTEGER,
    updated_at INTEGER NOT NULL
);
-- The fallback path: any breached ticket goes to its group's supervisor,
-- who tells the customer of progress within 30 minutes.
INSERT INTO escalation_paths (name, position, enabled, conditions, steps, updated_at) VALUES
    ('主管升级', 1000, 1, '{}',
     '[{"name":"客服主管","target":{"kind":"supervisor"},"respond_minutes":30,"customer_update_minutes":30}]', 0);

-- The scheduler's durable jobs (T7). One row per (kind, ref_key); a
-- scheduler instance leases due rows (`leased_until`, `lease_owner`) and
-- completes a row in the same transaction as the job's effects, so each
-- due job runs once even with several instances on one database.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    ref_key TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    payload TEXT NOT NULL,
    leased_until INTEGER,
    lease_owner TEXT,
    -- Times leased, and times run to completion (the exactly-once evidence).
    claims INTEGER NOT NULL DEFAULT 0,
    runs INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    done_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (kind, ref_key)
);
CREATE INDEX jobs_due ON jobs(due_at) WHERE done_at IS NULL;
