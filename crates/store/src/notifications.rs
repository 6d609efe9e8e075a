//! In-app notifications (SPEC T2): per user, unread until read. Rows hold
//! codes (kind, clock), never prose; pages and the API render the text in
//! the reader's language.

use jiff::Timestamp;
use serde::Serialize;

use crate::sql::{Conn, Row};
use crate::{Result, args};

#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    pub id: i64,
    pub user_id: i64,
    /// `sla_warning` or `sla_breach`.
    pub kind: String,
    pub ticket_id: Option<i64>,
    pub ticket_number: Option<String>,
    pub ticket_subject: Option<String>,
    /// The SLA clock's code.
    pub clock: String,
    pub due_at: Timestamp,
    pub created_at: Timestamp,
    pub read_at: Option<Timestamp>,
}

const COLS: &str =
    "n.id, n.user_id, n.kind, n.ticket_id, t.number, t.subject, n.clock, n.due_at, n.created_at, n.read_at
    FROM notifications n LEFT JOIN tickets t ON t.id = n.ticket_id";

fn row(r: &Row) -> Result<Notification> {
    Ok(Notification {
        id: r.get(0)?,
        user_id: r.get(1)?,
        kind: r.get(2)?,
        ticket_id: r.get(3)?,
        ticket_number: r.get(4)?,
        ticket_subject: r.get(5)?,
        clock: r.get(6)?,
        due_at: r.get(7)?,
        created_at: r.get(8)?,
        read_at: r.get(9)?,
    })
}

/// Notifies `user_id` of a ticket's SLA event once: the same user, ticket,
/// event, clock and deadline again is ignored. True when a row was added.
pub fn notify_sla(
    c: &mut Conn,
    user_id: i64,
    kind: &str,
    ticket_id: i64,
    clock: &str,
    due_at: Timestamp,
    now: Timestamp,
) -> Result<bool> {
    let n = c.execute(
        "INSERT INTO notifications (user_id, kind, ticket_id, clock, due_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (user_id, ticket_id, kind, clock, due_at) DO NOTHING",
        args![user_id, kind, ticket_id, clock, due_at, now],
    )?;
    Ok(n > 0)
}

/// The user's notifications, newest first, after the keyset cursor `before`
/// (an id); only the unread ones when `unread_only`.
pub fn list(
    c: &mut Conn,
    user_id: i64,
    unread_only: bool,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Notification>> {
    let unread = if unread_only { " AND n.read_at IS NULL" } else { "" };
    c.query(
        &format!("SELECT {COLS} WHERE n.user_id = $1{unread} AND n.id < $2 ORDER BY n.id DESC LIMIT $3"),
        args![user_id, before.unwrap_or(i64::MAX), limit],
    )?
    .iter()
    .map(row)
    .collect()
}

pub fn count_unread(c: &mut Conn, user_id: i64) -> Result<i64> {
    c.scalar("SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL", args![user_id])
}

/// Marks one of the user's notifications read; false when the user has no
/// such notification.
pub fn mark_read(c: &mut Conn, user_id: i64, id: i64, now: Timestamp) -> Result<bool> {
    let found: Option<i64> = c
        .query_opt("SELECT id FROM notifications WHERE id = $1 AND user_id = $2", args![id, user_id])?
        .map(|r| r.get(0))
        .transpose()?;
    if found.is_none() {
        return Ok(false);
    }
    c.execute(
        "UPDATE notifications SET read_at = $1 WHERE id = $2 AND user_id = $3 AND read_at IS NULL",
        args![now, id, user_id],
    )?;
    Ok(true)
}

/// Marks all the user's unread notifications read; returns how many.
pub fn mark_all_read(c: &mut Conn, user_id: i64, now: Timestamp) -> Result<u64> {
    c.execute("UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL", args![now, user_id])
}
