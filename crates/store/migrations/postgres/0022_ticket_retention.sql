-- Retention of closed tickets' personal data (SPEC S2): the daily job walks
-- the tickets closed before the retention limit in (closed_at, id) order.
CREATE INDEX tickets_closed ON tickets(closed_at, id);
