//! Embedded migrations, one directory per engine. Never edit a migration
//! that has been released: add a new one.

use crate::sql::{Conn, Engine};
use crate::{Result, args};

const SQLITE: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../migrations/sqlite/0002_customer_360.sql")),
    (3, include_str!("../migrations/sqlite/0003_name_grams.sql")),
    (4, include_str!("../migrations/sqlite/0004_segments.sql")),
    (5, include_str!("../migrations/sqlite/0005_churn_reasons.sql")),
    (6, include_str!("../migrations/sqlite/0006_rule_tags.sql")),
    (7, include_str!("../migrations/sqlite/0007_calendar.sql")),
    (8, include_str!("../migrations/sqlite/0008_maintenance.sql")),
    (9, include_str!("../migrations/sqlite/0009_tickets.sql")),
    (10, include_str!("../migrations/sqlite/0010_gram_counts.sql")),
    (11, include_str!("../migrations/sqlite/0011_complaints.sql")),
    (12, include_str!("../migrations/sqlite/0012_knowledge.sql")),
    (14, include_str!("../migrations/sqlite/0014_ticket_attachments.sql")),
    (13, include_str!("../migrations/sqlite/0013_outreach.sql")),
    (15, include_str!("../migrations/sqlite/0015_kpi.sql")),
    (17, include_str!("../migrations/sqlite/0017_sessions_totp.sql")),
    (18, include_str!("../migrations/sqlite/0018_audit_append_only.sql")),
    (19, include_str!("../migrations/sqlite/0019_kpi_sources.sql")),
    (20, include_str!("../migrations/sqlite/0020_outreach_rules.sql")),
    (21, include_str!("../migrations/sqlite/0021_complaint_compensation.sql")),
    (22, include_str!("../migrations/sqlite/0022_ticket_retention.sql")),
    (23, include_str!("../migrations/sqlite/0023_notifications.sql")),
    (24, include_str!("../migrations/sqlite/0024_needs.sql")),
    (25, include_str!("../migrations/sqlite/0025_need_outcome.sql")),
    (26, include_str!("../migrations/sqlite/0026_phone_ending.sql")),
    (27, include_str!("../migrations/sqlite/0027_kpi_targets.sql")),
    (28, include_str!("../migrations/sqlite/0028_kpi_actions.sql")),
    (29, include_str!("../migrations/sqlite/0029_feedback_resolved.sql")),
    (30, include_str!("../migrations/sqlite/0030_department_handovers.sql")),
    (31, include_str!("../migrations/sqlite/0031_ticket_index_diet.sql")),
    (32, include_str!("../migrations/sqlite/0032_timeline_kind_index.sql")),
    (33, include_str!("../migrations/sqlite/0033_kpi_actions_page.sql")),
];
const POSTGRES: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (2, include_str!("../migrations/postgres/0002_customer_360.sql")),
    (3, include_str!("../migrations/postgres/0003_name_grams.sql")),
    (4, include_str!("../migrations/postgres/0004_segments.sql")),
    (5, include_str!("../migrations/postgres/0005_churn_reasons.sql")),
    (6, include_str!("../migrations/postgres/0006_rule_tags.sql")),
    (7, include_str!("../migrations/postgres/0007_calendar.sql")),
    (8, include_str!("../migrations/postgres/0008_maintenance.sql")),
    (9, include_str!("../migrations/postgres/0009_tickets.sql")),
    (10, include_str!("../migrations/postgres/0010_gram_counts.sql")),
    (11, include_str!("../migrations/postgres/0011_complaints.sql")),
    (12, include_str!("../migrations/postgres/0012_knowledge.sql")),
    (14, include_str!("../migrations/postgres/0014_ticket_attachments.sql")),
    (13, include_str!("../migrations/postgres/0013_outreach.sql")),
    (15, include_str!("../migrations/postgres/0015_kpi.sql")),
    (17, include_str!("../migrations/postgres/0017_sessions_totp.sql")),
    (18, include_str!("../migrations/postgres/0018_audit_append_only.sql")),
    (19, include_str!("../migrations/postgres/0019_kpi_sources.sql")),
    (20, include_str!("../migrations/postgres/0020_outreach_rules.sql")),
    (21, include_str!("../migrations/postgres/0021_complaint_compensation.sql")),
    (22, include_str!("../migrations/postgres/0022_ticket_retention.sql")),
    (23, include_str!("../migrations/postgres/0023_notifications.sql")),
    (24, include_str!("../migrations/postgres/0024_needs.sql")),
    (25, include_str!("../migrations/postgres/0025_need_outcome.sql")),
    (26, include_str!("../migrations/postgres/0026_phone_ending.sql")),
    (27, include_str!("../migrations/postgres/0027_kpi_targets.sql")),
    (28, include_str!("../migrations/postgres/0028_kpi_actions.sql")),
    (29, include_str!("../migrations/postgres/0029_feedback_resolved.sql")),
    (30, include_str!("../migrations/postgres/0030_department_handovers.sql")),
    (31, include_str!("../migrations/postgres/0031_ticket_index_diet.sql")),
    (32, include_str!("../migrations/postgres/0032_timeline_kind_index.sql")),
    (33, include_str!("../migrations/postgres/0033_kpi_actions_page.sql")),
];

/// An arbitrary constant: the advisory lock that keeps two starting
/// instances from migrating at once.
const PG_MIGRATION_LOCK: i64 = 0x6775_616e_7869;

/// The number of migrations this build knows for an engine.
pub fn known(engine: Engine) -> usize {
    match engine {
        Engine::Sqlite => SQLITE.len(),
        Engine::Postgres => POSTGRES.len(),
    }
}

/// The migration versions this build knows for an engine.
pub fn versions(engine: Engine) -> impl Iterator<Item = i64> {
    match engine {
        Engine::Sqlite => SQLITE,
        Engine::Postgres => POSTGRES,
    }
    .iter()
    .map(|(v, _)| *v)
}

/// Applies pending migrations inside the caller's transaction.
pub(crate) fn apply(c: &mut Conn, engine: Engine) -> Result<usize> {
    let list = match engine {
        Engine::Sqlite => SQLITE,
        Engine::Postgres => {
            c.query("SELECT pg_advisory_xact_lock($1)", args![PG_MIGRATION_LOCK])?;
            POSTGRES
        }
    };
    c.batch("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)")?;
    // Each migration not yet recorded, not only those above the highest:
    // two migrations written side by side may land in either order.
    let done: Vec<i64> =
        c.query("SELECT version FROM schema_migrations", &[])?.iter().map(|r| r.get(0)).collect::<Result<_>>()?;
    let mut applied = 0;
    for (version, sql) in list.iter().filter(|(v, _)| !done.contains(v)) {
        tracing::info!(version, "applying migration");
        c.batch(sql)?;
        if *version == 3 {
            // Data the SQL cannot compute: the name grams of existing customers.
            crate::search::rebuild_all(c)?;
        }
        c.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, CAST(CURRENT_TIMESTAMP AS TEXT))",
            args![*version],
        )?;
        applied += 1;
    }
    // Indexes an interrupted bulk load (the benchmark generator) dropped
    // are created again before anything uses the database.
    crate::bulk_load::restore_indexes(c)?;
    Ok(applied)
}

pub(crate) fn apply_outside_transaction(c: &mut Conn, engine: Engine) -> Result<usize> {
    c.batch(match engine {
        Engine::Sqlite => "BEGIN IMMEDIATE",
        Engine::Postgres => "BEGIN",
    })?;
    match apply(c, engine) {
        Ok(n) => {
            c.batch("COMMIT")?;
            Ok(n)
        }
        Err(e) => {
            let _ = c.batch("ROLLBACK");
            Err(e)
        }
    }
}
