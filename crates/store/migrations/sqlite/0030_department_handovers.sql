-- Cross-department hand-overs (SPEC R1 跨部门处理时长, T4 协作接口人): a
-- ticket handed to a collaborating department — an escalation step whose
-- person is a department collaborator — and when that person answered
-- (replied, noted or acted on the ticket), with the working time between
-- in thousandths of a working day of the ticket's calendar.
CREATE TABLE department_handovers (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id),
    -- The collaborator's department when handed over.
    group_id INTEGER REFERENCES groups(id) ON DELETE SET NULL,
    step_name TEXT NOT NULL,
    handed_at INTEGER NOT NULL,
    answered_at INTEGER,
    working_days_milli INTEGER
);
CREATE INDEX department_handovers_answered ON department_handovers(answered_at) WHERE answered_at IS NOT NULL;
CREATE INDEX department_handovers_open ON department_handovers(ticket_id, user_id) WHERE answered_at IS NULL;
