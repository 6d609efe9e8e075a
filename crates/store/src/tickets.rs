//! Tickets (SPEC T1–T6): the ticket rows with their clocks, routing reason
//! and escalation (JSON the domain defines), their history, replies and
//! notes, the people escalated to, and the queues — every queue is one
//! indexed range ordered by the nearest SLA deadline, paged by keyset.

use guanxi_domain::customer::Channel;
use guanxi_domain::ticket::escalation::Escalation;
use guanxi_domain::ticket::routing::RoutingReason;
use guanxi_domain::ticket::sla::SlaClocks;
use guanxi_domain::ticket::{Category, Priority, Status, TicketType};
use jiff::Timestamp;
use serde::Serialize;

use crate::sql::{Conn, Engine, Row, Value};
use crate::{Result, StoreError, args};

/// The `sla_due_at` of a ticket without a running clock: after every real
/// deadline, so that one ascending index orders every queue on both engines.
pub const NEVER_MS: i64 = 253_370_764_800_000;

pub fn due_value(due: Option<Timestamp>) -> i64 {
    due.map_or(NEVER_MS, Timestamp::as_millisecond)
}

fn due_from(ms: i64) -> Option<Timestamp> {
    if ms >= NEVER_MS { None } else { Timestamp::from_millisecond(ms).ok() }
}

#[derive(Debug, Clone, Serialize)]
pub struct Ticket {
    pub id: i64,
    pub number: String,
    pub ticket_type: TicketType,
    pub channel: Channel,
    pub category: Category,
    pub priority: Priority,
    pub status: Status,
    pub customer_id: i64,
    pub customer_code: String,
    pub customer_name: String,
    pub subject: String,
    /// Empty in queue rows.
    pub description: String,
    pub group_id: Option<i64>,
    pub group_name: Option<String>,
    pub assignee_id: Option<i64>,
    pub assignee_name: Option<String>,
    pub schedule_code: String,
    pub routing: Option<RoutingReason>,
    pub repeat_of: Option<i64>,
    pub sla: SlaClocks,
    /// The nearest deadline of a running clock.
    pub sla_due_at: Option<Timestamp>,
    pub sla_breached: bool,
    pub escalation: Option<Escalation>,
    pub escalation_level: i64,
    pub external_id: Option<String>,
    pub created_by: Option<i64>,
    pub received_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub first_response_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
}

const COLS: &str =
    "t.id, t.number, t.ticket_type, t.channel, t.category, t.priority, t.status, t.customer_id, c.code, c.name,
    t.subject, {description}, t.group_id, g.name, t.assignee_id, u.name, t.schedule_code, t.routing, t.repeat_of, t.sla,
    t.sla_due_at, t.sla_breached, t.escalation, t.escalation_level, t.external_id, t.created_by, t.received_at,
    t.created_at, t.updated_at, t.first_response_at, t.resolved_at, t.closed_at
    FROM tickets t JOIN customers c ON c.id = t.customer_id LEFT JOIN groups g ON g.id = t.group_id
    LEFT JOIN users u ON u.id = t.assignee_id";

/// All columns, or (`full` false, for queues) without the description,
/// the routing reason and the escalation, which queue rows never show.
/// Each text is built once: a queue request asks for it every time.
fn cols(full: bool) -> &'static str {
    static FULL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| COLS.replace("{description}", "t.description"));
    static QUEUE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        COLS.replace("{description}", "''").replace("t.routing,", "'null',").replace("t.escalation,", "NULL,")
    });
    if full { FULL.as_str() } else { QUEUE.as_str() }
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

/// Decodes a row of [`cols`], moving its texts out of it.
fn ticket(mut r: Row) -> Result<Ticket> {
    let escalation: Option<String> = r.take(22)?;
    let routing: String = r.take(17)?;
    let sla: String = r.take(19)?;
    let ticket_type: String = r.take(2)?;
    let channel: String = r.take(3)?;
    let category: String = r.take(4)?;
    let priority: String = r.take(5)?;
    let status: String = r.take(6)?;
    Ok(Ticket {
        id: r.get(0)?,
        number: r.take(1)?,
        ticket_type: decode(2, &ticket_type, TicketType::parse)?,
        channel: decode(3, &channel, Channel::parse)?,
        category: decode(4, &category, Category::parse)?,
        priority: decode(5, &priority, Priority::parse)?,
        status: decode(6, &status, Status::parse)?,
        customer_id: r.get(7)?,
        customer_code: r.take(8)?,
        customer_name: r.take(9)?,
        subject: r.take(10)?,
        description: r.take(11)?,
        group_id: r.get(12)?,
        group_name: r.take(13)?,
        assignee_id: r.get(14)?,
        assignee_name: r.take(15)?,
        schedule_code: r.take(16)?,
        routing: json::<Option<RoutingReason>>(17, &routing)?,
        repeat_of: r.get(18)?,
        sla: json(19, &sla)?,
        sla_due_at: due_from(r.get(20)?),
        sla_breached: r.get(21)?,
        escalation: escalation.as_deref().map(|e| json(22, e)).transpose()?,
        escalation_level: r.get(23)?,
        external_id: r.take(24)?,
        created_by: r.get(25)?,
        received_at: r.get(26)?,
        created_at: r.get(27)?,
        updated_at: r.get(28)?,
        first_response_at: r.get(29)?,
        resolved_at: r.get(30)?,
        closed_at: r.get(31)?,
    })
}

fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Other(e.to_string()))
}

/// A ticket to insert; its number, clocks and routing are decided by the caller.
#[derive(Debug, Clone)]
pub struct NewTicket<'a> {
    pub number: &'a str,
    pub ticket_type: TicketType,
    pub channel: Channel,
    pub category: Category,
    pub priority: Priority,
    pub status: Status,
    pub customer_id: i64,
    pub subject: &'a str,
    pub description: &'a str,
    pub group_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub schedule_code: &'a str,
    pub routing: &'a RoutingReason,
    pub repeat_of: Option<i64>,
    pub sla: &'a SlaClocks,
    pub external_id: Option<&'a str>,
    pub created_by: Option<i64>,
    pub received_at: Timestamp,
    pub now: Timestamp,
}

const INSERT_HEAD: &str =
    "INSERT INTO tickets (number, ticket_type, channel, category, priority, status, active, customer_id,
    subject, description, group_id, assignee_id, schedule_code, routing, repeat_of, sla, sla_due_at, sla_breached,
    external_id, created_by, received_at, created_at, updated_at) VALUES";

fn insert_values(t: &NewTicket<'_>) -> Result<Vec<Value>> {
    Ok(vec![
        t.number.into(),
        t.ticket_type.code().into(),
        t.channel.code().into(),
        t.category.code().into(),
        t.priority.code().into(),
        t.status.code().into(),
        t.status.is_active().into(),
        t.customer_id.into(),
        t.subject.into(),
        t.description.into(),
        t.group_id.into(),
        t.assignee_id.into(),
        t.schedule_code.into(),
        to_json(t.routing)?.into(),
        t.repeat_of.into(),
        to_json(t.sla)?.into(),
        due_value(t.sla.earliest_due()).into(),
        t.sla.any_breached().into(),
        t.external_id.into(),
        t.created_by.into(),
        t.received_at.into(),
        t.now.into(),
        t.now.into(),
    ])
}

pub fn insert(c: &mut Conn, t: &NewTicket<'_>) -> Result<i64> {
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("{INSERT_HEAD} {}", crate::sql::values_list(23, 1)));
    match c.insert_id(&SQL, &insert_values(t)?) {
        Err(e) if e.is_unique_violation() && t.external_id.is_some() => {
            Err(guanxi_domain::ValidationErrors::single("external_id", guanxi_domain::Issue::Taken).into())
        }
        other => other,
    }
}

/// Inserts many tickets (the benchmark data set); ids come back in order.
pub fn insert_many(c: &mut Conn, items: &[NewTicket<'_>]) -> Result<Vec<i64>> {
    let ids = crate::sql::reserve_ids(c, "tickets", items.len())?;
    let mut v = Vec::with_capacity(items.len() * 24);
    for (t, id) in items.iter().zip(&ids) {
        v.push(Value::I64(*id));
        v.extend(insert_values(t)?);
    }
    crate::sql::insert_rows(c, &INSERT_HEAD.replace("(number,", "(id, number,"), 24, v, "")?;
    Ok(ids)
}

pub fn get(c: &mut Conn, id: i64) -> Result<Ticket> {
    ticket(c.query_one(&format!("SELECT {} WHERE t.id = $1", cols(true)), args![id])?)
}

/// The ticket, locked for the rest of the write transaction on PostgreSQL
/// (two instances changing one ticket at once queue up); SQLite's single
/// writer needs no lock.
pub fn get_for_update(c: &mut Conn, id: i64) -> Result<Ticket> {
    let lock = if c.engine() == Engine::Postgres { " FOR UPDATE OF t" } else { "" };
    ticket(c.query_one(&format!("SELECT {} WHERE t.id = $1{lock}", cols(true)), args![id])?)
}

/// A ticket's number.
pub fn number_of(c: &mut Conn, id: i64) -> Result<Option<String>> {
    c.query_opt("SELECT number FROM tickets WHERE id = $1", args![id])?.map(|r| r.get(0)).transpose()
}

/// The highest ticket id (0 when there is none).
pub fn max_id(c: &mut Conn) -> Result<i64> {
    c.scalar("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM tickets", &[])
}

pub fn find_by_number(c: &mut Conn, number: &str) -> Result<Option<i64>> {
    c.query_opt("SELECT id FROM tickets WHERE number = $1", args![number])?.map(|r| r.get(0)).transpose()
}

/// Writes back what actions change.
pub fn save(c: &mut Conn, t: &Ticket) -> Result<()> {
    c.execute(
        "UPDATE tickets SET status = $2, active = $3, priority = $4, group_id = $5, assignee_id = $6, sla = $7,
             sla_due_at = $8, sla_breached = $9, escalation = $10, escalation_level = $11, updated_at = $12,
             first_response_at = $13, resolved_at = $14, closed_at = $15, routing = $16
         WHERE id = $1",
        args![
            t.id,
            t.status.code(),
            t.status.is_active(),
            t.priority.code(),
            t.group_id,
            t.assignee_id,
            to_json(&t.sla)?,
            due_value(t.sla.earliest_due()),
            t.sla.any_breached(),
            t.escalation.as_ref().map(to_json).transpose()?,
            t.escalation.as_ref().map_or(0, Escalation::level),
            t.updated_at,
            t.first_response_at,
            t.resolved_at,
            t.closed_at,
            to_json(&t.routing)?,
        ],
    )?;
    Ok(())
}

/// The latest ticket of the customer in the category received since `since` (T6).
pub fn find_repeat(c: &mut Conn, customer_id: i64, category: Category, since: Timestamp) -> Result<Option<i64>> {
    c.query_opt(
        // Walks the customer's tickets of the window, newest first
        // (tickets_customer_recent), and checks each one's category.
        "SELECT id FROM tickets
         WHERE customer_id = $1 AND received_at >= $3 AND category = $2
         ORDER BY received_at DESC, id DESC LIMIT 1",
        args![customer_id, category.code(), since],
    )?
    .map(|r| r.get(0))
    .transpose()
}

/// Repeat inquiries counted since an instant (KPI R1).
pub fn count_repeats(c: &mut Conn, since: Timestamp) -> Result<i64> {
    c.scalar("SELECT COUNT(*) FROM tickets WHERE repeat_of IS NOT NULL AND received_at >= $1", args![since])
}

// ---- History and messages ----

#[derive(Debug, Clone, Serialize)]
pub struct TicketEvent {
    pub id: i64,
    pub at: Timestamp,
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    pub kind: String,
    /// JSON.
    pub detail: String,
}

pub fn add_event(
    c: &mut Conn,
    ticket_id: i64,
    at: Timestamp,
    actor_id: Option<i64>,
    kind: &str,
    detail: &str,
) -> Result<()> {
    c.execute(
        "INSERT INTO ticket_events (ticket_id, at, actor_id, kind, detail) VALUES ($1, $2, $3, $4, $5)",
        args![ticket_id, at, actor_id, kind, detail],
    )?;
    Ok(())
}

/// Many events at once (bulk loads): (ticket, at, actor, kind, detail).
pub fn add_events(c: &mut Conn, items: &[(i64, Timestamp, Option<i64>, &str, String)]) -> Result<()> {
    let mut v = Vec::with_capacity(items.len() * 5);
    for (t, at, actor, kind, detail) in items {
        v.extend([(*t).into(), (*at).into(), (*actor).into(), (*kind).into(), detail.as_str().into()]);
    }
    crate::sql::insert_rows(c, "INSERT INTO ticket_events (ticket_id, at, actor_id, kind, detail) VALUES", 5, v, "")
}

pub fn events(c: &mut Conn, ticket_id: i64, limit: i64) -> Result<Vec<TicketEvent>> {
    c.query(
        "SELECT e.id, e.at, e.actor_id, u.name, e.kind, e.detail FROM ticket_events e
         LEFT JOIN users u ON u.id = e.actor_id WHERE e.ticket_id = $1 ORDER BY e.id LIMIT $2",
        args![ticket_id, limit],
    )?
    .iter()
    .map(|r| {
        Ok(TicketEvent {
            id: r.get(0)?,
            at: r.get(1)?,
            actor_id: r.get(2)?,
            actor_name: r.get(3)?,
            kind: r.get(4)?,
            detail: r.get(5)?,
        })
    })
    .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct TicketMessage {
    pub id: i64,
    pub at: Timestamp,
    pub author_id: Option<i64>,
    pub author_name: Option<String>,
    /// `reply` (public), `note` (internal) or `customer`.
    pub kind: String,
    pub body: String,
}

pub fn add_message(
    c: &mut Conn,
    ticket_id: i64,
    at: Timestamp,
    author_id: Option<i64>,
    kind: &str,
    body: &str,
) -> Result<i64> {
    c.insert_id(
        "INSERT INTO ticket_messages (ticket_id, at, author_id, kind, body) VALUES ($1, $2, $3, $4, $5)",
        args![ticket_id, at, author_id, kind, body],
    )
}

/// Many messages at once (bulk loads): (ticket, at, author, kind, body).
pub fn add_messages(c: &mut Conn, items: &[(i64, Timestamp, Option<i64>, &str, &str)]) -> Result<()> {
    let mut v = Vec::with_capacity(items.len() * 5);
    for (t, at, author, kind, body) in items {
        v.extend([(*t).into(), (*at).into(), (*author).into(), (*kind).into(), (*body).into()]);
    }
    crate::sql::insert_rows(c, "INSERT INTO ticket_messages (ticket_id, at, author_id, kind, body) VALUES", 5, v, "")
}

pub fn messages(c: &mut Conn, ticket_id: i64, limit: i64) -> Result<Vec<TicketMessage>> {
    c.query(
        "SELECT m.id, m.at, m.author_id, u.name, m.kind, m.body FROM ticket_messages m
         LEFT JOIN users u ON u.id = m.author_id WHERE m.ticket_id = $1 ORDER BY m.id LIMIT $2",
        args![ticket_id, limit],
    )?
    .iter()
    .map(|r| {
        Ok(TicketMessage {
            id: r.get(0)?,
            at: r.get(1)?,
            author_id: r.get(2)?,
            author_name: r.get(3)?,
            kind: r.get(4)?,
            body: r.get(5)?,
        })
    })
    .collect()
}

// ---- Participants ----

pub fn add_participant(c: &mut Conn, ticket_id: i64, user_id: i64, at: Timestamp) -> Result<()> {
    c.execute(
        "INSERT INTO ticket_participants (ticket_id, user_id, added_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        args![ticket_id, user_id, at],
    )?;
    Ok(())
}

pub fn is_participant(c: &mut Conn, ticket_id: i64, user_id: i64) -> Result<bool> {
    Ok(c.query_opt(
        "SELECT 1 FROM ticket_participants WHERE ticket_id = $1 AND user_id = $2",
        args![ticket_id, user_id],
    )?
    .is_some())
}

// ---- Queues ----

/// Whose queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueOf {
    /// 我的工单: assigned to a user.
    Assignee(i64),
    /// A team's queue: the group's tickets.
    Group(i64),
    /// A group's tickets nobody has yet.
    Unassigned(i64),
    /// Escalated to a user (participants).
    Participant(i64),
    /// Every active ticket (supervisors, administrators).
    All,
}

#[derive(Debug, Clone)]
pub struct QueueQuery {
    pub of: QueueOf,
    pub status: Option<Status>,
    /// Only repeat inquiries (T6: the same customer and category within 7 days).
    pub repeat: bool,
    /// The (deadline, id) of the last row of the previous page.
    pub after: Option<(i64, i64)>,
    pub limit: i64,
}

/// A page of a queue: active tickets, the nearest deadline first.
pub fn queue(c: &mut Conn, q: &QueueQuery) -> Result<Vec<Ticket>> {
    let mut params: Vec<Value> = vec![true.into()];
    let mut conds = vec!["t.active = $1".to_string()];
    let push = |params: &mut Vec<Value>, v: Value| {
        params.push(v);
        format!("${}", params.len())
    };
    match q.of {
        QueueOf::Assignee(u) => conds.push(format!("t.assignee_id = {}", push(&mut params, u.into()))),
        QueueOf::Group(g) => conds.push(format!("t.group_id = {}", push(&mut params, g.into()))),
        QueueOf::Unassigned(g) => {
            conds.push(format!("t.group_id = {} AND t.assignee_id IS NULL", push(&mut params, g.into())))
        }
        QueueOf::Participant(u) => conds.push(format!(
            "t.id IN (SELECT ticket_id FROM ticket_participants WHERE user_id = {})",
            push(&mut params, u.into())
        )),
        QueueOf::All => {}
    }
    if let Some(s) = q.status {
        conds.push(format!("t.status = {}", push(&mut params, s.code().into())));
    }
    if q.repeat {
        conds.push("t.repeat_of IS NOT NULL".into());
    }
    if let Some((due, id)) = q.after {
        let d = push(&mut params, due.into());
        let i = push(&mut params, id.into());
        conds.push(format!("(t.sla_due_at > {d} OR (t.sla_due_at = {d} AND t.id > {i}))"));
    }
    // The limit is written into the text, not bound: SQLite (3.50) plans
    // with a bound LIMIT's value, so every new binding of it made the
    // statement compile again on each run (a tenth of a queue request).
    let limit = q.limit.clamp(1, 200);
    let sql = format!("SELECT {} WHERE {} ORDER BY t.sla_due_at, t.id LIMIT {limit}", cols(false), conds.join(" AND "));
    c.query(&sql, &params)?.into_iter().map(ticket).collect()
}

/// Counts of a queue by status (at most `cap` rows counted per status, so
/// that a huge backlog stays cheap to show).
pub fn queue_counts(c: &mut Conn, of: QueueOf, cap: i64) -> Result<Vec<(Status, i64)>> {
    let (cond, arg): (&str, Option<i64>) = match of {
        QueueOf::Assignee(u) => ("AND assignee_id = $4", Some(u)),
        QueueOf::Group(g) => ("AND group_id = $4", Some(g)),
        QueueOf::Unassigned(g) => ("AND group_id = $4 AND assignee_id IS NULL", Some(g)),
        QueueOf::Participant(u) => {
            ("AND id IN (SELECT ticket_id FROM ticket_participants WHERE user_id = $4)", Some(u))
        }
        QueueOf::All => ("", None),
    };
    let mut out = Vec::new();
    for s in Status::ALL.iter().filter(|s| s.is_active()) {
        let sql =
            format!("SELECT COUNT(*) FROM (SELECT 1 FROM tickets WHERE active = $1 AND status = $2 {cond} LIMIT $3) x");
        let mut params: Vec<Value> = vec![true.into(), s.code().into(), cap.into()];
        if let Some(a) = arg {
            params.push(a.into());
        }
        out.push((*s, c.scalar(&sql, &params)?));
    }
    Ok(out)
}

/// A page of a customer's tickets, newest first, after the (received
/// at in ms, id) of the previous page's last row: one indexed range.
pub fn of_customer(c: &mut Conn, customer_id: i64, before: Option<(i64, i64)>, limit: i64) -> Result<Vec<Ticket>> {
    // A literal limit, as in [`queue`].
    let limit = limit.clamp(1, 200);
    let order = "ORDER BY t.received_at DESC, t.id DESC";
    let rows = match before {
        Some((at, id)) => c.query(
            &format!(
                "SELECT {} WHERE t.customer_id = $1 AND (t.received_at < $2 OR (t.received_at = $2 AND t.id < $3))
                 {order} LIMIT {limit}",
                cols(false)
            ),
            args![customer_id, at, id],
        )?,
        None => c.query(
            &format!("SELECT {} WHERE t.customer_id = $1 {order} LIMIT {limit}", cols(false)),
            args![customer_id],
        )?,
    };
    rows.into_iter().map(ticket).collect()
}

// ---- The customer a ticket is for ----

/// What routing and the SLA need to know about the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerFacts {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub owner_id: Option<i64>,
    /// `high`, `potential` or `ordinary`, once segmentation has run.
    pub tier: Option<String>,
    /// Manual and rule tags.
    pub tags: Vec<String>,
}

pub fn customer_facts(c: &mut Conn, id: Option<i64>, code: Option<&str>) -> Result<Option<CustomerFacts>> {
    let base = "SELECT c.id, c.code, c.name, c.owner_id, s.tier, s.rule_tags FROM customers c
                LEFT JOIN customer_segments s ON s.customer_id = c.id";
    let row = match (id, code) {
        (Some(id), _) => c.query_opt(&format!("{base} WHERE c.id = $1"), args![id])?,
        (None, Some(code)) => c.query_opt(&format!("{base} WHERE c.code = $1"), args![code])?,
        (None, None) => None,
    };
    let Some(r) = row else { return Ok(None) };
    let id: i64 = r.get(0)?;
    let mut tags: Vec<String> = c
        .query("SELECT tag FROM customer_tags WHERE customer_id = $1", args![id])?
        .iter()
        .map(|t| t.get(0))
        .collect::<Result<_>>()?;
    let rule_tags: Option<String> = r.get(5)?;
    tags.extend(rule_tags.unwrap_or_default().split(',').filter(|t| !t.is_empty()).map(str::to_string));
    Ok(Some(CustomerFacts { id, code: r.get(1)?, name: r.get(2)?, owner_id: r.get(3)?, tier: r.get(4)?, tags }))
}

// ---- Attachments ----

/// A file on a ticket; its bytes are in the data directory under `sha256`.
#[derive(Debug, Clone, Serialize)]
pub struct TicketAttachment {
    pub id: i64,
    pub ticket_id: i64,
    /// The reply or note it came with.
    pub message_id: Option<i64>,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: Option<i64>,
    pub uploaded_by_name: Option<String>,
    pub uploaded_at: Timestamp,
}

/// An attachment to insert.
#[derive(Debug, Clone)]
pub struct NewAttachment<'a> {
    pub ticket_id: i64,
    pub message_id: Option<i64>,
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub uploaded_by: Option<i64>,
    pub uploaded_at: Timestamp,
}

pub fn add_attachment(c: &mut Conn, a: &NewAttachment<'_>) -> Result<i64> {
    c.insert_id(
        "INSERT INTO ticket_attachments (ticket_id, message_id, file_name, content_type, size_bytes, sha256,
             uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        args![
            a.ticket_id,
            a.message_id,
            a.file_name,
            a.content_type,
            a.size_bytes,
            a.sha256,
            a.uploaded_by,
            a.uploaded_at
        ],
    )
}

const ATTACHMENT_COLS: &str = "a.id, a.ticket_id, a.message_id, a.file_name, a.content_type, a.size_bytes, a.sha256,
    a.uploaded_by, u.name, a.uploaded_at FROM ticket_attachments a LEFT JOIN users u ON u.id = a.uploaded_by";

fn attachment(r: &Row) -> Result<TicketAttachment> {
    Ok(TicketAttachment {
        id: r.get(0)?,
        ticket_id: r.get(1)?,
        message_id: r.get(2)?,
        file_name: r.get(3)?,
        content_type: r.get(4)?,
        size_bytes: r.get(5)?,
        sha256: r.get(6)?,
        uploaded_by: r.get(7)?,
        uploaded_by_name: r.get(8)?,
        uploaded_at: r.get(9)?,
    })
}

/// A ticket's attachments in upload order (one indexed range).
pub fn attachments(c: &mut Conn, ticket_id: i64, limit: i64) -> Result<Vec<TicketAttachment>> {
    c.query(
        &format!("SELECT {ATTACHMENT_COLS} WHERE a.ticket_id = $1 ORDER BY a.id LIMIT $2"),
        args![ticket_id, limit],
    )?
    .iter()
    .map(attachment)
    .collect()
}

/// One attachment of a ticket (NotFound when it belongs to another).
pub fn attachment_of(c: &mut Conn, ticket_id: i64, id: i64) -> Result<TicketAttachment> {
    attachment(
        &c.query_one(&format!("SELECT {ATTACHMENT_COLS} WHERE a.id = $1 AND a.ticket_id = $2"), args![id, ticket_id])?,
    )
}

/// Whether any attachment row holds these bytes (a file written for a
/// refused upload may then be removed).
pub fn attachment_bytes_used(c: &mut Conn, sha256: &str) -> Result<bool> {
    Ok(c.query_opt("SELECT 1 FROM ticket_attachments WHERE sha256 = $1 LIMIT 1", args![sha256])?.is_some())
}

/// The content addresses of every file attached to a customer's tickets.
pub fn attachment_addresses_of_customer(c: &mut Conn, customer_id: i64) -> Result<Vec<String>> {
    c.query(
        "SELECT DISTINCT a.sha256 FROM ticket_attachments a JOIN tickets t ON t.id = a.ticket_id WHERE t.customer_id = $1",
        args![customer_id],
    )?
    .iter()
    .map(|r| r.get(0))
    .collect()
}
