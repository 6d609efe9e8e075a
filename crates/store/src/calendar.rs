//! The business calendar's stored part (SPEC M3): the administrator's day
//! overrides and the named weekly schedules. The shipped statutory data and
//! the festivals live in `guanxi_domain::calendar`; the hours are kept as the
//! domain's JSON (`ScheduleHours`), parsed by the service.

use jiff::Timestamp;
use jiff::civil::Date;

use crate::sql::{Conn, Row};
use crate::{Result, args};

/// One day an administrator decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOverride {
    pub date: Date,
    pub working: bool,
    pub name: Option<String>,
    pub updated_by: Option<i64>,
    pub updated_by_name: Option<String>,
    pub updated_at: Timestamp,
}

const OVERRIDE_COLUMNS: &str = "o.day, o.working, o.name, o.updated_by, u.name, o.updated_at
     FROM calendar_overrides o LEFT JOIN users u ON u.id = o.updated_by";

fn override_row(r: &Row) -> Result<StoredOverride> {
    Ok(StoredOverride {
        date: r.get(0)?,
        working: r.get(1)?,
        name: r.get(2)?,
        updated_by: r.get(3)?,
        updated_by_name: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

/// Every override, by date (a few rows a year: the arithmetic needs them all).
pub fn overrides(c: &mut Conn) -> Result<Vec<StoredOverride>> {
    c.query(&format!("SELECT {OVERRIDE_COLUMNS} ORDER BY o.day"), &[])?.iter().map(override_row).collect()
}

/// The overrides from `from` to `to`, both included, by date.
pub fn overrides_between(c: &mut Conn, from: Date, to: Date) -> Result<Vec<StoredOverride>> {
    c.query(&format!("SELECT {OVERRIDE_COLUMNS} WHERE o.day >= $1 AND o.day <= $2 ORDER BY o.day"), args![from, to])?
        .iter()
        .map(override_row)
        .collect()
}

pub fn override_on(c: &mut Conn, date: Date) -> Result<Option<StoredOverride>> {
    c.query_opt(&format!("SELECT {OVERRIDE_COLUMNS} WHERE o.day = $1"), args![date])?
        .as_ref()
        .map(override_row)
        .transpose()
}

/// Sets (or replaces) the override of a day.
pub fn set_override(
    c: &mut Conn,
    date: Date,
    working: bool,
    name: Option<&str>,
    by: i64,
    now: Timestamp,
) -> Result<()> {
    c.execute(
        "INSERT INTO calendar_overrides (day, working, name, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (day) DO UPDATE SET working = excluded.working, name = excluded.name,
             updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        args![date, working, name, by, now],
    )?;
    Ok(())
}

/// Removes the override of a day; `false` when there was none.
pub fn clear_override(c: &mut Conn, date: Date) -> Result<bool> {
    Ok(c.execute("DELETE FROM calendar_overrides WHERE day = $1", args![date])? > 0)
}

/// A named weekly schedule, its hours as stored JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSchedule {
    pub code: String,
    pub name: String,
    pub hours: String,
    pub updated_at: Timestamp,
}

fn schedule_row(r: &Row) -> Result<StoredSchedule> {
    Ok(StoredSchedule { code: r.get(0)?, name: r.get(1)?, hours: r.get(2)?, updated_at: r.get(3)? })
}

/// Every schedule, the default first.
pub fn schedules(c: &mut Conn) -> Result<Vec<StoredSchedule>> {
    c.query(
        "SELECT code, name, hours, updated_at FROM work_schedules
         ORDER BY CASE WHEN code = 'default' THEN 0 ELSE 1 END, code",
        &[],
    )?
    .iter()
    .map(schedule_row)
    .collect()
}

pub fn schedule(c: &mut Conn, code: &str) -> Result<Option<StoredSchedule>> {
    c.query_opt("SELECT code, name, hours, updated_at FROM work_schedules WHERE code = $1", args![code])?
        .as_ref()
        .map(schedule_row)
        .transpose()
}

/// Replaces a schedule's hours; `false` when there is no such schedule.
pub fn save_schedule_hours(c: &mut Conn, code: &str, hours: &str, by: i64, now: Timestamp) -> Result<bool> {
    Ok(c.execute(
        "UPDATE work_schedules SET hours = $2, updated_by = $3, updated_at = $4 WHERE code = $1",
        args![code, hours, by, now],
    )? > 0)
}
