//! The audit log (SPEC S3): who did what, to which record, when, from where.
//! Append-only: nothing here updates or deletes, and the database refuses
//! to (triggers of migration 0018 on both engines).

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
    pub ip: Option<String>,
}

fn audit_row(r: &crate::Row) -> Result<AuditRow> {
    Ok(AuditRow {
        id: r.get(0)?,
        at: r.get(1)?,
        actor_id: r.get(2)?,
        action: r.get(3)?,
        entity: r.get(4)?,
        entity_id: r.get(5)?,
        detail: r.get(6)?,
        actor_name: r.get(7)?,
        ip: r.get(8)?,
    })
}

/// What an admin searches the log for; every condition is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_id: Option<i64>,
    pub entity: Option<String>,
    pub entity_id: Option<i64>,
    pub action: Option<String>,
    /// From this instant (inclusive).
    pub from: Option<jiff::Timestamp>,
    /// Until this instant (exclusive).
    pub until: Option<jiff::Timestamp>,
    /// Keyset cursor: only entries older than this `(at, id)`.
    pub before: Option<(i64, i64)>,
}

/// The newest entries matching `f`, at most `limit`, newest first. Each
/// condition narrows an indexed range: actor (actor_id, at), action
/// (action, at), entity (entity, entity_id, at), else at.
pub fn search(c: &mut Conn, f: &AuditFilter, limit: i64) -> Result<Vec<AuditRow>> {
    let mut cond: Vec<String> = Vec::new();
    let mut vals: Vec<crate::Value> = Vec::new();
    let mut push = |sql: &str, v: crate::Value, cond: &mut Vec<String>| {
        vals.push(v);
        cond.push(sql.replace('?', &format!("${}", vals.len())));
    };
    if let Some(a) = f.actor_id {
        push("a.actor_id = ?", a.into(), &mut cond);
    }
    if let Some(e) = &f.entity {
        push("a.entity = ?", e.as_str().into(), &mut cond);
    }
    if let Some(e) = f.entity_id {
        push("a.entity_id = ?", e.into(), &mut cond);
    }
    if let Some(a) = &f.action {
        push("a.action = ?", a.as_str().into(), &mut cond);
    }
    if let Some(t) = f.from {
        push("a.at >= ?", t.into(), &mut cond);
    }
    if let Some(t) = f.until {
        push("a.at < ?", t.into(), &mut cond);
    }
    if let Some((at, id)) = f.before {
        push("a.at <= ?", at.into(), &mut cond);
        let n = vals.len();
        vals.push(id.into());
        cond.push(format!("(a.at < ${n} OR a.id < ${})", n + 1));
    }
    vals.push(limit.clamp(1, 1000).into());
    let sql = format!(
        "SELECT a.id, a.at, a.actor_id, a.action, a.entity, a.entity_id, a.detail, u.name, a.ip
         FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id
         {} ORDER BY a.at DESC, a.id DESC LIMIT ${}",
        if cond.is_empty() { String::new() } else { format!("WHERE {}", cond.join(" AND ")) },
        vals.len()
    );
    c.query(&sql, &vals)?.iter().map(audit_row).collect()
}

/// The distinct entities and actions in the log, for the search form.
pub fn vocabulary(c: &mut Conn) -> Result<(Vec<String>, Vec<String>)> {
    let entities = c.query("SELECT DISTINCT entity FROM audit_log ORDER BY entity", &[])?;
    let actions = c.query("SELECT DISTINCT action FROM audit_log ORDER BY action", &[])?;
    Ok((
        entities.iter().map(|r| r.get(0)).collect::<Result<_>>()?,
        actions.iter().map(|r| r.get(0)).collect::<Result<_>>()?,
    ))
}

/// The newest entries about one record.
pub fn for_entity(c: &mut Conn, entity: &str, entity_id: i64, limit: i64) -> Result<Vec<AuditRow>> {
    c.query(
        "SELECT a.id, a.at, a.actor_id, a.action, a.entity, a.entity_id, a.detail, u.name, a.ip
         FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id
         WHERE a.entity = $1 AND a.entity_id = $2 ORDER BY a.at DESC, a.id DESC LIMIT $3",
        args![entity, entity_id, limit],
    )?
    .iter()
    .map(audit_row)
    .collect()
}
