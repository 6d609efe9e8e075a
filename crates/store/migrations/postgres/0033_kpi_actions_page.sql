-- The improvement actions are listed a page at a time, newest start first,
-- after a (started_on, id) cursor.
CREATE INDEX kpi_actions_started ON kpi_actions(started_on, id);
