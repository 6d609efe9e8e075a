//! Importing orders: attached to the customer a row names by code or
//! external id; idempotent by the order's external id, which every row must
//! give (an order already recorded is skipped, never changed).

use std::collections::HashMap;

use guanxi_domain::Issue;
use guanxi_domain::order::{OrderDraft, OrderInput};
use guanxi_store::orders;
use guanxi_store::timeline::{self, NewEntry, kind};

use super::fields::{self as f, Field, Mapping, Problem, Reason};
use super::table::Table;
use super::{Counts, CustomerRef, Cx, audit_batch, problem, push_field_errors, resolve_customers};
use crate::error::{AppError, AppResult};

pub const FIELDS: &[Field] = &[
    f::text("customer_code", &["客户编号"]),
    f::text("customer_external_id", &["客户外部编号", "客户外部id"]),
    f::date("ordered_on", &["下单日期", "订单日期", "购买日期", "日期"]),
    f::amount("amount", &["金额", "订单金额", "消费金额", "实付金额"]),
    f::text("product", &["产品", "产品名称", "商品", "商品名称"]),
    f::text("channel", &["渠道", "销售渠道", "购买渠道"]),
    f::text("external_id", &["订单号", "订单编号", "外部编号"]),
];

struct Parsed {
    line: usize,
    customer: CustomerRef,
    draft: OrderDraft,
    external_id: String,
}

fn parse_rows(table: &Table, mapping: &Mapping, today: jiff::civil::Date) -> (Vec<Parsed>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut parsed = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for row in &table.rows {
        let get = |name: &str| mapping.cell(&row.cells, f::field(FIELDS, name));
        let line = row.line;
        let customer = CustomerRef::from_row(mapping, &row.cells, FIELDS, line).map_err(|p| problems.push(p)).ok();
        let input = OrderInput {
            ordered_on: get("ordered_on").unwrap_or_default(),
            amount: get("amount").unwrap_or_default(),
            product: get("product"),
            channel: get("channel"),
            external_id: get("external_id"),
        };
        let draft = match OrderDraft::parse(&input, today) {
            Ok(d) => d,
            Err(e) => {
                push_field_errors(&mut problems, line, mapping, e);
                continue;
            }
        };
        // Without its own id an order could not be recognised when the
        // file is imported again.
        let Some(external_id) = draft.external_id.clone() else {
            problems.push(problem(line, mapping, "external_id", Issue::Required));
            continue;
        };
        if let Some(first) = seen.insert(external_id.clone(), line) {
            problems.push(problem(line, mapping, "external_id", Reason::DuplicateRow(first)));
            continue;
        }
        if let Some(customer) = customer {
            parsed.push(Parsed { line, customer, draft, external_id });
        }
    }
    (parsed, problems)
}

pub(super) async fn run(cx: &Cx<'_>, table: Table, mapping: Mapping) -> AppResult<Result<Counts, Vec<Problem>>> {
    let today = cx.today();
    let total = table.rows.len();
    let (parsed, mut problems) = {
        let mapping = mapping.clone();
        tokio::task::spawn_blocking(move || parse_rows(&table, &mapping, today))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
    };
    // (line, customer id, draft, already recorded)
    let mut planned: Vec<(usize, i64, OrderDraft, bool)> = Vec::with_capacity(parsed.len());
    let mut done = 0;
    for chunk in super::batches(parsed) {
        done += chunk.len();
        let ids = resolve_customers(cx.state, chunk.iter().map(|p| p.customer.clone()).collect()).await?;
        let exts: Vec<String> = chunk.iter().map(|p| p.external_id.clone()).collect();
        let recorded = cx.state.db.read(move |c| orders::existing_external_ids(c, &exts)).await?;
        for row in chunk {
            match ids.get(&row.customer) {
                Some(&customer_id) => {
                    let known = recorded.contains(&row.external_id);
                    planned.push((row.line, customer_id, row.draft, known));
                }
                None => problems.push(problem(row.line, &mapping, row.customer.field(), Issue::Unknown)),
            }
        }
        if cx.dry_run {
            (cx.progress)(done, total);
        }
    }
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let mut counts = Counts::default();
    counts.unchanged = planned.iter().filter(|p| p.3).count();
    counts.inserted = planned.len() - counts.unchanged;
    if cx.dry_run {
        return Ok(Ok(counts));
    }
    let now = cx.state.clock.now();
    let tz = cx.state.config.time_zone.clone();
    let actor_id = cx.actor.id;
    let mut written = Counts::default();
    let mut done = 0;
    for batch in super::batches(planned) {
        done += batch.len();
        let items: Vec<(usize, i64, OrderDraft)> =
            batch.into_iter().filter(|p| !p.3).map(|(line, id, d, _)| (line, id, d)).collect();
        if !items.is_empty() {
            let ip = cx.ip.clone();
            let tz = tz.clone();
            let n = cx
                .state
                .db
                .write(move |c| {
                    let mut n = Counts::default();
                    for (_, customer_id, draft) in &items {
                        match orders::insert(c, *customer_id, draft, now)? {
                            Some(id) => {
                                timeline::append(
                                    c,
                                    &NewEntry {
                                        customer_id: *customer_id,
                                        // An order has a date, not a time: noon in the business time zone.
                                        at: draft
                                            .ordered_on
                                            .at(12, 0, 0, 0)
                                            .to_zoned(tz.clone())
                                            .map_or(now, |z| z.timestamp()),
                                        kind: kind::ORDER,
                                        ref_id: Some(id),
                                        title: "order.created".into(),
                                        body: Some(format!(
                                            "¥{}{}",
                                            draft.amount,
                                            draft.product.as_deref().map(|p| format!(" · {p}")).unwrap_or_default()
                                        )),
                                        actor_id: None,
                                    },
                                )?;
                                n.inserted += 1;
                            }
                            // Recorded meanwhile by someone else: nothing changes.
                            None => n.unchanged += 1,
                        }
                    }
                    let lines: Vec<usize> = items.iter().map(|i| i.0).collect();
                    audit_batch(c, now, actor_id, "order", &lines, n, ip.as_deref())?;
                    Ok(n)
                })
                .await?;
            written.inserted += n.inserted;
            written.unchanged += n.unchanged;
        }
        (cx.progress)(done, total);
    }
    counts.inserted = written.inserted;
    counts.unchanged += written.unchanged;
    Ok(Ok(counts))
}
