//! Orders (SPEC C3) and behaviour events (C4): append-mostly facts pushed by
//! the company's systems, idempotent by their external ids.

use guanxi_domain::money::Money;
use guanxi_domain::order::OrderDraft;
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use crate::sql::Conn;
use crate::{Result, args};

/// Inserts an order; returns its id, or None when an order with the same
/// external id already exists (a re-sent order changes nothing).
pub fn insert(c: &mut Conn, customer_id: i64, d: &OrderDraft, now: Timestamp) -> Result<Option<i64>> {
    let row = c.query_opt(
        "INSERT INTO orders (customer_id, external_id, ordered_on, amount_fen, product, channel, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (external_id) DO NOTHING RETURNING id",
        args![
            customer_id,
            d.external_id.clone(),
            d.ordered_on,
            d.amount.fen(),
            d.product.clone(),
            d.channel.clone(),
            now
        ],
    )?;
    row.map(|r| r.get(0)).transpose()
}

/// Inserts many orders with a few multi-row statements: (customer, order).
/// Returns each order's id, or None for an order whose external id is
/// already stored (unchanged, as with [`insert`]).
pub fn insert_many(c: &mut Conn, items: &[(i64, &OrderDraft)], now: Timestamp) -> Result<Vec<Option<i64>>> {
    crate::customers::check_customers_exist(c, items.iter().map(|x| x.0))?;
    let ids = crate::sql::reserve_ids(c, "orders", items.len())?;
    let mut inserted = std::collections::HashSet::with_capacity(items.len());
    for (chunk, chunk_ids) in items.chunks(2_000).zip(ids.chunks(2_000)) {
        let mut v: Vec<crate::Value> = Vec::with_capacity(chunk.len() * 8);
        for ((customer_id, d), id) in chunk.iter().zip(chunk_ids) {
            v.extend([
                (*id).into(),
                (*customer_id).into(),
                d.external_id.clone().into(),
                d.ordered_on.into(),
                d.amount.fen().into(),
                d.product.clone().into(),
                d.channel.clone().into(),
                now.into(),
            ]);
        }
        let sql = format!(
            "INSERT INTO orders (id, customer_id, external_id, ordered_on, amount_fen, product, channel, created_at)
             VALUES {} ON CONFLICT (external_id) DO NOTHING RETURNING id",
            crate::sql::values_list(8, chunk.len())
        );
        for r in c.query(&sql, &v)? {
            inserted.insert(r.get::<i64>(0)?);
        }
    }
    Ok(ids.into_iter().map(|id| inserted.contains(&id).then_some(id)).collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct Order {
    pub id: i64,
    pub ordered_on: Date,
    pub amount: Money,
    pub product: Option<String>,
    pub channel: Option<String>,
    pub external_id: Option<String>,
}

pub fn recent(c: &mut Conn, customer_id: i64, limit: i64) -> Result<Vec<Order>> {
    c.query(
        "SELECT id, ordered_on, amount_fen, product, channel, external_id FROM orders
         WHERE customer_id = $1 ORDER BY ordered_on DESC, id DESC LIMIT $2",
        args![customer_id, limit],
    )?
    .iter()
    .map(|r| {
        Ok(Order {
            id: r.get(0)?,
            ordered_on: r.get(1)?,
            amount: Money::from_fen(r.get(2)?),
            product: r.get(3)?,
            channel: r.get(4)?,
            external_id: r.get(5)?,
        })
    })
    .collect()
}

/// 订单概况 on the 360 page.
#[derive(Debug, Clone, Serialize, Default)]
pub struct OrderSummary {
    /// Spend in the 12 months before today.
    pub spend_12m: Money,
    pub orders_12m: i64,
    pub orders_total: i64,
    pub spend_total: Money,
    pub last_order_on: Option<Date>,
}

pub fn summary(c: &mut Conn, customer_id: i64, today: Date) -> Result<OrderSummary> {
    let since = today.checked_sub(jiff::Span::new().years(1)).unwrap_or(today);
    let r = c.query_one(
        "SELECT CAST(COALESCE(SUM(CASE WHEN ordered_on > $2 THEN amount_fen ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN ordered_on > $2 THEN 1 ELSE 0 END), 0) AS BIGINT),
                COUNT(*), CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT), MAX(ordered_on)
         FROM orders WHERE customer_id = $1",
        args![customer_id, since],
    )?;
    Ok(OrderSummary {
        spend_12m: Money::from_fen(r.get(0)?),
        orders_12m: r.get(1)?,
        orders_total: r.get(2)?,
        spend_total: Money::from_fen(r.get(3)?),
        last_order_on: r.get(4)?,
    })
}

/// One behaviour event as the company's product sends it.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub customer_id: i64,
    pub event_id: String,
    pub kind: String,
    pub occurred_at: Timestamp,
    pub duration_secs: Option<i64>,
    pub feature: Option<String>,
}

/// Inserts a batch of events; ones already received (same event id) are
/// skipped. Returns how many were new.
pub fn insert_events(c: &mut Conn, events: &[NewEvent]) -> Result<u64> {
    let mut n = 0;
    for e in events {
        n += c.execute(
            "INSERT INTO behaviour_events (customer_id, event_id, kind, occurred_at, duration_secs, feature)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
            args![
                e.customer_id,
                e.event_id.as_str(),
                e.kind.as_str(),
                e.occurred_at,
                e.duration_secs,
                e.feature.clone()
            ],
        )?;
    }
    Ok(n)
}

/// The last login event of a customer.
pub fn last_login(c: &mut Conn, customer_id: i64) -> Result<Option<Timestamp>> {
    c.scalar(
        "SELECT MAX(occurred_at) FROM behaviour_events WHERE customer_id = $1 AND kind = 'login'",
        args![customer_id],
    )
}

/// Which of these order external ids are already recorded (an import skips
/// them). One query per 500 ids.
pub fn existing_external_ids(c: &mut Conn, external_ids: &[String]) -> Result<std::collections::HashSet<String>> {
    let mut out = std::collections::HashSet::new();
    for chunk in external_ids.chunks(500) {
        let values: Vec<crate::Value> = chunk.iter().map(|x| crate::Value::Text(x.clone())).collect();
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!("SELECT external_id FROM orders WHERE external_id IN ({})", marks.join(", "));
        for r in c.query(&sql, &values)? {
            out.insert(r.get::<String>(0)?);
        }
    }
    Ok(out)
}
