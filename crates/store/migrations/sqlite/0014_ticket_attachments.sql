-- Files attached to a ticket's replies and notes (SPEC T1). The bytes live
-- in the data directory under their SHA-256 (never under the uploader's
-- name); a row says which ticket and message a file belongs to, the name
-- it is offered under and the content type its bytes showed.
CREATE TABLE ticket_attachments (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    message_id INTEGER REFERENCES ticket_messages(id) ON DELETE SET NULL,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    uploaded_at INTEGER NOT NULL
);
CREATE INDEX ticket_attachments_ticket ON ticket_attachments(ticket_id, id);
CREATE INDEX ticket_attachments_sha ON ticket_attachments(sha256);

-- The customer 360 page lists a customer's tickets newest first, a page at a time.
CREATE INDEX tickets_customer_recent ON tickets(customer_id, received_at, id);
