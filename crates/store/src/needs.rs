//! The need record of a need ticket (SPEC T1, 需求-响应-反馈; R3): one row
//! per ticket in `ticket_needs`. A status change is checked against the
//! stored status before anything is written and leaves a `need_status`
//! ticket event with who and when; the outcome time and the time the
//! customer was told are kept for the closed loop and the needs report.

use guanxi_domain::ticket::need::{self, NeedRow, NeedStatus, NeedTransitionError, NeedUpdate};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use crate::sql::{Conn, Row};
use crate::{Result, StoreError, args};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NeedRecord {
    pub ticket_id: i64,
    pub department_id: Option<i64>,
    pub department_name: Option<String>,
    pub status: NeedStatus,
    pub planned_version: Option<String>,
    pub planned_date: Option<Date>,
    pub decline_reason: Option<String>,
    pub submitted_at: Timestamp,
    pub outcome_at: Option<Timestamp>,
    pub customer_told_at: Option<Timestamp>,
    pub told_outreach_id: Option<i64>,
    pub updated_at: Timestamp,
}

const COLS: &str = "n.ticket_id, n.department_id, g.name, n.status, n.planned_version, n.planned_date,
    n.decline_reason, n.submitted_at, n.outcome_at, n.customer_told_at, n.told_outreach_id, n.updated_at
    FROM ticket_needs n LEFT JOIN groups g ON g.id = n.department_id";

fn status(raw: &str) -> Result<NeedStatus> {
    NeedStatus::parse(raw).map_err(|_| StoreError::Other(format!("unknown need status {raw}")))
}

fn record(r: &Row) -> Result<NeedRecord> {
    Ok(NeedRecord {
        ticket_id: r.get(0)?,
        department_id: r.get(1)?,
        department_name: r.get(2)?,
        status: status(&r.get::<String>(3)?)?,
        planned_version: r.get(4)?,
        planned_date: r.get(5)?,
        decline_reason: r.get(6)?,
        submitted_at: r.get(7)?,
        outcome_at: r.get(8)?,
        customer_told_at: r.get(9)?,
        told_outreach_id: r.get(10)?,
        updated_at: r.get(11)?,
    })
}

/// The need record of a ticket, if it has one.
pub fn get(c: &mut Conn, ticket_id: i64) -> Result<Option<NeedRecord>> {
    c.query_opt(&format!("SELECT {COLS} WHERE n.ticket_id = $1"), args![ticket_id])?.map(|r| record(&r)).transpose()
}

/// Starts the record of a need ticket as submitted (idempotent).
pub fn submit(c: &mut Conn, ticket_id: i64, department_id: Option<i64>, now: Timestamp) -> Result<NeedRecord> {
    if get(c, ticket_id)?.is_none() {
        c.execute(
            "INSERT INTO ticket_needs (ticket_id, department_id, status, submitted_at, updated_at)
             VALUES ($1, $2, $3, $4, $4)",
            args![ticket_id, department_id, NeedStatus::Submitted.code(), now],
        )?;
    }
    get(c, ticket_id)?.ok_or(StoreError::NotFound)
}

/// Applies an update: refused (nothing written) when the stored status may
/// not become the new one (the same open status edits the rest only), or when the department is not an existing
/// group. A record is started first when the ticket has none.
pub fn update(
    c: &mut Conn,
    ticket_id: i64,
    u: &NeedUpdate,
    actor_id: Option<i64>,
    now: Timestamp,
) -> Result<std::result::Result<NeedRecord, NeedTransitionError>> {
    if let Some(dep) = u.department_id {
        let n: i64 = c.scalar("SELECT COUNT(*) FROM groups WHERE id = $1", args![dep])?;
        if n == 0 {
            return Err(StoreError::Invalid(guanxi_domain::validation::ValidationErrors::single(
                "department_id",
                guanxi_domain::validation::Issue::Unknown,
            )));
        }
    }
    let current = match get(c, ticket_id)? {
        Some(r) => r,
        None => {
            let n: i64 = c.scalar("SELECT COUNT(*) FROM tickets WHERE id = $1", args![ticket_id])?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            submit(c, ticket_id, None, now)?
        }
    };
    // The same open status again edits the department and plan only.
    let to = if u.status == current.status && !current.status.is_outcome() {
        current.status
    } else {
        match need::transition(current.status, u.status) {
            Ok(to) => to,
            Err(e) => return Ok(Err(e)),
        }
    };
    let outcome_at = if to.is_outcome() { Some(now) } else { None };
    c.execute(
        "UPDATE ticket_needs SET status = $2, department_id = COALESCE($3, department_id),
            planned_version = COALESCE($4, planned_version), planned_date = COALESCE($5, planned_date),
            decline_reason = $6, outcome_at = $7, updated_at = $8
         WHERE ticket_id = $1",
        args![
            ticket_id,
            to.code(),
            u.department_id,
            u.planned_version.clone(),
            u.planned_date,
            u.decline_reason.clone().filter(|_| to == NeedStatus::Declined),
            outcome_at,
            now
        ],
    )?;
    let detail = serde_json::json!({
        "from": current.status.code(),
        "to": to.code(),
        "department_id": u.department_id,
        "planned_version": u.planned_version,
        "planned_date": u.planned_date.map(|d| d.to_string()),
        "decline_reason": u.decline_reason,
    });
    crate::tickets::add_event(c, ticket_id, now, actor_id, "need_status", &detail.to_string())?;
    get(c, ticket_id)?.ok_or(StoreError::NotFound).map(Ok)
}

/// Records that the customer was told the outcome (by the outbox message
/// `outreach_id`, if any), with a `need_customer_told` ticket event.
pub fn mark_told(
    c: &mut Conn,
    ticket_id: i64,
    outreach_id: Option<i64>,
    actor_id: Option<i64>,
    now: Timestamp,
) -> Result<()> {
    let n = c.execute(
        "UPDATE ticket_needs SET customer_told_at = $2, told_outreach_id = $3, updated_at = $2
         WHERE ticket_id = $1 AND customer_told_at IS NULL",
        args![ticket_id, now, outreach_id],
    )?;
    if n > 0 {
        let detail = serde_json::json!({ "outreach_id": outreach_id });
        crate::tickets::add_event(c, ticket_id, now, actor_id, "need_customer_told", &detail.to_string())?;
    }
    Ok(())
}

/// The needs submitted in `[from, until)`, as the needs report reads them.
pub fn report_rows(c: &mut Conn, from: Timestamp, until: Timestamp) -> Result<Vec<NeedRow>> {
    c.query(
        "SELECT g.name, n.status, n.submitted_at, n.outcome_at, n.customer_told_at
         FROM ticket_needs n LEFT JOIN groups g ON g.id = n.department_id
         WHERE n.submitted_at >= $1 AND n.submitted_at < $2 ORDER BY n.submitted_at, n.ticket_id",
        args![from, until],
    )?
    .iter()
    .map(|r| {
        Ok(NeedRow {
            department: r.get(0)?,
            status: status(&r.get::<String>(1)?)?,
            submitted_at: r.get(2)?,
            outcome_at: r.get(3)?,
            customer_told_at: r.get(4)?,
        })
    })
    .collect()
}

/// The department a new need of `category` is routed to: the group the
/// administrators chose for the category (setting
/// [`need::DEPARTMENTS_SETTING`], if that group still exists), else the
/// first existing group named as [`need::default_departments`] lists
/// (departments before teams), else none.
pub fn department_for(c: &mut Conn, category: guanxi_domain::ticket::Category) -> Result<Option<i64>> {
    if let Some(raw) = crate::settings::get(c, need::DEPARTMENTS_SETTING)?
        && let Ok(map) = serde_json::from_str::<std::collections::BTreeMap<String, i64>>(&raw)
        && let Some(id) = map.get(category.code()).copied()
    {
        let n: i64 = c.scalar("SELECT COUNT(*) FROM groups WHERE id = $1", args![id])?;
        if n > 0 {
            return Ok(Some(id));
        }
    }
    for name in need::default_departments(category) {
        let found = c.query_opt(
            "SELECT id FROM groups WHERE name = $1 ORDER BY CASE WHEN kind = 'department' THEN 0 ELSE 1 END, id LIMIT 1",
            args![*name],
        )?;
        if let Some(r) = found {
            return Ok(Some(r.get(0)?));
        }
    }
    Ok(None)
}

/// One need as the report's list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NeedListRow {
    pub ticket_id: i64,
    pub number: String,
    pub subject: String,
    pub customer_name: Option<String>,
    pub category: String,
    pub department_name: Option<String>,
    pub status: NeedStatus,
    pub planned_version: Option<String>,
    pub planned_date: Option<Date>,
    pub decline_reason: Option<String>,
    pub submitted_at: Timestamp,
    pub outcome_at: Option<Timestamp>,
    pub customer_told_at: Option<Timestamp>,
}

impl NeedListRow {
    /// The row as [`need::report`] counts it.
    pub fn report_row(&self) -> NeedRow {
        NeedRow {
            department: self.department_name.clone(),
            status: self.status,
            submitted_at: self.submitted_at,
            outcome_at: self.outcome_at,
            customer_told_at: self.customer_told_at,
        }
    }
}

/// The needs submitted in `[from, until)` with their tickets, oldest first
/// (at most `limit`).
pub fn list(c: &mut Conn, from: Timestamp, until: Timestamp, limit: i64) -> Result<Vec<NeedListRow>> {
    c.query(
        "SELECT n.ticket_id, t.number, t.subject, cu.name, t.category, g.name, n.status, n.planned_version,
                n.planned_date, n.decline_reason, n.submitted_at, n.outcome_at, n.customer_told_at
         FROM ticket_needs n JOIN tickets t ON t.id = n.ticket_id
         LEFT JOIN customers cu ON cu.id = t.customer_id
         LEFT JOIN groups g ON g.id = n.department_id
         WHERE n.submitted_at >= $1 AND n.submitted_at < $2 ORDER BY n.submitted_at, n.ticket_id LIMIT $3",
        args![from, until, limit],
    )?
    .iter()
    .map(|r| {
        Ok(NeedListRow {
            ticket_id: r.get(0)?,
            number: r.get(1)?,
            subject: r.get(2)?,
            customer_name: r.get(3)?,
            category: r.get(4)?,
            department_name: r.get(5)?,
            status: status(&r.get::<String>(6)?)?,
            planned_version: r.get(7)?,
            planned_date: r.get(8)?,
            decline_reason: r.get(9)?,
            submitted_at: r.get(10)?,
            outcome_at: r.get(11)?,
            customer_told_at: r.get(12)?,
        })
    })
    .collect()
}
