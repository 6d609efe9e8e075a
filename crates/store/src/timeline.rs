//! The customer timeline (SPEC C7): one time-ordered stream per customer.
//! Every capability appends its events here, inside the transaction that
//! made the change, so the 360 view is one indexed query.

use jiff::Timestamp;
use serde::Serialize;

use crate::sql::{Conn, Value};
use crate::{Result, args};

/// What kind of thing happened; the 360 page filters by it.
pub mod kind {
    pub const CUSTOMER: &str = "customer";
    pub const CONTACT: &str = "contact";
    pub const ORDER: &str = "order";
    pub const COMMUNICATION: &str = "communication";
    pub const ACTION_ITEM: &str = "action_item";
    /// Changes of tier, activity or churn state (SPEC G7).
    pub const SEGMENT: &str = "segment";
    /// Maintenance tasks made and done (SPEC M).
    pub const MAINTENANCE: &str = "maintenance";
    /// Tickets: created, status changes, SLA warnings and breaches, escalations (SPEC T).
    pub const TICKET: &str = "ticket";
    pub const ALL: &[&str] = &[CUSTOMER, CONTACT, ORDER, COMMUNICATION, ACTION_ITEM, SEGMENT, MAINTENANCE, TICKET];
}

#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub customer_id: i64,
    pub at: Timestamp,
    pub kind: &'a str,
    pub ref_id: Option<i64>,
    pub title: String,
    pub body: Option<String>,
    pub actor_id: Option<i64>,
}

pub fn append(c: &mut Conn, e: &NewEntry<'_>) -> Result<()> {
    c.execute(
        "INSERT INTO timeline (customer_id, at, kind, ref_id, title, body, actor_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![e.customer_id, e.at, e.kind, e.ref_id, e.title.as_str(), e.body.clone(), e.actor_id],
    )?;
    Ok(())
}

/// Appends many entries with a few multi-row statements (imports, bulk loads).
pub fn append_many(c: &mut Conn, entries: &[NewEntry<'_>]) -> Result<()> {
    crate::customers::check_customers_exist(c, entries.iter().map(|e| e.customer_id))?;
    let mut v: Vec<crate::Value> = Vec::with_capacity(entries.len() * 7);
    for e in entries {
        v.extend([
            e.customer_id.into(),
            e.at.into(),
            e.kind.into(),
            e.ref_id.into(),
            e.title.as_str().into(),
            e.body.clone().into(),
            e.actor_id.into(),
        ]);
    }
    crate::sql::insert_rows(
        c,
        "INSERT INTO timeline (customer_id, at, kind, ref_id, title, body, actor_id) VALUES",
        7,
        v,
        "",
    )
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: i64,
    pub at: Timestamp,
    pub kind: String,
    pub ref_id: Option<i64>,
    pub title: String,
    pub body: Option<String>,
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
}

/// A page of the timeline, newest first. `before` is the (at, id) of the
/// last entry of the previous page: keyset paging stays fast on long histories.
pub fn page(
    c: &mut Conn,
    customer_id: i64,
    kinds: &[String],
    before: Option<(Timestamp, i64)>,
    limit: i64,
) -> Result<Vec<Entry>> {
    let mut params: Vec<Value> = vec![customer_id.into()];
    let mut conds = vec!["t.customer_id = $1".to_string()];
    if !kinds.is_empty() {
        let marks: Vec<String> = kinds
            .iter()
            .map(|k| {
                params.push(k.as_str().into());
                format!("${}", params.len())
            })
            .collect();
        conds.push(format!("t.kind IN ({})", marks.join(", ")));
    }
    if let Some((at, id)) = before {
        params.push(at.into());
        let a = params.len();
        params.push(id.into());
        conds.push(format!("(t.at < ${a} OR (t.at = ${a} AND t.id < ${}))", a + 1));
    }
    params.push(limit.clamp(1, 200).into());
    let sql = format!(
        "SELECT t.id, t.at, t.kind, t.ref_id, t.title, t.body, t.actor_id, u.name FROM timeline t
         LEFT JOIN users u ON u.id = t.actor_id WHERE {} ORDER BY t.at DESC, t.id DESC LIMIT ${}",
        conds.join(" AND "),
        params.len()
    );
    c.query(&sql, &params)?
        .iter()
        .map(|r| {
            Ok(Entry {
                id: r.get(0)?,
                at: r.get(1)?,
                kind: r.get(2)?,
                ref_id: r.get(3)?,
                title: r.get(4)?,
                body: r.get(5)?,
                actor_id: r.get(6)?,
                actor_name: r.get(7)?,
            })
        })
        .collect()
}
