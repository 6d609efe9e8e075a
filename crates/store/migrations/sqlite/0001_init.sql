-- Accounts, settings, audit and customers. Instants are INTEGER milliseconds
-- since the Unix epoch (UTC); calendar dates are 'YYYY-MM-DD' text.

CREATE TABLE groups (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    group_id INTEGER REFERENCES groups(id) ON DELETE SET NULL,
    password_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    certified INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX users_group ON users(group_id);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor_id INTEGER,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id INTEGER,
    detail TEXT NOT NULL DEFAULT '',
    ip TEXT
);
CREATE INDEX audit_log_entity ON audit_log(entity, entity_id, at);
CREATE INDEX audit_log_at ON audit_log(at);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    industry TEXT,
    scale TEXT,
    region TEXT,
    decision_chain TEXT,
    phone_enc TEXT,
    phone_masked TEXT,
    phone_index TEXT,
    email_enc TEXT,
    email_masked TEXT,
    email_index TEXT,
    owner_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    cooperation_start TEXT,
    first_purchase_on TEXT,
    last_cooperation_on TEXT,
    preferred_channel TEXT,
    contact_window TEXT,
    marketing_consent INTEGER NOT NULL DEFAULT 0,
    notes TEXT,
    stage TEXT NOT NULL,
    contract_end TEXT,
    renewal_date TEXT,
    verified_on TEXT,
    external_id TEXT UNIQUE,
    created_by INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX customers_owner ON customers(owner_id, updated_at);
CREATE INDEX customers_industry ON customers(industry, updated_at);
CREATE INDEX customers_updated ON customers(updated_at);
CREATE INDEX customers_name ON customers(name);
CREATE INDEX customers_verified ON customers(verified_on);
CREATE INDEX customers_contract_end ON customers(contract_end);
CREATE INDEX customers_phone_index ON customers(phone_index);
CREATE INDEX customers_email_index ON customers(email_index);

CREATE TABLE customer_tags (
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (customer_id, tag)
);
CREATE INDEX customer_tags_tag ON customer_tags(tag, customer_id);
