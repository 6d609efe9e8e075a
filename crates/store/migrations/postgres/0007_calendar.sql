-- The business calendar (SPEC M3). Statutory holidays, adjusted working days
-- and lunar festivals ship in the binary (guanxi_domain::calendar); what an
-- administrator decides is stored here and wins over them.

-- One row per day an administrator decided: worked or not, and the name
-- shown for it (a company holiday, a year whose notice is not shipped yet).
CREATE TABLE calendar_overrides (
    day TEXT PRIMARY KEY,
    working BOOLEAN NOT NULL,
    name TEXT,
    updated_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    updated_at BIGINT NOT NULL
);

-- Named weekly schedules; `hours` is JSON (guanxi_domain::calendar::ScheduleHours):
-- each weekday's ranges and whether holidays apply. `default` is the
-- company's; groups may later point at another (online chat 7×24).
CREATE TABLE work_schedules (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hours TEXT NOT NULL,
    updated_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO work_schedules (code, name, hours, updated_at) VALUES
    ('default', '标准工时',
     '{"mon":["09:00-12:00","13:30-18:00"],"tue":["09:00-12:00","13:30-18:00"],"wed":["09:00-12:00","13:30-18:00"],"thu":["09:00-12:00","13:30-18:00"],"fri":["09:00-12:00","13:30-18:00"],"sat":[],"sun":[],"observes_holidays":true}',
     0),
    ('7x24', '7×24',
     '{"mon":["00:00-24:00"],"tue":["00:00-24:00"],"wed":["00:00-24:00"],"thu":["00:00-24:00"],"fri":["00:00-24:00"],"sat":["00:00-24:00"],"sun":["00:00-24:00"],"observes_holidays":false}',
     0),
    ('7x12', '7×12',
     '{"mon":["09:00-21:00"],"tue":["09:00-21:00"],"wed":["09:00-21:00"],"thu":["09:00-21:00"],"fri":["09:00-21:00"],"sat":["09:00-21:00"],"sun":["09:00-21:00"],"observes_holidays":false}',
     0);
