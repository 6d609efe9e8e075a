//! The audit log (SPEC S3): who did what, to which record, when, from where.
//! Append-only: nothing here updates or deletes.

use crate::sql::Conn;
use crate::{Result, args};

#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub actor_id: Option<i64>,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: Option<i64>,
    pub detail: String,
    pub ip: Option<&'a str>,
}

pub fn record(c: &mut Conn, at: jiff::Timestamp, e: &AuditEntry<'_>) -> Result<()> {
    c.execute(
        "INSERT INTO audit_log (at, actor_id, action, entity, entity_id, detail, ip) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![at, e.actor_id, e.action, e.entity, e.entity_id, e.detail.as_str(), e.ip],
    )?;
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<i64>,
    pub detail: String,
    pub actor_name: Option<String>,
}

/// The newest entries about one record.
pub fn for_entity(c: &mut Conn, entity: &str, entity_id: i64, limit: i64) -> Result<Vec<AuditRow>> {
    c.query(
        "SELECT a.id, a.at, a.actor_id, a.action, a.entity, a.entity_id, a.detail, u.name
         FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id
         WHERE a.entity = $1 AND a.entity_id = $2 ORDER BY a.at DESC, a.id DESC LIMIT $3",
        args![entity, entity_id, limit],
    )?
    .iter()
    .map(|r| {
        Ok(AuditRow {
            id: r.get(0)?,
            at: r.get(1)?,
            actor_id: r.get(2)?,
            action: r.get(3)?,
            entity: r.get(4)?,
            entity_id: r.get(5)?,
            detail: r.get(6)?,
            actor_name: r.get(7)?,
        })
    })
    .collect()
}
