-- Sessions and accounts (SPEC S1, S4): a public handle for each session (to
-- list and end it), where and with what it was opened, and its stage
-- ('totp': password accepted, second factor still to give; 'enrol': the
-- role requires two-factor and the user must set it up first; 'full').
-- Sessions opened before this migration have none of it: they end, and
-- everybody signs in once more.
DELETE FROM sessions;
ALTER TABLE sessions ADD COLUMN handle TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'full';
CREATE INDEX sessions_handle ON sessions(handle);

-- TOTP (RFC 6238): the secret encrypted with the data key; a secret being
-- set up until its first code is confirmed; the last time step accepted
-- (a code is good once).
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_pending TEXT;
ALTER TABLE users ADD COLUMN totp_enabled_at INTEGER;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;

-- One-time recovery codes, stored as SHA-256.
CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at INTEGER
);
CREATE INDEX recovery_codes_user ON recovery_codes(user_id);

-- Every sign-in attempt and every refused authorisation: the evidence and
-- the counts that rate limiting and lockout read. Append-only.
CREATE TABLE security_events (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    user_id INTEGER,
    email TEXT,
    ip TEXT,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX security_events_at ON security_events(at);
CREATE INDEX security_events_email ON security_events(email, at);
CREATE INDEX security_events_ip ON security_events(ip, at);
