-- Measurement (SPEC R1): ticket KPIs are aggregates over the tickets
-- received in a period. This index covers every column they read, so a
-- period's figures are one range scan of the index, never of the table.
CREATE INDEX tickets_kpi ON tickets(received_at, group_id, assignee_id, channel, category,
    first_response_at, resolved_at, sla_breached, repeat_of, customer_id);
