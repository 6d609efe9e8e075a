//! Relationship maintenance plans (SPEC M1–M6): the tasks the scenario
//! engine generates (one per customer, scenario and occasion — the unique
//! key makes generation idempotent), the facts it reads a range of
//! customers at a time, each customer's revisit stream, the maintenance
//! records that close tasks, the suggested scripts per scenario, the task
//! queue and the execution-rate figures.

use guanxi_domain::plan::ExecutionFigures;
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use crate::sql::{Conn, Row, Value, values_list};
use crate::{Result, StoreError, args};

pub mod status {
    pub const OPEN: &str = "open";
    pub const DONE: &str = "done";
    /// An open revisit made moot: another task of the stream was done first
    /// and restarted the cadence window.
    pub const SUPERSEDED: &str = "superseded";
}

/// Names the index SQLite must use where its planner, without statistics,
/// prefers a worse one (an equality on `status` or on a NULL digest looks
/// selective and is not); PostgreSQL plans from its statistics.
fn indexed_by(c: &Conn, index: &str) -> String {
    match c.engine() {
        crate::Engine::Sqlite => format!("INDEXED BY {index}"),
        crate::Engine::Postgres => String::new(),
    }
}

/// The scenarios of the revisit stream, as stored (the partial index
/// `maintenance_tasks_open_stream` repeats them).
const STREAM_SQL: &str = "('revisit', 'deep_interview', 'complaint_repair', 'churn_recovery')";

/// A task to create.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub customer_id: i64,
    pub scenario: &'static str,
    pub occasion: String,
    /// The occasion as JSON.
    pub detail: String,
    pub kind: &'static str,
    pub due_on: Date,
    pub due_at: Timestamp,
    pub owner_id: Option<i64>,
    pub collaborator_id: Option<i64>,
    pub tier: String,
    pub channel: Option<String>,
    pub contact_window: Option<String>,
    pub contact_id: Option<i64>,
}

/// Inserts tasks whose (customer, scenario, occasion) is not taken yet,
/// several per statement. Returns each task's id, or `None` where the task
/// already existed (nothing changes).
pub fn insert_tasks(c: &mut Conn, tasks: &[NewTask], now: Timestamp) -> Result<Vec<Option<i64>>> {
    const COLS: usize = 17;
    const PER: usize = 1_000;
    let ids = crate::sql::reserve_ids(c, "maintenance_tasks", tasks.len())?;
    let mut inserted = std::collections::HashSet::with_capacity(tasks.len());
    for (chunk, chunk_ids) in tasks.chunks(PER).zip(ids.chunks(PER)) {
        let mut v: Vec<Value> = Vec::with_capacity(chunk.len() * COLS);
        for (t, id) in chunk.iter().zip(chunk_ids) {
            v.extend([
                (*id).into(),
                t.customer_id.into(),
                t.scenario.into(),
                t.occasion.as_str().into(),
                t.detail.as_str().into(),
                t.kind.into(),
                status::OPEN.into(),
                t.due_on.into(),
                t.due_at.into(),
                t.owner_id.into(),
                t.collaborator_id.into(),
                t.tier.as_str().into(),
                t.channel.clone().into(),
                t.contact_window.clone().into(),
                t.contact_id.into(),
                now.into(),
                Value::Null,
            ]);
        }
        let sql = format!(
            "INSERT INTO maintenance_tasks (id, customer_id, scenario, occasion, detail, kind, status, due_on, due_at,
                owner_id, collaborator_id, tier, channel, contact_window, contact_id, created_at, done_at)
             VALUES {} ON CONFLICT (customer_id, scenario, occasion) DO NOTHING RETURNING id",
            values_list(COLS, chunk.len())
        );
        for r in c.query(&sql, &v)? {
            inserted.insert(r.get::<i64>(0)?);
        }
    }
    Ok(ids.into_iter().map(|id| inserted.contains(&id).then_some(id)).collect())
}

// ---- Facts for generation ----

/// What the scenarios need of one customer.
#[derive(Debug, Clone)]
pub struct PlanFacts {
    pub id: i64,
    pub owner_id: Option<i64>,
    pub stage: String,
    pub created_at: Timestamp,
    pub cooperation_start: Option<Date>,
    pub first_purchase_on: Option<Date>,
    pub contract_end: Option<Date>,
    pub preferred_channel: Option<String>,
    pub contact_window: Option<String>,
    /// From the last segmentation (none before the first).
    pub tier: Option<String>,
    pub activity: Option<String>,
    pub last_interaction_on: Option<Date>,
    pub last_contact_on: Option<Date>,
    pub last_deep_on: Option<Date>,
}

const FACTS_COLS: &str = "c.id, c.owner_id, c.stage, c.created_at, c.cooperation_start, c.first_purchase_on,
    c.contract_end, c.preferred_channel, c.contact_window, s.tier, s.activity, s.last_interaction_on,
    m.last_contact_on, m.last_deep_on";
const FACTS_JOINS: &str = "LEFT JOIN customer_segments s ON s.customer_id = c.id
    LEFT JOIN maintenance_streams m ON m.customer_id = c.id";

fn facts(r: &Row) -> Result<PlanFacts> {
    Ok(PlanFacts {
        id: r.get(0)?,
        owner_id: r.get(1)?,
        stage: r.get(2)?,
        created_at: r.get(3)?,
        cooperation_start: r.get(4)?,
        first_purchase_on: r.get(5)?,
        contract_end: r.get(6)?,
        preferred_channel: r.get(7)?,
        contact_window: r.get(8)?,
        tier: r.get(9)?,
        activity: r.get(10)?,
        last_interaction_on: r.get(11)?,
        last_contact_on: r.get(12)?,
        last_deep_on: r.get(13)?,
    })
}

/// The facts of customers with ids in `(after_id, through_id]`, by id.
pub fn facts_range(c: &mut Conn, after_id: i64, through_id: i64) -> Result<Vec<PlanFacts>> {
    c.query(
        &format!("SELECT {FACTS_COLS} FROM customers c {FACTS_JOINS} WHERE c.id > $1 AND c.id <= $2 ORDER BY c.id"),
        args![after_id, through_id],
    )?
    .iter()
    .map(facts)
    .collect()
}

/// `$k, $k+1, …` for a list of ids appended to `params`.
fn id_list(ids: &[i64], params: &mut Vec<Value>) -> String {
    let marks: Vec<String> = ids
        .iter()
        .map(|id| {
            params.push(Value::I64(*id));
            format!("${}", params.len())
        })
        .collect();
    marks.join(", ")
}

/// The facts of some customers (at most a few hundred per call).
pub fn facts_of(c: &mut Conn, ids: &[i64]) -> Result<Vec<PlanFacts>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut params = Vec::new();
        let list = id_list(chunk, &mut params);
        let sql = format!("SELECT {FACTS_COLS} FROM customers c {FACTS_JOINS} WHERE c.id IN ({list}) ORDER BY c.id");
        for r in c.query(&sql, &params)? {
            out.push(facts(&r)?);
        }
    }
    Ok(out)
}

/// Customers in `(after_id, through_id]` with an open task of the revisit stream.
pub fn open_stream_range(c: &mut Conn, after_id: i64, through_id: i64) -> Result<Vec<i64>> {
    // The literal conditions let both engines use the partial index (at
    // 1,000,000 customers: 9 ms a range instead of 700 ms through `status`).
    let index = indexed_by(c, "maintenance_tasks_open_stream");
    c.query(
        &format!(
            "SELECT DISTINCT customer_id FROM maintenance_tasks {index}
             WHERE status = 'open' AND scenario IN {STREAM_SQL} AND customer_id > $1 AND customer_id <= $2"
        ),
        args![after_id, through_id],
    )?
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// The earliest order date of each of some customers that has orders.
pub fn first_order_dates(c: &mut Conn, ids: &[i64]) -> Result<Vec<(i64, Date)>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let mut params = Vec::new();
        let list = id_list(chunk, &mut params);
        for r in c.query(
            &format!(
                "SELECT customer_id, MIN(ordered_on) FROM orders WHERE customer_id IN ({list}) GROUP BY customer_id"
            ),
            &params,
        )? {
            out.push((r.get(0)?, r.get(1)?));
        }
    }
    Ok(out)
}

/// The largest order id (0 without orders).
pub fn max_order_id(c: &mut Conn) -> Result<i64> {
    c.scalar("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM orders", &[])
}

/// Customers with orders recorded after order `after_id` (up to `through_id`).
pub fn customers_with_orders_between(c: &mut Conn, after_id: i64, through_id: i64) -> Result<Vec<i64>> {
    c.query("SELECT DISTINCT customer_id FROM orders WHERE id > $1 AND id <= $2", args![after_id, through_id])?
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Who supervises whom: (user, group) of every user, and (group, its first
/// active supervisor).
pub type Supervision = (Vec<(i64, Option<i64>)>, Vec<(i64, i64)>);

/// Who owns a churn recovery: the group of every user and the first
/// active supervisor of each group.
pub fn supervisors(c: &mut Conn) -> Result<Supervision> {
    let users = c
        .query("SELECT id, group_id FROM users", &[])?
        .iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .collect::<Result<Vec<_>>>()?;
    let sup = c
        .query(
            "SELECT group_id, MIN(id) FROM users WHERE role = 'supervisor' AND active = $1 AND group_id IS NOT NULL
             GROUP BY group_id",
            args![true],
        )?
        .iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok((users, sup))
}

/// Unconsumed churn warnings after event `after_id`, oldest first: a
/// consumer that writes one batch while it reads the next pages past the
/// rows it has not marked yet.
pub fn churn_warnings_after(c: &mut Conn, after_id: i64, limit: i64) -> Result<Vec<crate::segments::Event>> {
    c.query(
        "SELECT id, customer_id, kind, detail, at FROM segment_events
         WHERE consumed_at IS NULL AND id > $1 AND kind = $2 ORDER BY id LIMIT $3",
        args![after_id, crate::segments::event::CHURN_WARNING, limit],
    )?
    .iter()
    .map(|r| {
        Ok(crate::segments::Event {
            id: r.get(0)?,
            customer_id: r.get(1)?,
            kind: r.get(2)?,
            detail: r.get(3)?,
            at: r.get(4)?,
        })
    })
    .collect()
}

// ---- Birthdays ----

/// Contacts with a birthday but no month-and-day digest yet (new, imported
/// or changed): (contact, ciphertext).
pub fn birthdays_without_key(c: &mut Conn, limit: i64) -> Result<Vec<(i64, String)>> {
    let index = indexed_by(c, "contacts_birthday_pending");
    c.query(
        &format!(
            "SELECT id, birthday_enc FROM contacts {index}
             WHERE birthday_enc IS NOT NULL AND birthday_key IS NULL ORDER BY id LIMIT $1"
        ),
        args![limit],
    )?
    .iter()
    .map(|r| Ok((r.get(0)?, r.get(1)?)))
    .collect()
}

/// Stores month-and-day digests: (contact, digest or "" for an undecryptable birthday).
pub fn set_birthday_keys(c: &mut Conn, keys: &[(i64, String)]) -> Result<()> {
    for (id, key) in keys {
        c.execute("UPDATE contacts SET birthday_key = $1 WHERE id = $2", args![key.as_str(), *id])?;
    }
    Ok(())
}

/// A contact whose birthday digest is one asked for, with its customer's facts.
#[derive(Debug, Clone)]
pub struct BirthdayContact {
    pub contact_id: i64,
    pub name: String,
    pub key: String,
    pub customer: PlanFacts,
}

pub fn contacts_with_birthday_keys(c: &mut Conn, keys: &[String]) -> Result<Vec<BirthdayContact>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut params: Vec<Value> = Vec::new();
    let marks: Vec<String> = keys
        .iter()
        .map(|k| {
            params.push(k.as_str().into());
            format!("${}", params.len())
        })
        .collect();
    let rows = c.query(
        &format!(
            "SELECT p.id, p.name, p.birthday_key, {FACTS_COLS} FROM contacts p JOIN customers c ON c.id = p.customer_id
             {FACTS_JOINS} WHERE p.birthday_key IN ({}) ORDER BY p.customer_id, p.id",
            marks.join(", ")
        ),
        &params,
    )?;
    rows.iter()
        .map(|r| {
            let rest = Row(r.0[3..].to_vec());
            Ok(BirthdayContact { contact_id: r.get(0)?, name: r.get(1)?, key: r.get(2)?, customer: facts(&rest)? })
        })
        .collect()
}

// ---- Streams ----

/// Records that a stream task was done on `on` (a deep interview too when
/// `deep`); an earlier date never replaces a later one.
pub fn record_stream_contact(c: &mut Conn, customer_id: i64, on: Date, deep: bool) -> Result<()> {
    let deep_on: Option<Date> = deep.then_some(on);
    c.execute(
        "INSERT INTO maintenance_streams (customer_id, last_contact_on, last_deep_on) VALUES ($1, $2, $3)
         ON CONFLICT (customer_id) DO UPDATE SET
            last_contact_on = CASE WHEN maintenance_streams.last_contact_on IS NULL
                OR excluded.last_contact_on > maintenance_streams.last_contact_on
                THEN excluded.last_contact_on ELSE maintenance_streams.last_contact_on END,
            last_deep_on = CASE WHEN excluded.last_deep_on IS NOT NULL AND (maintenance_streams.last_deep_on IS NULL
                OR excluded.last_deep_on > maintenance_streams.last_deep_on)
                THEN excluded.last_deep_on ELSE maintenance_streams.last_deep_on END",
        args![customer_id, on, deep_on],
    )?;
    Ok(())
}

/// Marks the customer's other open revisits superseded (a stream task done
/// restarted the window); returns how many.
pub fn supersede_open_revisits(c: &mut Conn, customer_id: i64, except_task: i64) -> Result<u64> {
    c.execute(
        "UPDATE maintenance_tasks SET status = $1 WHERE customer_id = $2 AND status = $3
            AND scenario IN ('revisit', 'deep_interview') AND id <> $4",
        args![status::SUPERSEDED, customer_id, status::OPEN, except_task],
    )
}

// ---- Tasks ----

#[derive(Debug, Clone, Serialize)]
pub struct Task {
    pub id: i64,
    pub customer_id: i64,
    pub customer_code: String,
    pub customer_name: String,
    pub scenario: String,
    pub occasion: String,
    pub detail: String,
    pub kind: String,
    pub status: String,
    pub due_on: Date,
    pub due_at: Timestamp,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub collaborator_id: Option<i64>,
    pub collaborator_name: Option<String>,
    pub tier: String,
    pub channel: Option<String>,
    pub contact_window: Option<String>,
    pub contact_id: Option<i64>,
    pub created_at: Timestamp,
    pub done_at: Option<Timestamp>,
    pub record_id: Option<i64>,
}

const TASK_COLS: &str = "t.id, t.customer_id, c.code, c.name, t.scenario, t.occasion, t.detail, t.kind, t.status,
    t.due_on, t.due_at, t.owner_id, o.name, t.collaborator_id, k.name, t.tier, t.channel, t.contact_window,
    t.contact_id, t.created_at, t.done_at, t.record_id
    FROM maintenance_tasks t JOIN customers c ON c.id = t.customer_id
    LEFT JOIN users o ON o.id = t.owner_id LEFT JOIN users k ON k.id = t.collaborator_id";

fn task(r: &Row) -> Result<Task> {
    Ok(Task {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        customer_code: r.get(2)?,
        customer_name: r.get(3)?,
        scenario: r.get(4)?,
        occasion: r.get(5)?,
        detail: r.get(6)?,
        kind: r.get(7)?,
        status: r.get(8)?,
        due_on: r.get(9)?,
        due_at: r.get(10)?,
        owner_id: r.get(11)?,
        owner_name: r.get(12)?,
        collaborator_id: r.get(13)?,
        collaborator_name: r.get(14)?,
        tier: r.get(15)?,
        channel: r.get(16)?,
        contact_window: r.get(17)?,
        contact_id: r.get(18)?,
        created_at: r.get(19)?,
        done_at: r.get(20)?,
        record_id: r.get(21)?,
    })
}

pub fn get_task(c: &mut Conn, id: i64) -> Result<Task> {
    task(&c.query_one(&format!("SELECT {TASK_COLS} WHERE t.id = $1"), args![id])?)
}

/// A customer's tasks, open first then newest.
pub fn tasks_of_customer(c: &mut Conn, customer_id: i64, limit: i64) -> Result<Vec<Task>> {
    c.query(
        &format!(
            "SELECT {TASK_COLS} WHERE t.customer_id = $1
             ORDER BY CASE WHEN t.status = 'open' THEN 0 ELSE 1 END, t.due_at DESC, t.id DESC LIMIT $2"
        ),
        args![customer_id, limit],
    )?
    .iter()
    .map(task)
    .collect()
}

/// Closes a task with its record.
pub fn complete_task(c: &mut Conn, task_id: i64, record_id: i64, by: i64, at: Timestamp) -> Result<()> {
    let n = c.execute(
        "UPDATE maintenance_tasks SET status = $1, done_at = $2, done_by = $3, record_id = $4 WHERE id = $5 AND status = $6",
        args![status::DONE, at, by, record_id, task_id, status::OPEN],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Whose tasks a queue shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueScope {
    /// Owned by, or collaborated on by, one user.
    Mine(i64),
    /// Owned by any of these users (a supervisor's team), or by nobody.
    Team(Vec<i64>),
    All,
}

impl QueueScope {
    fn condition(&self, params: &mut Vec<Value>) -> String {
        match self {
            QueueScope::Mine(id) => {
                params.push(Value::I64(*id));
                let k = params.len();
                format!("(t.owner_id = ${k} OR t.collaborator_id = ${k})")
            }
            QueueScope::Team(ids) if ids.is_empty() => "t.owner_id IS NULL".into(),
            QueueScope::Team(ids) => format!("(t.owner_id IN ({}) OR t.owner_id IS NULL)", id_list(ids, params)),
            QueueScope::All => "1 = 1".into(),
        }
    }
}

/// Which open tasks: by urgency at `now` (in the business day `today`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overdue,
    DueToday,
    Upcoming,
    /// Done tasks, most recently done first.
    Done,
}

#[derive(Debug, Clone)]
pub struct QueueFilter {
    pub scope: QueueScope,
    pub section: Option<Section>,
    pub scenario: Option<String>,
    pub kind: Option<String>,
    pub page: i64,
    pub per_page: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskPage {
    pub items: Vec<Task>,
    pub total: i64,
    /// There were more than the counting limit.
    pub total_capped: bool,
    pub page: i64,
    pub per_page: i64,
}

/// How many tasks a list counts before saying "10000+".
const COUNT_CAP: i64 = 10_000;

fn section_condition(s: Option<Section>, today: Date, now: Timestamp, params: &mut Vec<Value>) -> String {
    let mut push = |v: Value| {
        params.push(v);
        format!("${}", params.len())
    };
    match s {
        None => format!("t.status = {}", push(status::OPEN.into())),
        Some(Section::Overdue) => {
            format!("t.status = {} AND t.due_at < {}", push(status::OPEN.into()), push(now.into()))
        }
        Some(Section::DueToday) => format!(
            "t.status = {} AND t.due_at >= {} AND t.due_on <= {}",
            push(status::OPEN.into()),
            push(now.into()),
            push(today.into())
        ),
        Some(Section::Upcoming) => {
            format!(
                "t.status = {} AND t.due_on > {} AND t.due_at >= {}",
                push(status::OPEN.into()),
                push(today.into()),
                push(now.into())
            )
        }
        Some(Section::Done) => format!("t.status = {}", push(status::DONE.into())),
    }
}

/// The conditions of the scope's `branch`-th part, or `None` past the last.
/// A scope is split into disjoint parts, each served by one index in due
/// order: an `OR` of owner and collaborator makes the planners walk every
/// open task instead.
/// Each part comes with the index that reads it.
fn branch(scope: &QueueScope, i: usize, params: &mut Vec<Value>) -> Option<(String, &'static str)> {
    const OWNER: &str = "maintenance_tasks_owner";
    let mut push = |v: Value| {
        params.push(v);
        format!("${}", params.len())
    };
    match (scope, i) {
        (QueueScope::Mine(id), 0) => Some((format!("t.owner_id = {}", push((*id).into())), OWNER)),
        (QueueScope::Mine(id), 1) => {
            let (a, b) = (push((*id).into()), push((*id).into()));
            Some((
                format!("t.collaborator_id = {a} AND (t.owner_id IS NULL OR t.owner_id <> {b})"),
                "maintenance_tasks_collaborator",
            ))
        }
        (QueueScope::Team(ids), 0) if !ids.is_empty() => {
            let marks: Vec<String> = ids.iter().map(|id| push((*id).into())).collect();
            Some((format!("t.owner_id IN ({})", marks.join(", ")), OWNER))
        }
        (QueueScope::Team(ids), 0) if ids.is_empty() => Some(("t.owner_id IS NULL".into(), OWNER)),
        (QueueScope::Team(ids), 1) if !ids.is_empty() => Some(("t.owner_id IS NULL".into(), OWNER)),
        (QueueScope::All, 0) => Some(("1 = 1".into(), "maintenance_tasks_status")),
        _ => None,
    }
}

/// The full condition of one part of a queue.
fn branch_where(f: &QueueFilter, i: usize, today: Date, now: Timestamp) -> Option<(String, &'static str, Vec<Value>)> {
    let mut params = Vec::new();
    let (scope, index) = branch(&f.scope, i, &mut params)?;
    let mut conds = vec![scope, section_condition(f.section, today, now, &mut params)];
    if let Some(s) = &f.scenario {
        params.push(s.as_str().into());
        conds.push(format!("t.scenario = ${}", params.len()));
    }
    if let Some(k) = &f.kind {
        params.push(k.as_str().into());
        conds.push(format!("t.kind = ${}", params.len()));
    }
    Some((conds.join(" AND "), index, params))
}

/// The deepest row a page may start at (page 400 of 25).
const MAX_OFFSET: i64 = 10_000;

/// A page of a queue: open tasks soonest due first (done ones latest first).
/// Each part of the scope reads its first `offset + per_page` rows by index;
/// the parts are merged here.
pub fn queue(c: &mut Conn, f: &QueueFilter, today: Date, now: Timestamp) -> Result<TaskPage> {
    let per_page = f.per_page.clamp(1, 200);
    let page = f.page.max(1).min(MAX_OFFSET / per_page + 1);
    let offset = (page - 1) * per_page;
    let done = f.section == Some(Section::Done);
    let order = if done { "t.done_at DESC, t.id DESC" } else { "t.due_at ASC, t.id ASC" };
    let mut counted = 0i64;
    // (sort key, id) of the candidates of every part.
    let mut keys: Vec<(i64, i64)> = Vec::new();
    let mut i = 0;
    while let Some((where_, index, mut params)) = branch_where(f, i, today, now) {
        let by = indexed_by(c, index);
        params.push((COUNT_CAP + 1).into());
        counted += c.scalar::<i64>(
            &format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM maintenance_tasks t {by} WHERE {where_} LIMIT ${}) x",
                params.len()
            ),
            &params,
        )?;
        params.pop();
        params.push((offset + per_page).into());
        let key = if done { "t.done_at" } else { "t.due_at" };
        for r in c.query(
            &format!(
                "SELECT {key}, t.id FROM maintenance_tasks t {by} WHERE {where_} ORDER BY {order} LIMIT ${}",
                params.len()
            ),
            &params,
        )? {
            keys.push((r.get::<Option<i64>>(0)?.unwrap_or(0), r.get(1)?));
        }
        i += 1;
    }
    if done {
        keys.sort_by(|a, b| b.cmp(a));
    } else {
        keys.sort();
    }
    let ids: Vec<i64> = keys
        .iter()
        .skip(usize::try_from(offset).unwrap_or(0))
        .take(usize::try_from(per_page).unwrap_or(25))
        .map(|k| k.1)
        .collect();
    let mut items: Vec<Task> = Vec::with_capacity(ids.len());
    if !ids.is_empty() {
        let mut params = Vec::new();
        let list = id_list(&ids, &mut params);
        items = c
            .query(&format!("SELECT {TASK_COLS} WHERE t.id IN ({list})"), &params)?
            .iter()
            .map(task)
            .collect::<Result<_>>()?;
        items.sort_by_key(|t| ids.iter().position(|x| *x == t.id));
    }
    Ok(TaskPage { items, total: counted.min(COUNT_CAP), total_capped: counted > COUNT_CAP, page, per_page })
}

/// Open tasks per (scenario, section) of a scope, for the queue's headings
/// (read from the covering indexes).
pub fn queue_counts(
    c: &mut Conn,
    scope: &QueueScope,
    today: Date,
    now: Timestamp,
) -> Result<Vec<(String, Section, i64)>> {
    let mut sums: std::collections::BTreeMap<(String, i64), i64> = std::collections::BTreeMap::new();
    let mut i = 0;
    loop {
        let mut params = Vec::new();
        let Some((cond, index)) = branch(scope, i, &mut params) else { break };
        let by = indexed_by(c, index);
        params.push(now.into());
        let n = params.len();
        params.push(today.into());
        let d = params.len();
        params.push(status::OPEN.into());
        let o = params.len();
        for r in c.query(
            &format!(
                "SELECT t.scenario, CASE WHEN t.due_at < ${n} THEN 0 WHEN t.due_on <= ${d} THEN 1 ELSE 2 END, COUNT(*)
                 FROM maintenance_tasks t {by} WHERE t.status = ${o} AND {cond} GROUP BY 1, 2"
            ),
            &params,
        )? {
            *sums.entry((r.get(0)?, r.get(1)?)).or_default() += r.get::<i64>(2)?;
        }
        i += 1;
    }
    Ok(sums
        .into_iter()
        .map(|((scenario, k), n)| {
            let section = match k {
                0 => Section::Overdue,
                1 => Section::DueToday,
                _ => Section::Upcoming,
            };
            (scenario, section, n)
        })
        .collect())
}

// ---- Records ----

#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub id: i64,
    pub task_id: Option<i64>,
    pub customer_id: i64,
    pub communication_id: Option<i64>,
    pub scenario: String,
    pub snapshot: String,
    pub contact_id: Option<i64>,
    pub occurred_at: Timestamp,
    pub channel: String,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub summary: String,
    pub feedback: Option<String>,
    pub needs_explicit: Option<String>,
    pub needs_implicit: Option<String>,
    pub checklist: Vec<String>,
    pub completion: String,
    pub satisfaction: Option<i64>,
    pub notes: Option<String>,
    pub effect: String,
    pub effect_note: Option<String>,
    pub churn_reason: Option<String>,
    pub gift: Option<String>,
    pub script_id: Option<i64>,
    pub tags_added: Vec<String>,
    pub tags_removed: Vec<String>,
    pub created_by: Option<i64>,
    pub created_at: Timestamp,
}

/// `,a,b,` ↔ `[a, b]`.
fn join_list(xs: &[String]) -> String {
    if xs.is_empty() { ",".into() } else { format!(",{},", xs.join(",")) }
}

fn split_list(s: Option<String>) -> Vec<String> {
    s.unwrap_or_default().split(',').filter(|x| !x.is_empty()).map(str::to_string).collect()
}

/// Inserts a record; returns its id.
pub fn insert_record(c: &mut Conn, r: &Record) -> Result<i64> {
    c.insert_id(
        "INSERT INTO maintenance_records (task_id, customer_id, communication_id, scenario, snapshot, contact_id,
            occurred_at, channel, owner_id, summary, feedback, needs_explicit, needs_implicit, checklist, completion,
            satisfaction, notes, effect, effect_note, churn_reason, gift, script_id, tags_added, tags_removed,
            created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
            $23, $24, $25, $26)",
        args![
            r.task_id,
            r.customer_id,
            r.communication_id,
            r.scenario.as_str(),
            r.snapshot.as_str(),
            r.contact_id,
            r.occurred_at,
            r.channel.as_str(),
            r.owner_id,
            r.summary.as_str(),
            r.feedback.clone(),
            r.needs_explicit.clone(),
            r.needs_implicit.clone(),
            join_list(&r.checklist),
            r.completion.as_str(),
            r.satisfaction,
            r.notes.clone(),
            r.effect.as_str(),
            r.effect_note.clone(),
            r.churn_reason.clone(),
            r.gift.clone(),
            r.script_id,
            (!r.tags_added.is_empty()).then(|| join_list(&r.tags_added)),
            (!r.tags_removed.is_empty()).then(|| join_list(&r.tags_removed)),
            r.created_by,
            r.created_at
        ],
    )
}

pub fn get_record(c: &mut Conn, id: i64) -> Result<Record> {
    let r = c.query_one(
        "SELECT r.id, r.task_id, r.customer_id, r.communication_id, r.scenario, r.snapshot, r.contact_id,
            r.occurred_at, r.channel, r.owner_id, u.name, r.summary, r.feedback, r.needs_explicit, r.needs_implicit,
            r.checklist, r.completion, r.satisfaction, r.notes, r.effect, r.effect_note, r.churn_reason, r.gift,
            r.script_id, r.tags_added, r.tags_removed, r.created_by, r.created_at
         FROM maintenance_records r LEFT JOIN users u ON u.id = r.owner_id WHERE r.id = $1",
        args![id],
    )?;
    Ok(Record {
        id: r.get(0)?,
        task_id: r.get(1)?,
        customer_id: r.get(2)?,
        communication_id: r.get(3)?,
        scenario: r.get(4)?,
        snapshot: r.get(5)?,
        contact_id: r.get(6)?,
        occurred_at: r.get(7)?,
        channel: r.get(8)?,
        owner_id: r.get(9)?,
        owner_name: r.get(10)?,
        summary: r.get(11)?,
        feedback: r.get(12)?,
        needs_explicit: r.get(13)?,
        needs_implicit: r.get(14)?,
        checklist: split_list(r.get(15)?),
        completion: r.get(16)?,
        satisfaction: r.get(17)?,
        notes: r.get(18)?,
        effect: r.get(19)?,
        effect_note: r.get(20)?,
        churn_reason: r.get(21)?,
        gift: r.get(22)?,
        script_id: r.get(23)?,
        tags_added: split_list(r.get(24)?),
        tags_removed: split_list(r.get(25)?),
        created_by: r.get(26)?,
        created_at: r.get(27)?,
    })
}

/// Gives and takes away manual tags; returns the tags actually added and removed.
pub fn change_tags(
    c: &mut Conn,
    customer_id: i64,
    add: &[String],
    remove: &[String],
) -> Result<(Vec<String>, Vec<String>)> {
    let mut added = Vec::new();
    for t in add {
        if c.execute(
            "INSERT INTO customer_tags (customer_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            args![customer_id, t.as_str()],
        )? > 0
        {
            added.push(t.clone());
        }
    }
    let mut removed = Vec::new();
    for t in remove {
        if c.execute("DELETE FROM customer_tags WHERE customer_id = $1 AND tag = $2", args![customer_id, t.as_str()])?
            > 0
        {
            removed.push(t.clone());
        }
    }
    Ok((added, removed))
}

// ---- Scripts ----

#[derive(Debug, Clone, Serialize)]
pub struct Script {
    pub id: i64,
    pub scenario: String,
    pub title: String,
    pub body: String,
    /// The script library's entry (issue 9), once linked.
    pub library_id: Option<i64>,
}

pub fn scripts_for(c: &mut Conn, scenario: &str) -> Result<Vec<Script>> {
    c.query(
        // The script library's active scripts of the scenario (SPEC K2;
        // maintenance_scripts' rows were copied there with the same ids).
        "SELECT id, scenario, title, body, id FROM scripts WHERE scenario = $1 AND active ORDER BY position, id",
        args![scenario],
    )?
    .iter()
    .map(|r| {
        Ok(Script { id: r.get(0)?, scenario: r.get(1)?, title: r.get(2)?, body: r.get(3)?, library_id: r.get(4)? })
    })
    .collect()
}

// ---- Execution rate (M6) ----

/// What execution figures are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateBy {
    Scenario,
    /// The task's owner (id; the name is joined).
    Agent,
    Tier,
    /// The month of the due date, `YYYY-MM`.
    Month,
}

/// Execution figures of the call tasks (content pushes go through
/// outreach) due in `[from, to)` and before `now`, per group: (key, label,
/// figures). A superseded revisit was never due.
pub fn execution(
    c: &mut Conn,
    scope: &QueueScope,
    by: RateBy,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
) -> Result<Vec<(String, Option<String>, ExecutionFigures)>> {
    let mut params: Vec<Value> = vec![from.into(), to.min(now).into(), status::OPEN.into(), status::DONE.into()];
    let cond = scope.condition(&mut params);
    let (key, label) = match by {
        RateBy::Scenario => ("t.scenario", "NULL"),
        RateBy::Agent => ("CAST(COALESCE(t.owner_id, 0) AS TEXT)", "MIN(o.name)"),
        RateBy::Tier => ("t.tier", "NULL"),
        RateBy::Month => ("substr(t.due_on, 1, 7)", "NULL"),
    };
    let rows = c.query(
        &format!(
            "SELECT {key}, {label}, COUNT(*),
                CAST(SUM(CASE WHEN t.done_at IS NOT NULL AND t.done_at <= t.due_at THEN 1 ELSE 0 END) AS BIGINT),
                CAST(SUM(CASE WHEN t.done_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT),
                CAST(SUM(CASE WHEN r.effect = 'achieved' THEN 1 ELSE 0 END) AS BIGINT),
                CAST(SUM(CASE WHEN r.effect IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT),
                CAST(COALESCE(SUM(r.satisfaction), 0) AS BIGINT), COUNT(r.satisfaction)
             FROM maintenance_tasks t LEFT JOIN maintenance_records r ON r.task_id = t.id
             LEFT JOIN users o ON o.id = t.owner_id
             WHERE t.status IN ($3, $4) AND t.due_at >= $1 AND t.due_at < $2 AND t.kind = 'call' AND {cond}
             GROUP BY {key} ORDER BY {key}"
        ),
        &params,
    )?;
    rows.iter()
        .map(|r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                ExecutionFigures {
                    due: r.get(2)?,
                    on_time: r.get(3)?,
                    done: r.get(4)?,
                    achieved: r.get(5)?,
                    evaluated: r.get(6)?,
                    satisfaction_sum: r.get(7)?,
                    satisfaction_count: r.get(8)?,
                },
            ))
        })
        .collect()
}
