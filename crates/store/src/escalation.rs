//! Escalation paths (SPEC T4) as administrators keep them: ordered, each
//! with its conditions and steps (JSON the domain defines).

use guanxi_domain::ticket::escalation::{EscalationStep, PathConditions};
use jiff::Timestamp;
use serde::Serialize;

use crate::sql::{Conn, Row};
use crate::{Result, StoreError, args};

#[derive(Debug, Clone, Serialize)]
pub struct StoredPath {
    pub id: i64,
    pub name: String,
    pub position: i64,
    pub enabled: bool,
    pub conditions: PathConditions,
    pub steps: Vec<EscalationStep>,
    pub updated_at: Timestamp,
}

const COLS: &str = "id, name, position, enabled, conditions, steps, updated_at FROM escalation_paths";

fn path(r: &Row) -> Result<StoredPath> {
    let dec = |col: usize, e: serde_json::Error| StoreError::Decode { column: col, reason: e.to_string() };
    Ok(StoredPath {
        id: r.get(0)?,
        name: r.get(1)?,
        position: r.get(2)?,
        enabled: r.get(3)?,
        conditions: serde_json::from_str(&r.get::<String>(4)?).map_err(|e| dec(4, e))?,
        steps: serde_json::from_str(&r.get::<String>(5)?).map_err(|e| dec(5, e))?,
        updated_at: r.get(6)?,
    })
}

/// Every path, in order.
pub fn paths(c: &mut Conn) -> Result<Vec<StoredPath>> {
    c.query(&format!("SELECT {COLS} ORDER BY position, id"), &[])?.iter().map(path).collect()
}

pub fn path_by_id(c: &mut Conn, id: i64) -> Result<StoredPath> {
    path(&c.query_one(&format!("SELECT {COLS} WHERE id = $1"), args![id])?)
}

#[derive(Debug, Clone)]
pub struct PathRow<'a> {
    pub name: &'a str,
    pub position: i64,
    pub enabled: bool,
    pub conditions: &'a PathConditions,
    pub steps: &'a [EscalationStep],
}

fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Other(e.to_string()))
}

fn taken(e: StoreError) -> StoreError {
    if e.is_unique_violation() {
        guanxi_domain::ValidationErrors::single("name", guanxi_domain::Issue::Taken).into()
    } else {
        e
    }
}

/// The position after the last path that is not a fallback (positions of
/// 1000 and more, like the seeded 主管升级, stay last).
pub fn next_path_position(c: &mut Conn) -> Result<i64> {
    c.scalar("SELECT CAST(COALESCE(MAX(position), 0) + 10 AS BIGINT) FROM escalation_paths WHERE position < 1000", &[])
}

pub fn create_path(c: &mut Conn, p: &PathRow<'_>, by: i64, now: Timestamp) -> Result<i64> {
    c.scalar(
        "INSERT INTO escalation_paths (name, position, enabled, conditions, steps, updated_by, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        args![p.name, p.position, p.enabled, to_json(p.conditions)?, to_json(p.steps)?, by, now],
    )
    .map_err(taken)
}

pub fn update_path(c: &mut Conn, id: i64, p: &PathRow<'_>, by: i64, now: Timestamp) -> Result<()> {
    let n = c
        .execute(
            "UPDATE escalation_paths SET name = $2, position = $3, enabled = $4, conditions = $5, steps = $6,
                 updated_by = $7, updated_at = $8 WHERE id = $1",
            args![id, p.name, p.position, p.enabled, to_json(p.conditions)?, to_json(p.steps)?, by, now],
        )
        .map_err(taken)?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

pub fn delete_path(c: &mut Conn, id: i64) -> Result<()> {
    if c.execute("DELETE FROM escalation_paths WHERE id = $1", args![id])? == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// The active supervisors of a group (any active supervisor when the
/// group has none), for a supervisor step.
pub fn supervisors_for(c: &mut Conn, group_id: Option<i64>) -> Result<Vec<i64>> {
    let in_group: Vec<i64> = match group_id {
        Some(g) => c
            .query(
                "SELECT id FROM users WHERE group_id = $1 AND role = 'supervisor' AND active = $2 ORDER BY id",
                args![g, true],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect::<Result<_>>()?,
        None => Vec::new(),
    };
    if !in_group.is_empty() {
        return Ok(in_group);
    }
    c.query("SELECT id FROM users WHERE role = 'supervisor' AND active = $1 ORDER BY id", args![true])?
        .iter()
        .map(|r| r.get(0))
        .collect()
}
