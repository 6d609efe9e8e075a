-- In-app notifications (SPEC T2): the SLA job warns a ticket's assignee at
-- the warning threshold and, at a breach, also the group's supervisors and
-- the escalation's person. The text is rendered from the codes (kind,
-- clock) in the reader's language; a notification is unread until read_at.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    ticket_id INTEGER REFERENCES tickets(id) ON DELETE CASCADE,
    clock TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    read_at INTEGER
);
-- One notification per user, ticket, event and deadline, however often the
-- job reports it.
CREATE UNIQUE INDEX notifications_once ON notifications(user_id, ticket_id, kind, clock, due_at);
-- The caller's unread (read_at IS NULL) or all, newest first, keyset by id.
CREATE INDEX notifications_user ON notifications(user_id, read_at, id);
