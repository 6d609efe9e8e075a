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
    c.insert_id(
        "INSERT INTO escalation_paths (name, position, enabled, conditions, steps, updated_by, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
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

/// Records a ticket handed to a collaborating department's person
/// (migration 0030): open until they answer.
pub fn open_handover(
    c: &mut Conn,
    ticket_id: i64,
    user_id: i64,
    group_id: Option<i64>,
    step_name: &str,
    at: Timestamp,
) -> Result<()> {
    c.execute(
        "INSERT INTO department_handovers (ticket_id, user_id, group_id, step_name, handed_at) VALUES ($1, $2, $3, $4, $5)",
        args![ticket_id, user_id, group_id, step_name, at],
    )?;
    Ok(())
}

/// The hand-overs of a ticket to `user_id` not answered yet: (id, handed at).
pub fn open_handovers(c: &mut Conn, ticket_id: i64, user_id: i64) -> Result<Vec<(i64, Timestamp)>> {
    let rows = c.query(
        "SELECT id, handed_at FROM department_handovers
         WHERE ticket_id = $1 AND user_id = $2 AND answered_at IS NULL ORDER BY id",
        args![ticket_id, user_id],
    )?;
    rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?))).collect()
}

/// Marks a hand-over answered, with the working time it took in
/// thousandths of a working day.
pub fn answer_handover(c: &mut Conn, id: i64, at: Timestamp, working_days_milli: i64) -> Result<()> {
    c.execute(
        "UPDATE department_handovers SET answered_at = $2, working_days_milli = $3 WHERE id = $1 AND answered_at IS NULL",
        args![id, at, working_days_milli],
    )?;
    Ok(())
}

/// A hand-over as the ticket page and API show it.
#[derive(Debug, Clone, Serialize)]
pub struct Handover {
    pub user_id: i64,
    pub user_name: String,
    pub group_name: Option<String>,
    pub step_name: String,
    pub handed_at: Timestamp,
    pub answered_at: Option<Timestamp>,
    /// Working days from hand-over to answer.
    pub working_days: Option<f64>,
}

/// A ticket's hand-overs, oldest first.
pub fn handovers_of(c: &mut Conn, ticket_id: i64) -> Result<Vec<Handover>> {
    let rows = c.query(
        "SELECT h.user_id, u.name, g.name, h.step_name, h.handed_at, h.answered_at, h.working_days_milli
         FROM department_handovers h JOIN users u ON u.id = h.user_id LEFT JOIN groups g ON g.id = h.group_id
         WHERE h.ticket_id = $1 ORDER BY h.id",
        args![ticket_id],
    )?;
    rows.iter()
        .map(|r| {
            #[allow(clippy::cast_precision_loss)]
            let days = r.get::<Option<i64>>(6)?.map(|m| m as f64 / 1000.0);
            Ok(Handover {
                user_id: r.get(0)?,
                user_name: r.get(1)?,
                group_name: r.get(2)?,
                step_name: r.get(3)?,
                handed_at: r.get(4)?,
                answered_at: r.get(5)?,
                working_days: days,
            })
        })
        .collect()
}
