//! Complaints (SPEC P1–P7): the complaint row on top of its ticket, the
//! similar complaints of a window (batch detection), the tracking table
//! (one indexed range by registration time, paged by keyset), the monthly
//! review's aggregates and the notifications recorded for the customer.

use guanxi_domain::complaint::compensation::Line;
use guanxi_domain::complaint::grading::Grading;
use guanxi_domain::complaint::workflow::State;
use guanxi_domain::complaint::{Deadlines, DemandType, ResponsibleParty, Urgency};
use guanxi_domain::ticket::Category;
use jiff::Timestamp;
use serde::Serialize;

use crate::sql::{Conn, Engine, Row, Value};
use crate::{Result, StoreError, args};

#[derive(Debug, Clone, Serialize)]
pub struct Complaint {
    pub id: i64,
    pub ticket_id: i64,
    pub ticket_number: String,
    pub number: String,
    pub customer_id: i64,
    pub customer_code: String,
    pub customer_name: String,
    pub subject: String,
    /// Empty in list rows.
    pub description: String,
    pub category: Category,
    pub demand_type: DemandType,
    pub state: State,
    pub urgency: Urgency,
    pub grading: Grading,
    pub urgency_override: Option<serde_json::Value>,
    pub signature: String,
    pub batch_id: Option<i64>,
    pub handler_id: Option<i64>,
    pub handler_name: Option<String>,
    pub department_id: Option<i64>,
    pub department_name: Option<String>,
    pub responsible_party: Option<ResponsibleParty>,
    pub root_cause: Option<String>,
    /// One piece of evidence a line.
    pub evidence: Option<String>,
    pub investigated_at: Option<Timestamp>,
    pub solution: Option<String>,
    pub rejection_reason: Option<String>,
    pub approved_by: Option<i64>,
    pub approved_at: Option<Timestamp>,
    pub agreed_at: Option<Timestamp>,
    pub promised_at: Option<Timestamp>,
    pub executed_at: Option<Timestamp>,
    pub notified_at: Option<Timestamp>,
    pub satisfaction: Option<i64>,
    pub feedback: Option<String>,
    pub close_reason: Option<String>,
    pub escalated_at: Option<Timestamp>,
    pub deadlines: Deadlines,
    pub next_due_at: Option<Timestamp>,
    pub overdue: bool,
    pub received_at: Timestamp,
    pub registered_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    /// The compensation lines of the solution (SPEC P4).
    pub compensation: Vec<Line>,
}

const COLS: &str = "p.id, p.ticket_id, t.number, p.number, p.customer_id, c.code, c.name, t.subject, {description},
    p.category, p.demand_type, p.state, p.urgency, p.grading, p.urgency_override, p.signature, p.batch_id,
    p.handler_id, u.name, p.department_id, g.name, p.responsible_party, p.root_cause, p.evidence, p.investigated_at,
    p.solution, p.rejection_reason, p.approved_by, p.approved_at, p.agreed_at, p.promised_at, p.executed_at,
    p.notified_at, p.satisfaction, p.feedback, p.close_reason, p.escalated_at, p.deadlines, p.next_due_at, p.overdue,
    p.received_at, p.registered_at, p.closed_at, p.updated_at, p.compensation
    FROM complaints p JOIN tickets t ON t.id = p.ticket_id JOIN customers c ON c.id = p.customer_id
    LEFT JOIN users u ON u.id = p.handler_id LEFT JOIN groups g ON g.id = p.department_id";

fn cols(full: bool) -> String {
    COLS.replace("{description}", if full { "t.description" } else { "''" })
}

fn decode<T>(
    column: usize,
    raw: &str,
    parse: impl Fn(&str) -> std::result::Result<T, guanxi_domain::Issue>,
) -> Result<T> {
    parse(raw).map_err(|_| StoreError::Decode { column, reason: format!("unknown value {raw:?}") })
}

fn json<T: serde::de::DeserializeOwned>(column: usize, raw: &str) -> Result<T> {
    serde_json::from_str(raw).map_err(|e| StoreError::Decode { column, reason: e.to_string() })
}

fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Other(e.to_string()))
}

fn complaint(r: &Row) -> Result<Complaint> {
    let text = |i: usize| r.get::<String>(i);
    let party: Option<String> = r.get(21)?;
    let over: Option<String> = r.get(14)?;
    let comp: Option<String> = r.get(44)?;
    Ok(Complaint {
        id: r.get(0)?,
        ticket_id: r.get(1)?,
        ticket_number: r.get(2)?,
        number: r.get(3)?,
        customer_id: r.get(4)?,
        customer_code: r.get(5)?,
        customer_name: r.get(6)?,
        subject: r.get(7)?,
        description: r.get(8)?,
        category: decode(9, &text(9)?, Category::parse)?,
        demand_type: decode(10, &text(10)?, DemandType::parse)?,
        state: decode(11, &text(11)?, State::parse)?,
        urgency: decode(12, &text(12)?, Urgency::parse)?,
        grading: json(13, &text(13)?)?,
        urgency_override: over.as_deref().map(|o| json(14, o)).transpose()?,
        signature: r.get(15)?,
        batch_id: r.get(16)?,
        handler_id: r.get(17)?,
        handler_name: r.get(18)?,
        department_id: r.get(19)?,
        department_name: r.get(20)?,
        responsible_party: party.as_deref().map(|p| decode(21, p, ResponsibleParty::parse)).transpose()?,
        root_cause: r.get(22)?,
        evidence: r.get(23)?,
        investigated_at: r.get(24)?,
        solution: r.get(25)?,
        rejection_reason: r.get(26)?,
        approved_by: r.get(27)?,
        approved_at: r.get(28)?,
        agreed_at: r.get(29)?,
        promised_at: r.get(30)?,
        executed_at: r.get(31)?,
        notified_at: r.get(32)?,
        satisfaction: r.get(33)?,
        feedback: r.get(34)?,
        close_reason: r.get(35)?,
        escalated_at: r.get(36)?,
        deadlines: json(37, &text(37)?)?,
        next_due_at: r.get(38)?,
        overdue: r.get(39)?,
        received_at: r.get(40)?,
        registered_at: r.get(41)?,
        closed_at: r.get(42)?,
        updated_at: r.get(43)?,
        compensation: comp.as_deref().map(|j| json(44, j)).transpose()?.unwrap_or_default(),
    })
}

/// A complaint to insert with its ticket.
pub struct NewComplaint<'a> {
    pub ticket_id: i64,
    pub number: &'a str,
    pub customer_id: i64,
    pub category: Category,
    pub demand_type: DemandType,
    pub urgency: Urgency,
    pub grading: &'a Grading,
    pub signature: &'a str,
    pub batch_id: Option<i64>,
    pub handler_id: Option<i64>,
    pub deadlines: &'a Deadlines,
    pub received_at: Timestamp,
    pub now: Timestamp,
}

pub fn insert(c: &mut Conn, p: &NewComplaint<'_>) -> Result<i64> {
    c.insert_id(
        "INSERT INTO complaints (ticket_id, number, customer_id, category, demand_type, state, urgency, grading,
            signature, batch_id, handler_id, deadlines, next_due_at, overdue, received_at, registered_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'registered', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)",
        args![
            p.ticket_id,
            p.number,
            p.customer_id,
            p.category.code(),
            p.demand_type.code(),
            p.urgency.code(),
            to_json(p.grading)?,
            p.signature,
            p.batch_id,
            p.handler_id,
            to_json(p.deadlines)?,
            p.deadlines.next_due(),
            p.deadlines.any_late(),
            p.received_at,
            p.now
        ],
    )
}

pub fn get(c: &mut Conn, id: i64) -> Result<Complaint> {
    c.query_opt(&format!("SELECT {} WHERE p.id = $1", cols(true)), args![id])?
        .as_ref()
        .map(complaint)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// The complaint locked for a change (PostgreSQL; SQLite has one writer).
pub fn get_for_update(c: &mut Conn, id: i64) -> Result<Complaint> {
    let lock = if c.engine() == Engine::Postgres { " FOR UPDATE OF p" } else { "" };
    c.query_opt(&format!("SELECT {} WHERE p.id = $1{lock}", cols(true)), args![id])?
        .as_ref()
        .map(complaint)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// The complaint of a ticket, if it is one.
pub fn of_ticket(c: &mut Conn, ticket_id: i64) -> Result<Option<(i64, String)>> {
    c.query_opt("SELECT id, number FROM complaints WHERE ticket_id = $1", args![ticket_id])?
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .transpose()
}

pub fn save(c: &mut Conn, p: &Complaint) -> Result<()> {
    let party = p.responsible_party.map(|r| r.code());
    let over = p.urgency_override.as_ref().map(to_json).transpose()?;
    let comp = if p.compensation.is_empty() { None } else { Some(to_json(&p.compensation)?) };
    c.execute(
        "UPDATE complaints SET state = $2, urgency = $3, urgency_override = $4, batch_id = $5, handler_id = $6,
            department_id = $7, responsible_party = $8, root_cause = $9, evidence = $10, investigated_at = $11,
            solution = $12, rejection_reason = $13, approved_by = $14, approved_at = $15, agreed_at = $16,
            promised_at = $17, executed_at = $18, notified_at = $19, satisfaction = $20, feedback = $21,
            close_reason = $22, escalated_at = $23, deadlines = $24, next_due_at = $25, overdue = $26,
            closed_at = $27, updated_at = $28, grading = $29, compensation = $30
         WHERE id = $1",
        args![
            p.id,
            p.state.code(),
            p.urgency.code(),
            over,
            p.batch_id,
            p.handler_id,
            p.department_id,
            party,
            p.root_cause.clone(),
            p.evidence.clone(),
            p.investigated_at,
            p.solution.clone(),
            p.rejection_reason.clone(),
            p.approved_by,
            p.approved_at,
            p.agreed_at,
            p.promised_at,
            p.executed_at,
            p.notified_at,
            p.satisfaction,
            p.feedback.clone(),
            p.close_reason.clone(),
            p.escalated_at,
            to_json(&p.deadlines)?,
            p.deadlines.next_due(),
            p.deadlines.any_late(),
            p.closed_at,
            p.updated_at,
            to_json(&p.grading)?,
            comp
        ],
    )?;
    Ok(())
}

/// A recent complaint of a category, for batch detection.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: i64,
    pub customer_id: i64,
    /// Its content words joined by spaces, as stored.
    pub signature: String,
    pub batch_id: Option<i64>,
}

/// How many recent complaints of a category [`candidates`] reads.
pub const BATCH_CANDIDATES: i64 = 500;

/// The complaints of a category registered since `since` (at most
/// [`BATCH_CANDIDATES`], newest first). The limit is in the SQL text: SQLite
/// plans with a bound `LIMIT` and would compile the statement again on
/// every run.
pub fn candidates(c: &mut Conn, category: Category, since: Timestamp) -> Result<Vec<Candidate>> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT id, customer_id, signature, batch_id FROM complaints
             WHERE category = $1 AND registered_at >= $2 ORDER BY registered_at DESC, id DESC LIMIT {BATCH_CANDIDATES}"
        )
    });
    c.query(&SQL, args![category.code(), since])?
        .iter()
        .map(|r| Ok(Candidate { id: r.get(0)?, customer_id: r.get(1)?, signature: r.get(2)?, batch_id: r.get(3)? }))
        .collect()
}

/// Links complaints to a batch.
pub fn set_batch(c: &mut Conn, ids: &[i64], batch_id: i64, now: Timestamp) -> Result<()> {
    for chunk in ids.chunks(200) {
        let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
        let mut v: Vec<Value> = vec![batch_id.into(), now.into()];
        v.extend(chunk.iter().map(|i| Value::from(*i)));
        c.execute(
            &format!("UPDATE complaints SET batch_id = $1, updated_at = $2 WHERE id IN ({})", marks.join(", ")),
            &v,
        )?;
    }
    Ok(())
}

/// The numbers of a batch's complaints.
pub fn batch_members(c: &mut Conn, batch_id: i64, limit: i64) -> Result<Vec<(i64, String, String)>> {
    c.query(
        "SELECT p.id, p.number, cu.name FROM complaints p JOIN customers cu ON cu.id = p.customer_id
         WHERE p.batch_id = $1 ORDER BY p.id LIMIT $2",
        args![batch_id, limit],
    )?
    .iter()
    .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    .collect()
}

/// What the tracking table lists.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub state: Option<State>,
    pub urgency: Option<Urgency>,
    pub category: Option<Category>,
    pub from: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub archived: Option<bool>,
    /// The cursor of the previous page's last row: (registered_at ms, id).
    pub before: Option<(i64, i64)>,
    pub limit: i64,
    /// Only what this user may see — (user id, group id) — as
    /// `can_see_complaint` decides: handled by them, their department's,
    /// their ticket or their group's, or escalated to them. `None`: all.
    pub visible_to: Option<(i64, Option<i64>)>,
}

/// A page of the tracking table, the newest first.
pub fn list(c: &mut Conn, q: &ListQuery) -> Result<Vec<Complaint>> {
    let mut sql = format!("SELECT {} WHERE 1 = 1", cols(false));
    let mut v: Vec<Value> = Vec::new();
    let mut arg = |sql: &mut String, clause: &str, val: Value| {
        v.push(val);
        sql.push_str(&clause.replace('?', &format!("${}", v.len())));
    };
    if let Some(s) = q.state {
        arg(&mut sql, " AND p.state = ?", s.code().into());
    }
    if let Some(u) = q.urgency {
        arg(&mut sql, " AND p.urgency = ?", u.code().into());
    }
    if let Some(k) = q.category {
        arg(&mut sql, " AND p.category = ?", k.code().into());
    }
    match q.archived {
        Some(true) => sql.push_str(" AND p.state = 'closed'"),
        Some(false) => sql.push_str(" AND p.state <> 'closed'"),
        None => {}
    }
    if let Some(f) = q.from {
        arg(&mut sql, " AND p.registered_at >= ?", f.into());
    }
    if let Some(u) = q.until {
        arg(&mut sql, " AND p.registered_at < ?", u.into());
    }
    if let Some((user, group)) = q.visible_to {
        arg(&mut sql, " AND (p.handler_id = ?", user.into());
        arg(&mut sql, " OR t.assignee_id = ?", user.into());
        if let Some(g) = group {
            arg(&mut sql, " OR p.department_id = ?", g.into());
            arg(&mut sql, " OR t.group_id = ?", g.into());
        }
        arg(
            &mut sql,
            " OR EXISTS (SELECT 1 FROM ticket_participants tp WHERE tp.ticket_id = p.ticket_id AND tp.user_id = ?))",
            user.into(),
        );
    }
    if let Some((at, id)) = q.before {
        arg(&mut sql, " AND (p.registered_at < ?", at.into());
        arg(&mut sql, " OR (p.registered_at = ?", at.into());
        arg(&mut sql, " AND p.id < ?))", id.into());
    }
    arg(&mut sql, " ORDER BY p.registered_at DESC, p.id DESC LIMIT ?", q.limit.into());
    c.query(&sql, &v)?.iter().map(complaint).collect()
}

/// The month's figures of the review (P7).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReviewFigures {
    pub total: i64,
    pub by_category: Vec<(String, i64)>,
    pub by_demand: Vec<(String, i64)>,
    pub overdue: i64,
    pub closed: i64,
    /// Milliseconds from registration to closing, summed over the closed ones.
    pub handling_ms_sum: i64,
    pub batches: i64,
    /// Customers with more than one complaint: (id, name, count), most first.
    pub repeat_customers: Vec<(i64, String, i64)>,
    /// The most frequent subjects: (category, subject, count), most first.
    pub top_subjects: Vec<(String, String, i64)>,
}

/// The figures of complaints registered in `[from, until)`.
pub fn review(c: &mut Conn, from: Timestamp, until: Timestamp) -> Result<ReviewFigures> {
    let mut f = ReviewFigures::default();
    let range = args![from, until];
    let pairs =
        |rows: Vec<Row>| -> Result<Vec<(String, i64)>> { rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?))).collect() };
    f.by_category = pairs(c.query(
        "SELECT category, COUNT(*) FROM complaints WHERE registered_at >= $1 AND registered_at < $2 GROUP BY category",
        range,
    )?)?;
    f.by_demand = pairs(c.query(
        "SELECT demand_type, COUNT(*) FROM complaints WHERE registered_at >= $1 AND registered_at < $2 GROUP BY demand_type",
        range,
    )?)?;
    let r = c.query_one(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN overdue THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN closed_at IS NOT NULL THEN 1 ELSE 0 END), 0),
                CAST(COALESCE(SUM(CASE WHEN closed_at IS NOT NULL THEN closed_at - registered_at ELSE 0 END), 0) AS BIGINT),
                COUNT(DISTINCT batch_id)
         FROM complaints WHERE registered_at >= $1 AND registered_at < $2",
        range,
    )?;
    f.total = r.get(0)?;
    f.overdue = r.get(1)?;
    f.closed = r.get(2)?;
    f.handling_ms_sum = r.get(3)?;
    f.batches = r.get(4)?;
    f.repeat_customers = c
        .query(
            "SELECT p.customer_id, cu.name, COUNT(*) AS n FROM complaints p JOIN customers cu ON cu.id = p.customer_id
             WHERE p.registered_at >= $1 AND p.registered_at < $2
             GROUP BY p.customer_id, cu.name HAVING COUNT(*) > 1 ORDER BY n DESC, p.customer_id LIMIT 20",
            range,
        )?
        .iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .collect::<Result<_>>()?;
    f.top_subjects = c
        .query(
            "SELECT p.category, t.subject, COUNT(*) AS n FROM complaints p JOIN tickets t ON t.id = p.ticket_id
             WHERE p.registered_at >= $1 AND p.registered_at < $2
             GROUP BY p.category, t.subject ORDER BY n DESC, p.category, t.subject LIMIT 100",
            range,
        )?
        .iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .collect::<Result<_>>()?;
    Ok(f)
}

/// A message recorded for the customer (sent by outreach once it lands).
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    pub id: i64,
    pub at: Timestamp,
    pub actor_id: Option<i64>,
    pub purpose: String,
    pub body: String,
}

pub fn add_notification(
    c: &mut Conn,
    complaint_id: i64,
    at: Timestamp,
    actor: Option<i64>,
    purpose: &str,
    body: &str,
) -> Result<i64> {
    c.insert_id(
        "INSERT INTO complaint_notifications (complaint_id, at, actor_id, purpose, body) VALUES ($1, $2, $3, $4, $5)",
        args![complaint_id, at, actor, purpose, body],
    )
}

pub fn notifications(c: &mut Conn, complaint_id: i64, limit: i64) -> Result<Vec<Notification>> {
    c.query(
        "SELECT id, at, actor_id, purpose, body FROM complaint_notifications WHERE complaint_id = $1 ORDER BY id LIMIT $2",
        args![complaint_id, limit],
    )?
    .iter()
    .map(|r| Ok(Notification { id: r.get(0)?, at: r.get(1)?, actor_id: r.get(2)?, purpose: r.get(3)?, body: r.get(4)? }))
    .collect()
}

/// Inserts complaints of existing tickets in multi-row statements (the
/// benchmark data set): each with its state and, if closed, when.
pub fn insert_many(c: &mut Conn, items: &[(NewComplaint<'_>, State, Option<Timestamp>)]) -> Result<()> {
    let mut v: Vec<Value> = Vec::with_capacity(items.len() * 18);
    for (p, state, closed_at) in items {
        v.extend([
            p.ticket_id.into(),
            p.number.into(),
            p.customer_id.into(),
            p.category.code().into(),
            p.demand_type.code().into(),
            state.code().into(),
            p.urgency.code().into(),
            to_json(p.grading)?.into(),
            p.signature.into(),
            p.batch_id.into(),
            p.handler_id.into(),
            to_json(p.deadlines)?.into(),
            p.deadlines.next_due().into(),
            p.deadlines.any_late().into(),
            p.received_at.into(),
            p.now.into(),
            p.now.into(),
            (*closed_at).into(),
        ]);
    }
    crate::sql::insert_rows(
        c,
        "INSERT INTO complaints (ticket_id, number, customer_id, category, demand_type, state, urgency, grading,
            signature, batch_id, handler_id, deadlines, next_due_at, overdue, received_at, registered_at, updated_at,
            closed_at) VALUES",
        18,
        v,
        "",
    )
}
