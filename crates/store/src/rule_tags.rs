//! Rule tags defined by administrators (SPEC G6): a name and a segment
//! definition (JSON), enabled or not. The recompute job reads the enabled
//! ones once per run; the customers that match carry the name in
//! `customer_segments.rule_tags`.

use jiff::Timestamp;
use serde::Serialize;

use crate::sql::Conn;
use crate::{Result, StoreError, args};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleTag {
    pub id: i64,
    pub name: String,
    /// The segment as JSON (see `guanxi_domain::segment::Segment`).
    pub definition: String,
    pub enabled: bool,
    /// One of the rule tags every installation starts with (seeded by the
    /// migration); edited and disabled like any other.
    pub builtin: bool,
    pub updated_at: Timestamp,
    /// Who last changed it (none for an untouched default).
    pub updated_by_name: Option<String>,
}

const COLS: &str = "r.id, r.name, r.definition, r.enabled, r.builtin, r.updated_at, u.name";
const FROM: &str = "FROM rule_tags r LEFT JOIN users u ON u.id = r.updated_by";

fn row(r: &crate::Row) -> Result<RuleTag> {
    Ok(RuleTag {
        id: r.get(0)?,
        name: r.get(1)?,
        definition: r.get(2)?,
        enabled: r.get(3)?,
        builtin: r.get(4)?,
        updated_at: r.get(5)?,
        updated_by_name: r.get(6)?,
    })
}

/// Every rule tag, in display order (the order the job's results keep).
pub fn list(c: &mut Conn) -> Result<Vec<RuleTag>> {
    c.query(&format!("SELECT {COLS} {FROM} ORDER BY r.id"), &[])?.iter().map(row).collect()
}

pub fn get(c: &mut Conn, id: i64) -> Result<RuleTag> {
    row(&c.query_one(&format!("SELECT {COLS} {FROM} WHERE r.id = $1"), args![id])?)
}

/// (name, definition) of the enabled rule tags, in display order.
pub fn enabled(c: &mut Conn) -> Result<Vec<(String, String)>> {
    c.query("SELECT name, definition FROM rule_tags WHERE enabled = $1 ORDER BY id", args![true])?
        .iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .collect()
}

/// A name another rule tag already has is refused under `name`.
fn name_taken(c: &mut Conn, name: &str, except: i64) -> Result<()> {
    let n: i64 = c.scalar("SELECT COUNT(*) FROM rule_tags WHERE name = $1 AND id <> $2", args![name, except])?;
    if n > 0 {
        return Err(guanxi_domain::ValidationErrors::single("name", guanxi_domain::Issue::Taken).into());
    }
    Ok(())
}

/// Adds a rule tag; returns its id.
pub fn insert(c: &mut Conn, name: &str, definition: &str, enabled: bool, by: i64, now: Timestamp) -> Result<i64> {
    name_taken(c, name, 0)?;
    c.insert_id(
        "INSERT INTO rule_tags (name, definition, enabled, builtin, created_by, created_at, updated_by, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $5, $6)",
        args![name, definition, enabled, false, by, now],
    )
}

/// Replaces a rule tag's name, definition and switch.
pub fn update(
    c: &mut Conn,
    id: i64,
    name: &str,
    definition: &str,
    enabled: bool,
    by: i64,
    now: Timestamp,
) -> Result<()> {
    name_taken(c, name, id)?;
    let n = c.execute(
        "UPDATE rule_tags SET name = $1, definition = $2, enabled = $3, updated_by = $4, updated_at = $5 WHERE id = $6",
        args![name, definition, enabled, by, now, id],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Removes a rule tag; returns its name. The customers who carry it keep
/// it until the next recomputation, which takes it away (on their timelines).
pub fn delete(c: &mut Conn, id: i64) -> Result<String> {
    let name: String = match c.query("SELECT name FROM rule_tags WHERE id = $1", args![id])?.first() {
        Some(r) => r.get(0)?,
        None => return Err(StoreError::NotFound),
    };
    c.execute("DELETE FROM rule_tags WHERE id = $1", args![id])?;
    Ok(name)
}
