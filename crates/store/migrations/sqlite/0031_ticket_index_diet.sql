-- Fewer index entries per new ticket (issue 6, BENCHMARKS.md Tickets): a
-- repeat inquiry is found through the customer's recent tickets
-- (tickets_customer_recent: customer, received_at), so the index on
-- (customer, category, received_at) — a second entry at a random place
-- for every new ticket — goes; the retention walk's index holds only
-- closed tickets, so a new ticket adds no entry to it.
DROP INDEX tickets_customer;
DROP INDEX tickets_closed;
CREATE INDEX tickets_closed ON tickets(closed_at, id) WHERE closed_at IS NOT NULL;
