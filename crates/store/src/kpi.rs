//! Measurement (SPEC R1): the counted figures ticket KPIs are computed
//! from, per local day of receipt and slice, as SQL aggregates over the
//! `tickets_kpi` index (migration 0015). Durations come back as histograms
//! of whole minutes, so that percentiles are exact and days add up into
//! weeks and months in the caller; nothing loads the tickets themselves.

use guanxi_domain::kpi::GroupBy;
use jiff::Timestamp;

use crate::sql::{Conn, Value};
use crate::{Result, args};

const DAY_MS: i64 = 86_400_000;

/// The local day number (days since 1970-01-01 in the business zone) of
/// the receipt, given the zone's offset in milliseconds.
const DAY: &str = "(t.received_at + $3) / 86400000";

/// The SQL of a slice's key and the join it needs.
fn slice(group: GroupBy) -> (&'static str, &'static str) {
    match group {
        GroupBy::None => ("''", ""),
        GroupBy::Team => ("CAST(COALESCE(t.group_id, 0) AS TEXT)", ""),
        GroupBy::Agent => ("CAST(COALESCE(t.assignee_id, 0) AS TEXT)", ""),
        GroupBy::Channel => ("t.channel", ""),
        GroupBy::Category => ("t.category", ""),
        GroupBy::Tier => ("COALESCE(s.tier, '')", "LEFT JOIN customer_segments s ON s.customer_id = t.customer_id"),
    }
}

/// The counts of one local day and slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCounts {
    /// Days since 1970-01-01 in the business zone.
    pub day: i64,
    pub key: String,
    pub received: i64,
    pub resolved: i64,
    pub breached: i64,
    pub repeats: i64,
}

/// Converts a day number back to its date.
pub fn day_date(day: i64) -> jiff::civil::Date {
    let epoch = jiff::civil::date(1970, 1, 1);
    epoch.checked_add(jiff::Span::new().days(day)).unwrap_or(epoch)
}

/// The day number of a local date.
pub fn day_number(d: jiff::civil::Date) -> i64 {
    i64::from((d - jiff::civil::date(1970, 1, 1)).get_days())
}

/// The instants bounding local days `[from_day, to_day]` for the given zone offset.
fn bounds(from_day: i64, to_day: i64, offset_ms: i64) -> (i64, i64) {
    (from_day * DAY_MS - offset_ms, (to_day + 1) * DAY_MS - offset_ms)
}

/// Counts of the tickets received on local days `[from_day, to_day]`,
/// per day and slice.
pub fn ticket_counts(
    c: &mut Conn,
    from_day: i64,
    to_day: i64,
    offset_ms: i64,
    group: GroupBy,
) -> Result<Vec<DayCounts>> {
    let (lo, hi) = bounds(from_day, to_day, offset_ms);
    let (key, join) = slice(group);
    let rows = c.query(
        &format!(
            "SELECT {DAY}, {key}, COUNT(*),
                CAST(SUM(CASE WHEN t.resolved_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT),
                CAST(SUM(CASE WHEN t.sla_breached THEN 1 ELSE 0 END) AS BIGINT),
                CAST(SUM(CASE WHEN t.repeat_of IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT)
             FROM tickets t {join}
             WHERE t.received_at >= $1 AND t.received_at < $2
             GROUP BY 1, 2 ORDER BY 1, 2"
        ),
        args![lo, hi, offset_ms],
    )?;
    rows.iter()
        .map(|r| {
            Ok(DayCounts {
                day: r.get(0)?,
                key: r.get(1)?,
                received: r.get(2)?,
                resolved: r.get(3)?,
                breached: r.get(4)?,
                repeats: r.get(5)?,
            })
        })
        .collect()
}

/// Which duration a histogram is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duration {
    /// Receipt to first reply.
    FirstResponse,
    /// Receipt to resolution.
    Resolution,
}

/// Histogram rows (day, slice key, whole minutes, tickets) of a duration
/// of the tickets received on local days `[from_day, to_day]`.
pub fn ticket_durations(
    c: &mut Conn,
    from_day: i64,
    to_day: i64,
    offset_ms: i64,
    group: GroupBy,
    which: Duration,
    mut each: impl FnMut(i64, String, i64, i64),
) -> Result<()> {
    let (lo, hi) = bounds(from_day, to_day, offset_ms);
    let (key, join) = slice(group);
    let end = match which {
        Duration::FirstResponse => "t.first_response_at",
        Duration::Resolution => "t.resolved_at",
    };
    // Streamed: a year holds hundreds of thousands of (day, slice, minutes)
    // rows, which collected as rows took tens of megabytes per report.
    c.query_each(
        &format!(
            "SELECT {DAY}, {key}, ({end} - t.received_at) / 60000, COUNT(*)
             FROM tickets t {join}
             WHERE t.received_at >= $1 AND t.received_at < $2 AND {end} IS NOT NULL
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        ),
        args![lo, hi, offset_ms],
        |mut r| {
            each(r.get(0)?, r.take(1)?, r.get(2)?, r.get(3)?);
            Ok(())
        },
    )
}

/// Every slice of a staff dimension, with its name: all groups (team), or
/// all active agents (agent) — so that an agent without tickets is listed
/// too. Other dimensions have closed vocabularies: empty.
pub fn staff_slices(c: &mut Conn, group: GroupBy) -> Result<Vec<(String, String)>> {
    let sql = match group {
        GroupBy::Team => "SELECT CAST(id AS TEXT), name FROM groups ORDER BY name, id",
        GroupBy::Agent => {
            "SELECT CAST(id AS TEXT), name FROM users WHERE active = $1 AND role = 'agent' ORDER BY name, id"
        }
        _ => return Ok(Vec::new()),
    };
    let params: Vec<Value> = if group == GroupBy::Agent { vec![Value::Bool(true)] } else { Vec::new() };
    let rows = c.query(sql, &params)?;
    rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?))).collect()
}

/// The names of the given users or groups (slices met in the data that
/// [`staff_slices`] did not list, e.g. an inactive agent).
pub fn staff_names(c: &mut Conn, group: GroupBy, ids: &[i64]) -> Result<Vec<(String, String)>> {
    let table = match group {
        GroupBy::Team => "groups",
        GroupBy::Agent => "users",
        _ => return Ok(Vec::new()),
    };
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let params: Vec<Value> = chunk.iter().map(|i| Value::I64(*i)).collect();
        let rows = c.query(
            &format!("SELECT CAST(id AS TEXT), name FROM {table} WHERE id IN ({})", marks.join(", ")),
            &params,
        )?;
        for r in &rows {
            out.push((r.get(0)?, r.get(1)?));
        }
    }
    Ok(out)
}

/// Tickets received in `[from, to)` per category (for the Pareto chart),
/// most first.
pub fn category_counts(c: &mut Conn, from: Timestamp, to: Timestamp) -> Result<Vec<(String, i64)>> {
    let rows = c.query(
        "SELECT t.category, COUNT(*) FROM tickets t WHERE t.received_at >= $1 AND t.received_at < $2
         GROUP BY t.category ORDER BY 2 DESC, 1",
        args![from, to],
    )?;
    rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?))).collect()
}

/// The `limit` most frequent subjects of each category among the tickets
/// received in `[from, to)`, most first: (category, subject, tickets). One
/// pass over the period for every category (a pass per category read the
/// period's tickets once per category).
pub fn top_subjects_by_category(
    c: &mut Conn,
    from: Timestamp,
    to: Timestamp,
    limit: usize,
) -> Result<Vec<(String, String, i64)>> {
    let rows = c.query(
        "SELECT t.category, t.subject, COUNT(*) FROM tickets t
         WHERE t.received_at >= $1 AND t.received_at < $2
         GROUP BY t.category, t.subject ORDER BY 1, 3 DESC, 2",
        args![from, to],
    )?;
    let mut out: Vec<(String, String, i64)> = Vec::new();
    let mut taken = 0;
    for r in &rows {
        let (category, subject, n): (String, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        if out.last().is_none_or(|last| last.0 != category) {
            taken = 0;
        }
        if taken < limit {
            out.push((category, subject, n));
            taken += 1;
        }
    }
    Ok(out)
}

/// The most frequent subjects of all tickets received in `[from, to)` (the
/// top pain points): (category, subject, tickets), most first.
pub fn top_subjects_all(
    c: &mut Conn,
    from: Timestamp,
    to: Timestamp,
    limit: i64,
) -> Result<Vec<(String, String, i64)>> {
    let rows = c.query(
        "SELECT t.category, t.subject, COUNT(*) FROM tickets t
         WHERE t.received_at >= $1 AND t.received_at < $2
         GROUP BY t.category, t.subject ORDER BY 3 DESC, 1, 2 LIMIT $3",
        args![from, to, limit],
    )?;
    rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).collect()
}

/// The SQL of a slice's key over a ticket joined as `t` whose customer is
/// `customer` (the ticket's, or the survey's when there is no ticket);
/// absent tickets give `''` or `0`.
fn ticket_slice(group: GroupBy, customer: &str) -> (String, String) {
    let (key, _) = slice(group);
    let join = if group == GroupBy::Tier {
        format!("LEFT JOIN customer_segments s ON s.customer_id = {customer}")
    } else {
        String::new()
    };
    (format!("COALESCE({key}, '')"), join)
}

/// The two counts (numerator, denominator) of a ratio KPI (every KPI whose
/// source is neither tickets nor maintenance) over one period, per slice:
/// (slice key, num, den). The period is `[lo, hi)` as instants and
/// `[lo_day, hi_day)` as business dates (orders are dated). One aggregate
/// statement per call, over an index of the period's records.
#[allow(clippy::too_many_lines)]
pub fn ratio_counts(
    c: &mut Conn,
    name: &str,
    lo: Timestamp,
    hi: Timestamp,
    lo_day: jiff::civil::Date,
    hi_day: jiff::civil::Date,
    group: GroupBy,
) -> Result<Vec<(String, i64, i64)>> {
    let sum = |cond: &str| format!("CAST(COALESCE(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END), 0) AS BIGINT)");
    let (sql, params): (String, Vec<Value>) = match name {
        "complaint_timeout_rate" => {
            let (key, join) = ticket_slice(group, "t.customer_id");
            (
                format!(
                    "SELECT {key}, {}, COUNT(*) FROM complaints p JOIN tickets t ON t.id = p.ticket_id {join}
                     WHERE p.registered_at >= $1 AND p.registered_at < $2 GROUP BY 1",
                    sum("p.overdue")
                ),
                vec![lo.into(), hi.into()],
            )
        }
        "csat_average" | "csat_satisfied_share" | "nps" | "feedback_collection_rate" => {
            let (key, join) = ticket_slice(group, "v.customer_id");
            let (num, kinds, time) = match name {
                "csat_average" => ("CAST(COALESCE(SUM(v.score), 0) AS BIGINT)".to_string(), "'csat'", "v.answered_at"),
                "csat_satisfied_share" => (sum("v.score >= 4"), "'csat'", "v.answered_at"),
                "nps" => (
                    "CAST(COALESCE(SUM(CASE WHEN v.score >= 9 THEN 1 WHEN v.score <= 6 THEN -1 ELSE 0 END), 0) AS BIGINT)"
                        .to_string(),
                    "'nps'",
                    "v.answered_at",
                ),
                _ => (sum("v.answered_at IS NOT NULL"), "'csat', 'nps'", "v.created_at"),
            };
            let answered = if time == "v.answered_at" { "AND v.score IS NOT NULL" } else { "" };
            (
                format!(
                    "SELECT {key}, {num}, COUNT(*) FROM surveys v
                     LEFT JOIN tickets t ON v.source = 'ticket' AND t.id = v.source_id {join}
                     WHERE {time} >= $1 AND {time} < $2 AND v.kind IN ({kinds}) {answered} GROUP BY 1"
                ),
                vec![lo.into(), hi.into()],
            )
        }
        "script_effect" => {
            let key = match group {
                GroupBy::Agent => "CAST(COALESCE(x.user_id, 0) AS TEXT)",
                GroupBy::Team => "CAST(COALESCE(u.group_id, 0) AS TEXT)",
                _ => "''",
            };
            (
                format!(
                    "SELECT {key}, {}, COUNT(*) FROM script_uses x LEFT JOIN users u ON u.id = x.user_id
                     WHERE x.used_at >= $1 AND x.used_at < $2 AND x.outcome IS NOT NULL GROUP BY 1",
                    sum("x.outcome = 'achieved'")
                ),
                vec![lo.into(), hi.into()],
            )
        }
        "channel_reach_rate" => {
            let key = if group == GroupBy::Channel { "o.channel" } else { "''" };
            (
                format!(
                    "SELECT {key}, {}, COUNT(*) FROM outbox o
                     WHERE o.created_at >= $1 AND o.created_at < $2 AND o.status IN ('sent', 'failed') GROUP BY 1",
                    sum("o.status = 'sent'")
                ),
                vec![lo.into(), hi.into()],
            )
        }
        "feedback_closed_loop_rate" => {
            // The told message is the outbox row keyed `feedback-told-{id}`
            // (one per ticket, queued when it is resolved; SPEC O5).
            let (key, join) = ticket_slice(group, "t.customer_id");
            (
                format!(
                    "SELECT {key}, {}, COUNT(*) FROM tickets t
                     LEFT JOIN outbox o ON o.idempotency_key = 'feedback-told-' || CAST(t.id AS TEXT) {join}
                     WHERE t.received_at >= $1 AND t.received_at < $2
                       AND t.ticket_type IN ('feedback', 'suggestion') GROUP BY 1",
                    sum("t.resolved_at IS NOT NULL AND o.status = 'sent' AND o.sent_at <= t.resolved_at + 7200000")
                ),
                vec![lo.into(), hi.into()],
            )
        }
        "cross_department_time" => {
            // Hand-overs answered in the period (migration 0030); by team,
            // the department that took the ticket.
            let (key, join) = if group == GroupBy::Team {
                ("CAST(COALESCE(h.group_id, 0) AS TEXT)".to_string(), String::new())
            } else {
                ticket_slice(group, "t.customer_id")
            };
            (
                format!(
                    "SELECT {key}, CAST(COALESCE(SUM(h.working_days_milli), 0) AS BIGINT), COUNT(*)
                     FROM department_handovers h JOIN tickets t ON t.id = h.ticket_id {join}
                     WHERE h.answered_at >= $1 AND h.answered_at < $2 GROUP BY 1"
                ),
                vec![lo.into(), hi.into()],
            )
        }
        "churn_rate" | "core_customer_retention" | "churn_warning_recall" => {
            let counts = churn_counts(c, &[name], hi, lo_day, hi_day, group)?;
            return Ok(counts.into_iter().next().unwrap_or_default());
        }
        "repurchase_rate" => {
            let (key, join) = if group == GroupBy::Tier {
                ("COALESCE(s.tier, '')", "LEFT JOIN customer_segments s ON s.customer_id = x.customer_id")
            } else {
                ("''", "")
            };
            (
                format!(
                    "SELECT {key}, {}, COUNT(*)
                     FROM (SELECT DISTINCT o.customer_id FROM orders o WHERE o.ordered_on >= $1 AND o.ordered_on < $2) x
                     {join} GROUP BY 1",
                    sum("EXISTS (SELECT 1 FROM orders p WHERE p.customer_id = x.customer_id AND p.ordered_on < $1)")
                ),
                vec![lo_day.into(), hi_day.into()],
            )
        }
        "new_customer_activation" => (
            format!(
                "SELECT '', {}, COUNT(*) FROM customers c WHERE c.created_at >= $1 AND c.created_at < $2",
                sum(
                    "EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.ordered_on >= $3 AND o.ordered_on < $4)"
                )
            ),
            vec![lo.into(), hi.into(), lo_day.into(), hi_day.into()],
        ),
        "tier_coverage" => (
            "SELECT '', COUNT(s.customer_id), COUNT(*) FROM customers c
             LEFT JOIN customer_segments s ON s.customer_id = c.id WHERE c.created_at < $1"
                .to_string(),
            vec![hi.into()],
        ),
        _ => return Ok(Vec::new()),
    };
    let rows = c.query(&sql, &params)?;
    rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).collect()
}

/// The KPIs counted from the customers' orders around a period's two
/// ends ([`churn_counts`]): one scan of the orders serves all three.
pub const CHURN_KPIS: [&str; 3] = ["churn_rate", "core_customer_retention", "churn_warning_recall"];

/// The (slice key, num, den) rows of each of `names` (some of
/// [`CHURN_KPIS`]), in that order, over one period, from ONE statement:
/// the customers with an order in the 12 months before the period's start
/// (their last order before the start is no older than that), and the
/// last order of each before the period's end (churned when that is more
/// than 12 months before the end); the three KPIs' counts are sums over
/// those customers. Each last order is one seek into `orders_customer_amount`
/// (customer, day) per customer: no grouping of a year of orders, no
/// temporary b-tree, whatever the length of the order history. The
/// customers are materialised so that each last order is looked up once
/// however many sums read it.
/// A slice is listed for a KPI only when the KPI counts someone in it, as
/// when each KPI had its own statement.
pub fn churn_counts(
    c: &mut Conn,
    names: &[&str],
    hi: Timestamp,
    lo_day: jiff::civil::Date,
    hi_day: jiff::civil::Date,
    group: GroupBy,
) -> Result<Vec<Vec<(String, i64, i64)>>> {
    let year = jiff::Span::new().months(12);
    let (lo12, hi12) = (lo_day.checked_sub(year).unwrap_or(lo_day), hi_day.checked_sub(year).unwrap_or(hi_day));
    let sum = |cond: &str| format!("CAST(COALESCE(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END), 0) AS BIGINT)");
    let wants = |n: &str| names.contains(&n);
    let key = if group == GroupBy::Tier { "COALESCE(s.tier, '')" } else { "''" };
    // The tier only when it is read: a lookup per customer otherwise saved.
    let join = if group == GroupBy::Tier || wants("core_customer_retention") {
        "LEFT JOIN customer_segments s ON s.customer_id = x.customer_id"
    } else {
        ""
    };
    let (core, kept) = if wants("core_customer_retention") {
        (sum("s.tier = 'high'"), sum("s.tier = 'high' AND x.last_on >= $4"))
    } else {
        ("CAST(0 AS BIGINT)".to_string(), "CAST(0 AS BIGINT)".to_string())
    };
    // The warning is looked up for the churned only (CASE evaluates
    // lazily on both engines).
    let (warned, mut params): (String, Vec<Value>) = (
        if wants("churn_warning_recall") {
            "CAST(COALESCE(SUM(CASE WHEN x.last_on < $4 THEN CASE WHEN EXISTS (SELECT 1 FROM segment_events e
                 WHERE e.customer_id = x.customer_id AND e.kind = 'churn_warning' AND e.at < $5) THEN 1 ELSE 0 END
                 ELSE 0 END), 0) AS BIGINT)"
                .to_string()
        } else {
            "CAST(0 AS BIGINT)".to_string()
        },
        vec![lo12.into(), hi_day.into(), lo_day.into(), hi12.into()],
    );
    if wants("churn_warning_recall") {
        params.push(hi.into());
    }
    let rows = c.query(
        &format!(
            "WITH x AS MATERIALIZED (
                 SELECT c.id AS customer_id,
                     (SELECT MAX(o.ordered_on) FROM orders o WHERE o.customer_id = c.id AND o.ordered_on < $2) AS last_on
                 FROM customers c
                 WHERE (SELECT MAX(o.ordered_on) FROM orders o WHERE o.customer_id = c.id AND o.ordered_on < $3) >= $1)
             SELECT {key}, COUNT(*), {churned}, {core}, {kept}, {warned} FROM x {join} GROUP BY 1",
            churned = sum("x.last_on < $4"),
        ),
        &params,
    )?;
    let mut out = vec![Vec::new(); names.len()];
    for r in &rows {
        let key: String = r.get(0)?;
        let (customers, churned, core, kept, warned): (i64, i64, i64, i64, i64) =
            (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?);
        for (i, name) in names.iter().enumerate() {
            let (num, den) = match *name {
                "churn_rate" => (churned, customers),
                "core_customer_retention" => (kept, core),
                "churn_warning_recall" => (warned, churned),
                _ => continue,
            };
            if den > 0 {
                out[i].push((key.clone(), num, den));
            }
        }
    }
    Ok(out)
}

/// Customers per (tier, activity) as the last segmentation run counted
/// them (the `segment_counts` rollup, migration 0019): a handful of rows
/// whatever the number of customers.
pub fn tier_activity_rollup(c: &mut Conn) -> Result<Vec<(String, String, i64)>> {
    let rows = c.query("SELECT tier, activity, customers FROM segment_counts ORDER BY tier, activity", &[])?;
    rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).collect()
}

/// Recounts the rollup from the stored segments (the segmentation job,
/// once after writing its rows: one count per run, not per page view).
pub fn refresh_tier_activity(c: &mut Conn, at: Timestamp) -> Result<()> {
    c.execute("DELETE FROM segment_counts", &[])?;
    c.execute(
        "INSERT INTO segment_counts (tier, activity, customers, computed_at)
         SELECT tier, activity, COUNT(*), $1 FROM customer_segments GROUP BY tier, activity",
        args![at],
    )?;
    Ok(())
}
