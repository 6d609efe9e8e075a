//! KPI targets on a slice (SPEC R1): one row per (KPI, grouping, slice key)
//! in `kpi_targets`; grouping `none` with key `''` overrides the KPI's
//! default target. Validation is the caller's (service::kpi_targets).

use jiff::Timestamp;
use serde::Serialize;

use crate::sql::{Conn, Row};
use crate::{Result, args};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KpiTarget {
    pub id: i64,
    pub kpi: String,
    pub group_by: String,
    pub slice_key: String,
    pub at_least: bool,
    pub value: f64,
    pub created_by: Option<i64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLS: &str = "id, kpi, group_by, slice_key, at_least, value, created_by, created_at, updated_at FROM kpi_targets";

fn record(r: &Row) -> Result<KpiTarget> {
    Ok(KpiTarget {
        id: r.get(0)?,
        kpi: r.get(1)?,
        group_by: r.get(2)?,
        slice_key: r.get(3)?,
        at_least: r.get(4)?,
        value: r.get(5)?,
        created_by: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

/// Every target, by KPI, grouping and slice.
pub fn list(c: &mut Conn) -> Result<Vec<KpiTarget>> {
    c.query(&format!("SELECT {COLS} ORDER BY kpi, group_by, slice_key"), args![])?.iter().map(record).collect()
}

/// The targets of one KPI for the grouping `group_by` and its overall
/// (`none`) override.
pub fn for_kpi(c: &mut Conn, kpi: &str, group_by: &str) -> Result<Vec<KpiTarget>> {
    c.query(
        &format!("SELECT {COLS} WHERE kpi = $1 AND (group_by = $2 OR group_by = 'none') ORDER BY id"),
        args![kpi, group_by],
    )?
    .iter()
    .map(record)
    .collect()
}

/// Sets the target of a slice (inserted, or the existing one replaced).
#[allow(clippy::too_many_arguments)]
pub fn upsert(
    c: &mut Conn,
    kpi: &str,
    group_by: &str,
    slice_key: &str,
    at_least: bool,
    value: f64,
    by: i64,
    now: Timestamp,
) -> Result<KpiTarget> {
    c.execute(
        "INSERT INTO kpi_targets (kpi, group_by, slice_key, at_least, value, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
         ON CONFLICT (kpi, group_by, slice_key) DO UPDATE SET at_least = excluded.at_least,
            value = excluded.value, updated_at = excluded.updated_at",
        args![kpi, group_by, slice_key, at_least, value, by, now],
    )?;
    record(&c.query_one(
        &format!("SELECT {COLS} WHERE kpi = $1 AND group_by = $2 AND slice_key = $3"),
        args![kpi, group_by, slice_key],
    )?)
}

/// The target of a slice, if it has one.
pub fn find(c: &mut Conn, kpi: &str, group_by: &str, slice_key: &str) -> Result<Option<KpiTarget>> {
    c.query_opt(
        &format!("SELECT {COLS} WHERE kpi = $1 AND group_by = $2 AND slice_key = $3"),
        args![kpi, group_by, slice_key],
    )?
    .map(|r| record(&r))
    .transpose()
}

pub fn get(c: &mut Conn, id: i64) -> Result<Option<KpiTarget>> {
    c.query_opt(&format!("SELECT {COLS} WHERE id = $1"), args![id])?.map(|r| record(&r)).transpose()
}

/// Removes a target; whether there was one.
pub fn delete(c: &mut Conn, id: i64) -> Result<bool> {
    Ok(c.execute("DELETE FROM kpi_targets WHERE id = $1", args![id])? > 0)
}

/// An improvement action (优化措施) on a KPI's slice, with its "before"
/// figure as captured when it was recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KpiAction {
    pub id: i64,
    pub kpi: String,
    pub group_by: String,
    pub slice_key: String,
    pub title: String,
    pub note: String,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub started_on: jiff::civil::Date,
    pub review_on: Option<jiff::civil::Date>,
    pub before_value: Option<f64>,
    pub before_from: jiff::civil::Date,
    pub before_to: jiff::civil::Date,
    pub created_by: Option<i64>,
    pub created_at: Timestamp,
}

/// A new improvement action.
#[derive(Debug, Clone)]
pub struct NewKpiAction {
    pub kpi: String,
    pub group_by: String,
    pub slice_key: String,
    pub title: String,
    pub note: String,
    pub owner_id: Option<i64>,
    pub started_on: jiff::civil::Date,
    pub review_on: Option<jiff::civil::Date>,
    pub before_value: Option<f64>,
    pub before_from: jiff::civil::Date,
    pub before_to: jiff::civil::Date,
}

const ACTION_COLS: &str = "a.id, a.kpi, a.group_by, a.slice_key, a.title, a.note, a.owner_id, u.name, a.started_on,
    a.review_on, a.before_value, a.before_from, a.before_to, a.created_by, a.created_at
    FROM kpi_actions a LEFT JOIN users u ON u.id = a.owner_id";

fn action(r: &Row) -> Result<KpiAction> {
    Ok(KpiAction {
        id: r.get(0)?,
        kpi: r.get(1)?,
        group_by: r.get(2)?,
        slice_key: r.get(3)?,
        title: r.get(4)?,
        note: r.get(5)?,
        owner_id: r.get(6)?,
        owner_name: r.get(7)?,
        started_on: r.get(8)?,
        review_on: r.get(9)?,
        before_value: r.get(10)?,
        before_from: r.get(11)?,
        before_to: r.get(12)?,
        created_by: r.get(13)?,
        created_at: r.get(14)?,
    })
}

/// A page of improvement actions, newest start first: at most `limit`,
/// those after the previous page's last `(started_on, id)`
/// (`kpi_actions_started`).
pub fn list_actions(c: &mut Conn, before: Option<(jiff::civil::Date, i64)>, limit: i64) -> Result<Vec<KpiAction>> {
    let rows = match before {
        Some((on, id)) => c.query(
            &format!(
                "SELECT {ACTION_COLS} WHERE a.started_on < $1 OR (a.started_on = $1 AND a.id < $2)
                 ORDER BY a.started_on DESC, a.id DESC LIMIT $3"
            ),
            args![on, id, limit],
        )?,
        None => {
            c.query(&format!("SELECT {ACTION_COLS} ORDER BY a.started_on DESC, a.id DESC LIMIT $1"), args![limit])?
        }
    };
    rows.iter().map(action).collect()
}

pub fn get_action(c: &mut Conn, id: i64) -> Result<Option<KpiAction>> {
    c.query_opt(&format!("SELECT {ACTION_COLS} WHERE a.id = $1"), args![id])?.map(|r| action(&r)).transpose()
}

/// Records an action; its id.
pub fn insert_action(c: &mut Conn, a: &NewKpiAction, by: i64, now: Timestamp) -> Result<i64> {
    c.insert_id(
        "INSERT INTO kpi_actions (kpi, group_by, slice_key, title, note, owner_id, started_on, review_on,
            before_value, before_from, before_to, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        args![
            &a.kpi,
            &a.group_by,
            &a.slice_key,
            &a.title,
            &a.note,
            a.owner_id,
            a.started_on,
            a.review_on,
            a.before_value,
            a.before_from,
            a.before_to,
            by,
            now
        ],
    )
}

/// Changes what may change of an action: its title, note, owner and
/// review date (the KPI, slice, start and "before" figure stay); whether
/// there was one.
pub fn update_action(
    c: &mut Conn,
    id: i64,
    title: &str,
    note: &str,
    owner_id: Option<i64>,
    review_on: Option<jiff::civil::Date>,
) -> Result<bool> {
    Ok(c.execute(
        "UPDATE kpi_actions SET title = $2, note = $3, owner_id = $4, review_on = $5 WHERE id = $1",
        args![id, title, note, owner_id, review_on],
    )? > 0)
}

/// Removes an action; whether there was one.
pub fn delete_action(c: &mut Conn, id: i64) -> Result<bool> {
    Ok(c.execute("DELETE FROM kpi_actions WHERE id = $1", args![id])? > 0)
}

/// Whether an active user has this id.
pub fn user_exists(c: &mut Conn, id: i64) -> Result<bool> {
    Ok(c.scalar::<i64>("SELECT COUNT(*) FROM users WHERE id = $1", args![id])? > 0)
}
