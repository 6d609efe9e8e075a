-- Customer 360 (SPEC C2-C7): contacts, orders, behaviour events,
-- communication records with action items, the timeline, and the blind
-- index that finds customers by any part of a phone number or an email.

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    title TEXT,
    phone_enc TEXT,
    phone_masked TEXT,
    email_enc TEXT,
    email_masked TEXT,
    wechat_enc TEXT,
    wechat_masked TEXT,
    birthday_enc TEXT,
    address_enc TEXT,
    decision_maker INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX contacts_customer ON contacts(customer_id, id);
CREATE INDEX contacts_name ON contacts(name);

-- Keyed hashes of normalised phone numbers (whole and every suffix of four
-- digits or more) and emails, of customers and their contacts.
CREATE TABLE contact_index (
    digest TEXT NOT NULL,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    contact_id INTEGER REFERENCES contacts(id) ON DELETE CASCADE
);
CREATE INDEX contact_index_digest ON contact_index(digest, customer_id);
CREATE INDEX contact_index_customer ON contact_index(customer_id);
CREATE INDEX contact_index_contact ON contact_index(contact_id);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    external_id TEXT UNIQUE,
    ordered_on TEXT NOT NULL,
    amount_fen INTEGER NOT NULL,
    product TEXT,
    channel TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX orders_customer ON orders(customer_id, ordered_on);

CREATE TABLE behaviour_events (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    duration_secs INTEGER,
    feature TEXT
);
CREATE INDEX behaviour_events_customer ON behaviour_events(customer_id, occurred_at);

CREATE TABLE communications (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
    occurred_at INTEGER NOT NULL,
    channel TEXT NOT NULL,
    direction TEXT NOT NULL,
    purpose TEXT NOT NULL,
    summary TEXT NOT NULL,
    feedback TEXT,
    result TEXT,
    owner_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    satisfaction INTEGER,
    notes TEXT,
    created_by INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX communications_customer ON communications(customer_id, occurred_at);

CREATE TABLE action_items (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    communication_id INTEGER REFERENCES communications(id) ON DELETE CASCADE,
    content TEXT NOT NULL,
    owner_id INTEGER NOT NULL REFERENCES users(id),
    due_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    done_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX action_items_owner ON action_items(owner_id, status, due_at);
CREATE INDEX action_items_customer ON action_items(customer_id, due_at);

-- One time-ordered stream per customer; every capability appends to it.
CREATE TABLE timeline (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    ref_id INTEGER,
    title TEXT NOT NULL,
    body TEXT,
    actor_id INTEGER
);
CREATE INDEX timeline_customer ON timeline(customer_id, at, id);
CREATE INDEX timeline_customer_kind ON timeline(customer_id, kind, at, id);
