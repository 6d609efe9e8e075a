//! Communication records (SPEC C5) and action items (C6).

use guanxi_domain::communication::{ActionStatus, CommunicationDraft};
use jiff::Timestamp;
use serde::Serialize;

use crate::sql::{Conn, Row, Value};
use crate::{Result, StoreError, args};

/// Inserts a record and its action items; returns the record id and the
/// item ids in input order.
pub fn insert(
    c: &mut Conn,
    customer_id: i64,
    d: &CommunicationDraft,
    owner_id: i64,
    author_id: i64,
    now: Timestamp,
) -> Result<(i64, Vec<i64>)> {
    let id: i64 = c.insert_id(
        "INSERT INTO communications (customer_id, contact_id, occurred_at, channel, direction, purpose, summary, feedback,
            result, owner_id, satisfaction, notes, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        args![
            customer_id,
            d.contact_id,
            d.occurred_at,
            d.channel.code(),
            d.direction.code(),
            d.purpose.as_str(),
            d.summary.as_str(),
            d.feedback.clone(),
            d.result.clone(),
            owner_id,
            d.satisfaction,
            d.notes.clone(),
            author_id,
            now
        ],
    )?;
    let mut items = Vec::with_capacity(d.action_items.len());
    for item in &d.action_items {
        items.push(c.insert_id(
            "INSERT INTO action_items (customer_id, communication_id, content, owner_id, due_at, status, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            args![customer_id, id, item.content.as_str(), item.owner_id, item.due_at, ActionStatus::Open.code(), now],
        )?);
    }
    Ok((id, items))
}

#[derive(Debug, Clone, Serialize)]
pub struct Communication {
    pub id: i64,
    pub customer_id: i64,
    pub contact_id: Option<i64>,
    pub contact_name: Option<String>,
    pub occurred_at: Timestamp,
    pub channel: String,
    pub direction: String,
    pub purpose: String,
    pub summary: String,
    pub feedback: Option<String>,
    pub result: Option<String>,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub satisfaction: Option<i64>,
    pub notes: Option<String>,
}

pub fn for_customer(c: &mut Conn, customer_id: i64, limit: i64) -> Result<Vec<Communication>> {
    c.query(
        "SELECT m.id, m.customer_id, m.contact_id, p.name, m.occurred_at, m.channel, m.direction, m.purpose, m.summary,
                m.feedback, m.result, m.owner_id, u.name, m.satisfaction, m.notes
         FROM communications m LEFT JOIN contacts p ON p.id = m.contact_id LEFT JOIN users u ON u.id = m.owner_id
         WHERE m.customer_id = $1 ORDER BY m.occurred_at DESC, m.id DESC LIMIT $2",
        args![customer_id, limit],
    )?
    .iter()
    .map(|r| {
        Ok(Communication {
            id: r.get(0)?,
            customer_id: r.get(1)?,
            contact_id: r.get(2)?,
            contact_name: r.get(3)?,
            occurred_at: r.get(4)?,
            channel: r.get(5)?,
            direction: r.get(6)?,
            purpose: r.get(7)?,
            summary: r.get(8)?,
            feedback: r.get(9)?,
            result: r.get(10)?,
            owner_id: r.get(11)?,
            owner_name: r.get(12)?,
            satisfaction: r.get(13)?,
            notes: r.get(14)?,
        })
    })
    .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionItem {
    pub id: i64,
    pub customer_id: i64,
    pub customer_code: String,
    pub customer_name: String,
    pub communication_id: Option<i64>,
    pub content: String,
    pub owner_id: i64,
    pub owner_name: Option<String>,
    pub due_at: Timestamp,
    pub status: ActionStatus,
    pub done_at: Option<Timestamp>,
}

const ITEM_COLS: &str = "a.id, a.customer_id, c.code, c.name, a.communication_id, a.content, a.owner_id, u.name, a.due_at,
    a.status, a.done_at FROM action_items a JOIN customers c ON c.id = a.customer_id LEFT JOIN users u ON u.id = a.owner_id";

fn item(r: &Row) -> Result<ActionItem> {
    let status: String = r.get(9)?;
    Ok(ActionItem {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        customer_code: r.get(2)?,
        customer_name: r.get(3)?,
        communication_id: r.get(4)?,
        content: r.get(5)?,
        owner_id: r.get(6)?,
        owner_name: r.get(7)?,
        due_at: r.get(8)?,
        status: ActionStatus::parse(&status)
            .map_err(|_| StoreError::Decode { column: 9, reason: format!("unknown status {status}") })?,
        done_at: r.get(10)?,
    })
}

pub fn get_item(c: &mut Conn, id: i64) -> Result<ActionItem> {
    item(&c.query_one(&format!("SELECT {ITEM_COLS} WHERE a.id = $1"), args![id])?)
}

/// Open and waiting items of an owner, soonest due first (overdue on top).
pub fn open_items_of(c: &mut Conn, owner_id: i64, limit: i64) -> Result<Vec<ActionItem>> {
    c.query(
        &format!(
            "SELECT {ITEM_COLS} WHERE a.owner_id = $1 AND a.status <> $2 ORDER BY a.due_at ASC, a.id ASC LIMIT $3"
        ),
        args![owner_id, ActionStatus::Done.code(), limit],
    )?
    .iter()
    .map(item)
    .collect()
}

/// How many of an owner's unfinished items are past due.
pub fn count_overdue(c: &mut Conn, owner_id: i64, now: Timestamp) -> Result<i64> {
    c.scalar(
        "SELECT COUNT(*) FROM action_items WHERE owner_id = $1 AND status <> $2 AND due_at < $3",
        args![owner_id, ActionStatus::Done.code(), now],
    )
}

pub fn for_customer_items(c: &mut Conn, customer_id: i64) -> Result<Vec<ActionItem>> {
    c.query(
        &format!("SELECT {ITEM_COLS} WHERE a.customer_id = $1 ORDER BY (a.status = $2), a.due_at ASC LIMIT 200"),
        args![customer_id, ActionStatus::Done.code()],
    )?
    .iter()
    .map(item)
    .collect()
}

pub fn set_status(c: &mut Conn, id: i64, status: ActionStatus, now: Timestamp) -> Result<()> {
    let done_at: Value = if status == ActionStatus::Done { now.into() } else { Value::Null };
    if c.execute("UPDATE action_items SET status = $2, done_at = $3 WHERE id = $1", args![id, status.code(), done_at])?
        == 0
    {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// A communication record of a bulk insert (the benchmark data set).
pub struct NewCommunication<'a> {
    pub customer_id: i64,
    pub occurred_at: Timestamp,
    pub channel: &'a str,
    pub direction: &'a str,
    pub purpose: &'a str,
    pub summary: String,
    pub result: Option<&'a str>,
    pub owner_id: Option<i64>,
    pub satisfaction: Option<i64>,
}

/// Inserts records in multi-row statements (no action items); returns
/// their ids in input order. The customers must exist.
pub fn insert_many(c: &mut Conn, items: &[NewCommunication<'_>], now: Timestamp) -> Result<Vec<i64>> {
    crate::customers::check_customers_exist(c, items.iter().map(|x| x.customer_id))?;
    let ids = crate::sql::reserve_ids(c, "communications", items.len())?;
    let mut v: Vec<Value> = Vec::with_capacity(items.len() * 11);
    for (m, id) in items.iter().zip(&ids) {
        v.extend([
            (*id).into(),
            m.customer_id.into(),
            m.occurred_at.into(),
            m.channel.into(),
            m.direction.into(),
            m.purpose.into(),
            m.summary.as_str().into(),
            m.result.into(),
            m.owner_id.into(),
            m.satisfaction.into(),
            now.into(),
        ]);
    }
    crate::sql::insert_rows(
        c,
        "INSERT INTO communications (id, customer_id, occurred_at, channel, direction, purpose, summary, result,
            owner_id, satisfaction, created_at) VALUES",
        11,
        v,
        "",
    )?;
    Ok(ids)
}
