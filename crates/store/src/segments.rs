//! Segmentation results (SPEC G1–G7): the per-customer figures the
//! recompute job gathers (a range of customers at a time, from indexes), the
//! stored results it writes back, and the read side — the overview counts,
//! the churn-risk list, saved segments as SQL, and the events other
//! capabilities consume (a raised churn warning triggers a recovery plan).

use guanxi_domain::segment::{Condition, Segment};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use crate::customers::{Customer, Scope};
use crate::sql::{Conn, Value, insert_rows};
use crate::{Result, args};

/// One customer's orders, summed for the recompute job.
#[derive(Debug, Clone, Default)]
pub struct OrderFigures {
    pub customer_id: i64,
    pub orders: i64,
    pub spend_fen: i64,
    pub first_on: Option<Date>,
    pub last_on: Option<Date>,
    /// Days with at least one order (BG/NBD counts one purchase a day).
    pub days: i64,
    /// (count, spend in fen) per window asked for, in order.
    pub windows: Vec<(i64, i64)>,
}

/// `CASE` sums for date windows `(after, through]` over a date column.
fn window_sums(col: &str, value: &str, windows: &[(Date, Date)], params: &mut Vec<Value>) -> String {
    let mut out = String::new();
    for (after, through) in windows {
        params.push((*after).into());
        let a = params.len();
        params.push((*through).into());
        let t = params.len();
        out.push_str(&format!(
            ", CAST(SUM(CASE WHEN {col} > ${a} AND {col} <= ${t} THEN 1 ELSE 0 END) AS BIGINT),
               CAST(SUM(CASE WHEN {col} > ${a} AND {col} <= ${t} THEN {value} ELSE 0 END) AS BIGINT)"
        ));
    }
    out
}

/// The order figures of customers with ids in `(after_id, through_id]`,
/// counting orders up to `through` (today), with a count and a sum per window.
pub fn order_figures(
    c: &mut Conn,
    after_id: i64,
    through_id: i64,
    through: Date,
    windows: &[(Date, Date)],
) -> Result<Vec<OrderFigures>> {
    let mut params: Vec<Value> = vec![after_id.into(), through_id.into(), through.into()];
    let sums = window_sums("ordered_on", "amount_fen", windows, &mut params);
    let sql = format!(
        "SELECT customer_id, COUNT(*), CAST(SUM(amount_fen) AS BIGINT), MIN(ordered_on), MAX(ordered_on),
                COUNT(DISTINCT ordered_on){sums}
         FROM orders WHERE customer_id > $1 AND customer_id <= $2 AND ordered_on <= $3
         GROUP BY customer_id"
    );
    c.query(&sql, &params)?
        .iter()
        .map(|r| {
            let mut f = OrderFigures {
                customer_id: r.get(0)?,
                orders: r.get(1)?,
                spend_fen: r.get(2)?,
                first_on: r.get(3)?,
                last_on: r.get(4)?,
                days: r.get(5)?,
                windows: Vec::with_capacity(windows.len()),
            };
            for k in 0..windows.len() {
                f.windows.push((r.get(6 + 2 * k)?, r.get(7 + 2 * k)?));
            }
            Ok(f)
        })
        .collect()
}

/// One customer's communications and product events, for the recompute job.
#[derive(Debug, Clone, Default)]
pub struct ContactFigures {
    pub customer_id: i64,
    pub last_communication: Option<Timestamp>,
    /// (inbound communications, negative feedback) per window asked for.
    pub windows: Vec<(i64, i64)>,
}

/// Communication figures of customers in `(after_id, through_id]`: the
/// last one, and per instant window `(after, through]` the inbound ones
/// (consultations) and those scored 1–2 (negative feedback).
pub fn contact_figures(
    c: &mut Conn,
    after_id: i64,
    through_id: i64,
    windows: &[(Timestamp, Timestamp)],
) -> Result<Vec<ContactFigures>> {
    let mut params: Vec<Value> = vec![after_id.into(), through_id.into()];
    let mut sums = String::new();
    for (after, through) in windows {
        params.push((*after).into());
        let a = params.len();
        params.push((*through).into());
        let t = params.len();
        sums.push_str(&format!(
            ", CAST(SUM(CASE WHEN occurred_at > ${a} AND occurred_at <= ${t} AND direction = 'inbound'
                    THEN 1 ELSE 0 END) AS BIGINT),
               CAST(SUM(CASE WHEN occurred_at > ${a} AND occurred_at <= ${t} AND satisfaction <= 2
                    THEN 1 ELSE 0 END) AS BIGINT)"
        ));
    }
    let sql = format!(
        "SELECT customer_id, MAX(occurred_at){sums} FROM communications
         WHERE customer_id > $1 AND customer_id <= $2 GROUP BY customer_id"
    );
    c.query(&sql, &params)?
        .iter()
        .map(|r| {
            let mut f = ContactFigures {
                customer_id: r.get(0)?,
                last_communication: r.get(1)?,
                windows: Vec::with_capacity(windows.len()),
            };
            for k in 0..windows.len() {
                f.windows.push((r.get(2 + 2 * k)?, r.get(3 + 2 * k)?));
            }
            Ok(f)
        })
        .collect()
}

/// (customer, last login, last product event of any kind).
pub type EventFigures = (i64, Option<Timestamp>, Option<Timestamp>);

/// The event figures of customers in `(after_id, through_id]` that have events.
pub fn event_figures(c: &mut Conn, after_id: i64, through_id: i64) -> Result<Vec<EventFigures>> {
    c.query(
        "SELECT customer_id, MAX(CASE WHEN kind = 'login' THEN occurred_at END), MAX(occurred_at)
         FROM behaviour_events WHERE customer_id > $1 AND customer_id <= $2 GROUP BY customer_id",
        args![after_id, through_id],
    )?
    .iter()
    .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    .collect()
}

/// The fields conditions test, for customers in `(after_id, through_id]`.
#[derive(Debug, Clone)]
pub struct CustomerFields {
    pub id: i64,
    pub industry: Option<String>,
    pub region: Option<String>,
    pub stage: String,
    pub tags: Vec<String>,
}

pub fn customer_fields(c: &mut Conn, after_id: i64, through_id: i64) -> Result<Vec<CustomerFields>> {
    let mut out: Vec<CustomerFields> = c
        .query(
            "SELECT id, industry, region, stage FROM customers WHERE id > $1 AND id <= $2 ORDER BY id",
            args![after_id, through_id],
        )?
        .iter()
        .map(|r| {
            Ok(CustomerFields {
                id: r.get(0)?,
                industry: r.get(1)?,
                region: r.get(2)?,
                stage: r.get(3)?,
                tags: Vec::new(),
            })
        })
        .collect::<Result<_>>()?;
    for r in c.query(
        "SELECT customer_id, tag FROM customer_tags WHERE customer_id > $1 AND customer_id <= $2 ORDER BY customer_id",
        args![after_id, through_id],
    )? {
        let id: i64 = r.get(0)?;
        if let Ok(i) = out.binary_search_by_key(&id, |x| x.id) {
            out[i].tags.push(r.get(1)?);
        }
    }
    Ok(out)
}

/// The largest customer id (0 when there is none).
pub fn max_customer_id(c: &mut Conn) -> Result<i64> {
    c.scalar("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM customers", &[])
}

/// A customer's stored segmentation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stored {
    pub customer_id: i64,
    pub tier: String,
    pub activity: String,
    pub spend_fen: i64,
    pub orders_total: i64,
    pub last_order_on: Option<Date>,
    pub last_interaction_on: Option<Date>,
    /// e.g. `545`.
    pub rfm: Option<String>,
    pub rfm_segment: Option<String>,
    /// Signal kinds that fired.
    pub signals: Vec<String>,
    /// JSON array of the signals with their evidence.
    pub evidence: String,
    pub rule_tags: Vec<String>,
    pub p_alive: Option<f64>,
    pub expected_purchases: Option<f64>,
    pub computed_at: Timestamp,
}

impl Stored {
    pub fn at_risk(&self) -> bool {
        !self.signals.is_empty()
    }

    /// Equal in what the job writes, apart from when it was computed.
    pub fn same_as(&self, other: &Stored) -> bool {
        let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-9,
            (None, None) => true,
            _ => false,
        };
        self.tier == other.tier
            && self.activity == other.activity
            && self.spend_fen == other.spend_fen
            && self.orders_total == other.orders_total
            && self.last_order_on == other.last_order_on
            && self.last_interaction_on == other.last_interaction_on
            && self.rfm == other.rfm
            && self.rfm_segment == other.rfm_segment
            && self.signals == other.signals
            && self.evidence == other.evidence
            && self.rule_tags == other.rule_tags
            && close(self.p_alive, other.p_alive)
            && close(self.expected_purchases, other.expected_purchases)
    }
}

/// `,a,b,` ↔ `[a, b]`: lists kept LIKE-searchable in one column.
fn join_list(xs: &[String]) -> String {
    if xs.is_empty() { ",".into() } else { format!(",{},", xs.join(",")) }
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',').filter(|x| !x.is_empty()).map(str::to_string).collect()
}

const STORED_COLS: &str = "s.customer_id, s.tier, s.activity, s.spend_fen, s.orders_total, s.last_order_on,
    s.last_interaction_on, s.rfm, s.rfm_segment, s.signals, s.evidence, s.rule_tags, s.p_alive,
    s.expected_purchases, s.computed_at";

fn stored(r: &crate::Row, at: usize) -> Result<Stored> {
    Ok(Stored {
        customer_id: r.get(at)?,
        tier: r.get(at + 1)?,
        activity: r.get(at + 2)?,
        spend_fen: r.get(at + 3)?,
        orders_total: r.get(at + 4)?,
        last_order_on: r.get(at + 5)?,
        last_interaction_on: r.get(at + 6)?,
        rfm: r.get(at + 7)?,
        rfm_segment: r.get(at + 8)?,
        signals: split_list(&r.get::<String>(at + 9)?),
        evidence: r.get(at + 10)?,
        rule_tags: split_list(&r.get::<String>(at + 11)?),
        p_alive: r.get(at + 12)?,
        expected_purchases: r.get(at + 13)?,
        computed_at: r.get(at + 14)?,
    })
}

pub fn stored_range(c: &mut Conn, after_id: i64, through_id: i64) -> Result<Vec<Stored>> {
    c.query(
        &format!(
            "SELECT {STORED_COLS} FROM customer_segments s WHERE s.customer_id > $1 AND s.customer_id <= $2
             ORDER BY s.customer_id"
        ),
        args![after_id, through_id],
    )?
    .iter()
    .map(|r| stored(r, 0))
    .collect()
}

pub fn get(c: &mut Conn, customer_id: i64) -> Result<Option<Stored>> {
    c.query_opt(&format!("SELECT {STORED_COLS} FROM customer_segments s WHERE s.customer_id = $1"), args![customer_id])?
        .map(|r| stored(&r, 0))
        .transpose()
}

/// Writes (inserts or replaces) computed rows, several per statement.
pub fn upsert(c: &mut Conn, rows: &[Stored]) -> Result<()> {
    let mut v: Vec<Value> = Vec::with_capacity(rows.len() * 16);
    for s in rows {
        v.extend([
            s.customer_id.into(),
            s.tier.as_str().into(),
            s.activity.as_str().into(),
            s.spend_fen.into(),
            s.orders_total.into(),
            s.last_order_on.into(),
            s.last_interaction_on.into(),
            s.rfm.clone().into(),
            s.rfm_segment.clone().into(),
            join_list(&s.signals).into(),
            s.evidence.as_str().into(),
            join_list(&s.rule_tags).into(),
            s.at_risk().into(),
            s.p_alive.into(),
            s.expected_purchases.into(),
            s.computed_at.into(),
        ]);
    }
    insert_rows(
        c,
        "INSERT INTO customer_segments (customer_id, tier, activity, spend_fen, orders_total, last_order_on,
            last_interaction_on, rfm, rfm_segment, signals, evidence, rule_tags, at_risk, p_alive,
            expected_purchases, computed_at) VALUES",
        16,
        v,
        "ON CONFLICT (customer_id) DO UPDATE SET tier = excluded.tier, activity = excluded.activity,
            spend_fen = excluded.spend_fen, orders_total = excluded.orders_total,
            last_order_on = excluded.last_order_on, last_interaction_on = excluded.last_interaction_on,
            rfm = excluded.rfm, rfm_segment = excluded.rfm_segment, signals = excluded.signals,
            evidence = excluded.evidence, rule_tags = excluded.rule_tags, at_risk = excluded.at_risk,
            p_alive = excluded.p_alive, expected_purchases = excluded.expected_purchases,
            computed_at = excluded.computed_at",
    )
}

// ---- Events for other capabilities ----

pub mod event {
    /// A churn warning was raised: the churn-recovery trigger of
    /// maintenance plans (SPEC M).
    pub const CHURN_WARNING: &str = "churn_warning";
}

/// (customer, kind, detail) events, written with the results that raised them.
pub fn add_events(c: &mut Conn, events: &[(i64, &str, String)], at: Timestamp) -> Result<()> {
    let mut v: Vec<Value> = Vec::with_capacity(events.len() * 4);
    for (id, kind, detail) in events {
        v.extend([(*id).into(), (*kind).into(), detail.as_str().into(), at.into()]);
    }
    insert_rows(c, "INSERT INTO segment_events (customer_id, kind, detail, at) VALUES", 4, v, "")
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: i64,
    pub customer_id: i64,
    pub kind: String,
    pub detail: String,
    pub at: Timestamp,
}

/// Unconsumed events of a kind, oldest first; a consumer marks them with
/// [`consume_events`] in the transaction that acts on them.
pub fn pending_events(c: &mut Conn, kind: &str, limit: i64) -> Result<Vec<Event>> {
    c.query(
        "SELECT id, customer_id, kind, detail, at FROM segment_events
         WHERE consumed_at IS NULL AND kind = $1 ORDER BY id LIMIT $2",
        args![kind, limit],
    )?
    .iter()
    .map(|r| Ok(Event { id: r.get(0)?, customer_id: r.get(1)?, kind: r.get(2)?, detail: r.get(3)?, at: r.get(4)? }))
    .collect()
}

pub fn consume_events(c: &mut Conn, ids: &[i64], at: Timestamp) -> Result<()> {
    for chunk in ids.chunks(500) {
        let mut v: Vec<Value> = vec![at.into()];
        v.extend(chunk.iter().map(|id| Value::I64(*id)));
        let marks: Vec<String> = (2..=chunk.len() + 1).map(|i| format!("${i}")).collect();
        c.execute(&format!("UPDATE segment_events SET consumed_at = $1 WHERE id IN ({})", marks.join(", ")), &v)?;
    }
    Ok(())
}

// ---- Read side ----

/// Customers per (tier, activity) within a scope.
pub fn tier_activity_counts(c: &mut Conn, scope: &Scope) -> Result<Vec<(String, String, i64)>> {
    let mut params = Vec::new();
    let cond = scope.condition(&mut params);
    c.query(
        &format!(
            "SELECT s.tier, s.activity, COUNT(*) FROM customer_segments s JOIN customers c ON c.id = s.customer_id
             WHERE {cond} GROUP BY s.tier, s.activity"
        ),
        &params,
    )?
    .iter()
    .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    .collect()
}

/// Customers per RFM segment within a scope.
pub fn rfm_counts(c: &mut Conn, scope: &Scope) -> Result<Vec<(String, i64)>> {
    let mut params = Vec::new();
    let cond = scope.condition(&mut params);
    c.query(
        &format!(
            "SELECT s.rfm_segment, COUNT(*) FROM customer_segments s JOIN customers c ON c.id = s.customer_id
             WHERE s.rfm_segment IS NOT NULL AND {cond} GROUP BY s.rfm_segment"
        ),
        &params,
    )?
    .iter()
    .map(|r| Ok((r.get(0)?, r.get(1)?)))
    .collect()
}

/// A customer with its segmentation, for lists.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub customer: Customer,
    pub segment: Stored,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberPage {
    pub items: Vec<Member>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// A SQL condition over `s` (customer_segments) and `c` (customers).
fn condition_sql(cond: &Condition, params: &mut Vec<Value>) -> String {
    let mut bind = |v: Value| {
        params.push(v);
        format!("${}", params.len())
    };
    match cond {
        Condition::Tier(t) => format!("s.tier = {}", bind(t.code().into())),
        Condition::Activity(a) => format!("s.activity = {}", bind(a.code().into())),
        Condition::RfmSegment(r) => format!("s.rfm_segment = {}", bind(r.code().into())),
        Condition::HasSignal(k) => format!("s.signals LIKE {}", bind(format!("%,{},%", k.code()).into())),
        Condition::AtRisk => format!("s.at_risk = {}", bind(true.into())),
        Condition::HasTag(t) => {
            let t = t.trim();
            let m = bind(t.into());
            // Rule-tag names may hold % and _ (not commas): matched literally.
            let escaped = t.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            let r = bind(format!("%,{escaped},%").into());
            format!(
                "(EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id AND t.tag = {m})
                  OR s.rule_tags LIKE {r} ESCAPE '\\')"
            )
        }
        Condition::Industry(i) => format!("c.industry = {}", bind(i.trim().into())),
        Condition::Region(r) => {
            let escaped = r.trim().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            format!("c.region LIKE {} ESCAPE '\\'", bind(format!("{escaped}%").into()))
        }
        Condition::Stage(s) => format!("c.stage = {}", bind(s.code().into())),
        Condition::MinSpend(m) => format!("s.spend_fen >= {}", bind(m.fen().into())),
        Condition::Any(xs) => {
            if xs.is_empty() {
                return "1 = 0".into();
            }
            let parts: Vec<String> = xs.iter().map(|x| condition_sql(x, params)).collect();
            format!("({})", parts.join(" OR "))
        }
    }
}

/// How a member list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberOrder {
    /// Lowest probability alive first (the churn-risk list).
    PAliveAsc,
    /// Highest spend first.
    SpendDesc,
}

/// The customers of a segment within a scope, a page at a time.
pub fn members(
    c: &mut Conn,
    scope: &Scope,
    seg: &Segment,
    order: MemberOrder,
    page: i64,
    per_page: i64,
) -> Result<MemberPage> {
    let mut params = Vec::new();
    let mut conds = vec![scope.condition(&mut params)];
    for x in &seg.all {
        conds.push(condition_sql(x, &mut params));
    }
    let where_ = conds.join(" AND ");
    let from =
        "FROM customer_segments s JOIN customers c ON c.id = s.customer_id LEFT JOIN users u ON u.id = c.owner_id";
    let total: i64 = c.scalar(
        &format!("SELECT COUNT(*) FROM customer_segments s JOIN customers c ON c.id = s.customer_id WHERE {where_}"),
        &params,
    )?;
    let per_page = per_page.clamp(1, 200);
    let page = page.max(1);
    params.push(per_page.into());
    let limit = params.len();
    params.push((page - 1).saturating_mul(per_page).into());
    let offset = params.len();
    let order_by = match order {
        MemberOrder::PAliveAsc => "COALESCE(s.p_alive, 1.0) ASC, s.spend_fen DESC, s.customer_id",
        MemberOrder::SpendDesc => "s.spend_fen DESC, s.customer_id",
    };
    let rows = c.query(
        &format!(
            "SELECT {}, {STORED_COLS} {from} WHERE {where_} ORDER BY {order_by} LIMIT ${limit} OFFSET ${offset}",
            crate::customers::CUSTOMER_SELECT
        ),
        &params,
    )?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(Member {
                customer: crate::customers::customer_row(r)?,
                segment: stored(r, crate::customers::CUSTOMER_SELECT_LEN)?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(MemberPage { items, total, page, per_page })
}

// ---- Saved segments ----

#[derive(Debug, Clone, Serialize)]
pub struct SavedSegment {
    pub id: i64,
    pub name: String,
    /// The segment as JSON (see `guanxi_domain::segment::Segment`).
    pub definition: String,
    pub created_at: Timestamp,
    /// Who saved it (they may rename, change and delete it).
    pub created_by: Option<i64>,
}

pub fn save_segment(c: &mut Conn, name: &str, definition: &str, by: i64, now: Timestamp) -> Result<i64> {
    let taken: i64 = c.scalar("SELECT COUNT(*) FROM saved_segments WHERE name = $1", args![name])?;
    if taken > 0 {
        let mut e = guanxi_domain::ValidationErrors::new();
        e.add("name", guanxi_domain::Issue::Taken);
        return Err(e.into());
    }
    c.insert_id(
        "INSERT INTO saved_segments (name, definition, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4)",
        args![name, definition, by, now],
    )
}

fn saved(r: &crate::Row) -> Result<SavedSegment> {
    Ok(SavedSegment {
        id: r.get(0)?,
        name: r.get(1)?,
        definition: r.get(2)?,
        created_at: r.get(3)?,
        created_by: r.get(4)?,
    })
}

/// Saved segments by name, a page at a time, with the total.
pub fn saved_segments_page(c: &mut Conn, page: i64, per_page: i64) -> Result<(Vec<SavedSegment>, i64)> {
    let total: i64 = c.scalar("SELECT COUNT(*) FROM saved_segments", &[])?;
    let per_page = per_page.clamp(1, 200);
    let offset = (page.max(1) - 1).saturating_mul(per_page);
    let items = c
        .query(
            "SELECT id, name, definition, created_at, created_by FROM saved_segments
             ORDER BY name, id LIMIT $1 OFFSET $2",
            args![per_page, offset],
        )?
        .iter()
        .map(saved)
        .collect::<Result<_>>()?;
    Ok((items, total))
}

pub fn saved_segment(c: &mut Conn, id: i64) -> Result<SavedSegment> {
    saved(&c.query_one(
        "SELECT id, name, definition, created_at, created_by FROM saved_segments WHERE id = $1",
        args![id],
    )?)
}

/// Renames a saved segment and replaces its definition; a name another
/// segment has is refused under `name`.
pub fn update_segment(c: &mut Conn, id: i64, name: &str, definition: &str, now: Timestamp) -> Result<()> {
    let taken: i64 = c.scalar("SELECT COUNT(*) FROM saved_segments WHERE name = $1 AND id <> $2", args![name, id])?;
    if taken > 0 {
        return Err(guanxi_domain::ValidationErrors::single("name", guanxi_domain::Issue::Taken).into());
    }
    let n = c.execute(
        "UPDATE saved_segments SET name = $1, definition = $2, updated_at = $3 WHERE id = $4",
        args![name, definition, now, id],
    )?;
    if n == 0 {
        return Err(crate::StoreError::NotFound);
    }
    Ok(())
}

pub fn delete_segment(c: &mut Conn, id: i64) -> Result<()> {
    if c.execute("DELETE FROM saved_segments WHERE id = $1", args![id])? == 0 {
        return Err(crate::StoreError::NotFound);
    }
    Ok(())
}

// ---- Churn reasons (G4) ----

/// Records the coded reason of a followed-up churn warning; returns its id.
pub fn add_churn_reason(
    c: &mut Conn,
    customer_id: i64,
    reason: &str,
    note: Option<&str>,
    by: i64,
    at: Timestamp,
) -> Result<i64> {
    c.insert_id(
        "INSERT INTO churn_reasons (customer_id, reason, note, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5)",
        args![customer_id, reason, note, by, at],
    )
}

/// Churn reasons recorded since `since`, counted per reason, within a scope.
pub fn churn_reason_counts(c: &mut Conn, scope: &Scope, since: Timestamp) -> Result<Vec<(String, i64)>> {
    let mut params: Vec<Value> = vec![since.into()];
    let cond = scope.condition(&mut params);
    c.query(
        &format!(
            "SELECT r.reason, COUNT(*) FROM churn_reasons r JOIN customers c ON c.id = r.customer_id
             WHERE r.recorded_at >= $1 AND {cond} GROUP BY r.reason ORDER BY COUNT(*) DESC, r.reason"
        ),
        &params,
    )?
    .iter()
    .map(|r| Ok((r.get(0)?, r.get(1)?)))
    .collect()
}
