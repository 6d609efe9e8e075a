//! Personal data rights (SPEC S2): everything stored about one customer,
//! decrypted, as JSON and as a text a person reads — for a data subject's
//! access request. Each export is written to the audit log.

use guanxi_store::audit::{self, AuditEntry};
use guanxi_store::users::User;
use guanxi_store::{communications, contacts, customers, orders, tickets};
use serde_json::{Value, json};

use super::customer_scope;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Everything about one customer, personal fields in clear.
pub async fn export(state: &AppState, actor: &User, customer_id: i64, ip: Option<String>) -> AppResult<Value> {
    if !actor.role.can_reveal_personal_data() {
        return Err(AppError::Forbidden);
    }
    let (actor, now) = (actor.clone(), state.clock.now());
    let (customer, contact_rows, order_rows, comms, items, ticket_rows) = state
        .db
        .write(move |c| {
            let scope = customer_scope(c, &actor)?;
            let customer = customers::get(c, &scope, customer_id)?;
            let contact_rows = contacts::for_customer(c, customer_id)?;
            let order_rows = orders::recent(c, customer_id, i64::MAX)?;
            let comms = communications::for_customer(c, customer_id, i64::MAX)?;
            let items = communications::for_customer_items(c, customer_id)?;
            let mut ticket_rows = Vec::new();
            let mut before = None;
            loop {
                let page = tickets::of_customer(c, customer_id, before, 200)?;
                let Some(last) = page.last() else { break };
                before = Some((last.received_at.as_millisecond(), last.id));
                let done = page.len() < 200;
                ticket_rows.extend(page);
                if done {
                    break;
                }
            }
            audit::record(
                c,
                now,
                &AuditEntry {
                    actor_id: Some(actor.id),
                    action: "export",
                    entity: "customer",
                    entity_id: Some(customer_id),
                    detail: "personal data".into(),
                    ip: ip.as_deref(),
                },
            )?;
            Ok((customer, contact_rows, order_rows, comms, items, ticket_rows))
        })
        .await?;
    let clear = |s: &Option<String>| -> AppResult<Option<String>> {
        s.as_ref().map(|x| state.cipher.decrypt(x).map_err(|e| AppError::Internal(e.to_string()))).transpose()
    };
    let mut c = serde_json::to_value(&customer).map_err(|e| AppError::Internal(e.to_string()))?;
    c["phone"] = json!(clear(&customer.phone_ciphertext)?);
    c["email"] = json!(clear(&customer.email_ciphertext)?);
    let mut people = Vec::new();
    for k in &contact_rows {
        let mut v = serde_json::to_value(k).map_err(|e| AppError::Internal(e.to_string()))?;
        for (field, stored) in ["phone", "email", "wechat", "birthday", "address"].iter().zip(&k.ciphertexts) {
            v[*field] = json!(clear(stored)?);
        }
        people.push(v);
    }
    Ok(json!({
        "exported_at": now.to_string(),
        "customer": c,
        "contacts": people,
        "orders": order_rows,
        "communications": comms,
        "action_items": items,
        "tickets": ticket_rows,
    }))
}

fn line(out: &mut String, label: &str, v: &Value) {
    let text = match v {
        Value::Null => return,
        Value::String(s) if s.is_empty() => return,
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "是" } else { "否" }.to_string(),
        Value::Array(a) if a.is_empty() => return,
        Value::Array(a) => {
            a.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)).collect::<Vec<_>>().join("、")
        }
        other => other.to_string(),
    };
    out.push_str(&format!("  {label}：{text}\n"));
}

/// A section of the text: its title, the key of its records, and each
/// field's label and key.
type Section<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

/// The export as a text a person reads (Chinese labels, one section per kind of record).
pub fn as_text(data: &Value) -> String {
    let mut out = String::new();
    let c = &data["customer"];
    out.push_str(&format!(
        "个人信息导出 Personal data export\n客户 {} {}\n导出时间 {}\n\n【客户档案】\n",
        c["code"].as_str().unwrap_or(""),
        c["name"].as_str().unwrap_or(""),
        data["exported_at"].as_str().unwrap_or("")
    ));
    for (label, key) in [
        ("名称", "name"),
        ("类型", "kind"),
        ("行业", "industry"),
        ("地区", "region"),
        ("电话", "phone"),
        ("邮箱", "email"),
        ("负责人", "owner_name"),
        ("偏好渠道", "preferred_channel"),
        ("偏好联系时段", "contact_window"),
        ("营销授权", "marketing_consent"),
        ("标签", "tags"),
        ("备注", "notes"),
        ("决策链备注", "decision_chain"),
        ("创建时间", "created_at"),
    ] {
        line(&mut out, label, &c[key]);
    }
    let sections: [Section<'_>; 5] = [
        (
            "联系人",
            "contacts",
            &[
                ("姓名", "name"),
                ("职务", "title"),
                ("电话", "phone"),
                ("邮箱", "email"),
                ("微信", "wechat"),
                ("生日", "birthday"),
                ("地址", "address"),
            ],
        ),
        ("订单", "orders", &[("日期", "ordered_on"), ("金额", "amount"), ("产品", "product"), ("渠道", "channel")]),
        (
            "沟通记录",
            "communications",
            &[
                ("时间", "occurred_at"),
                ("渠道", "channel"),
                ("事由", "purpose"),
                ("内容摘要", "summary"),
                ("客户反馈", "feedback"),
                ("处理结果", "result"),
            ],
        ),
        ("后续行动", "action_items", &[("内容", "content"), ("期限", "due_at"), ("状态", "status")]),
        (
            "工单",
            "tickets",
            &[
                ("工单号", "number"),
                ("主题", "subject"),
                ("描述", "description"),
                ("状态", "status"),
                ("受理时间", "received_at"),
            ],
        ),
    ];
    for (title, key, fields) in sections {
        let rows = data[key].as_array().cloned().unwrap_or_default();
        out.push_str(&format!("\n【{title}】（{} 条）\n", rows.len()));
        for (i, r) in rows.iter().enumerate() {
            out.push_str(&format!("{}.\n", i + 1));
            for (label, f) in fields {
                line(&mut out, label, &r[*f]);
            }
        }
    }
    out
}

/// Erases a customer's personal data by anonymisation, keeping what
/// statistics need (see [`guanxi_store::privacy::anonymise`]); the files of
/// their tickets are removed once no other ticket holds them. Audited.
pub async fn anonymise(state: &AppState, actor: &User, customer_id: i64, ip: Option<String>) -> AppResult<()> {
    if !actor.role.can_delete_customers() {
        return Err(AppError::Forbidden);
    }
    let (actor, now) = (actor.clone(), state.clock.now());
    let files = state
        .db
        .write(move |c| {
            let scope = customer_scope(c, &actor)?;
            let customer = customers::get(c, &scope, customer_id)?;
            let label = format!("已匿名客户 {}", customer.code);
            let files = guanxi_store::privacy::anonymise(c, customer_id, &label, now)?;
            audit::record(
                c,
                now,
                &AuditEntry {
                    actor_id: Some(actor.id),
                    action: "anonymise",
                    entity: "customer",
                    entity_id: Some(customer_id),
                    detail: customer.code,
                    ip: ip.as_deref(),
                },
            )?;
            Ok(files)
        })
        .await?;
    super::tickets::attachments::forget(state, files).await;
    Ok(())
}

/// The daily job that scrubs closed tickets past the retention limit
/// (`GUANXI_TICKET_RETENTION_DAYS`, SPEC S2).
pub const RETENTION_JOB: &str = "privacy.ticket_retention";
/// Tickets visited per transaction.
pub const RETENTION_BATCH: i64 = 200;
/// Where the walk over closed tickets stopped (`closed_at|id`): a run
/// continues there, so old tickets are not visited again every day. A
/// reopened ticket loses its `closed_at` and is closed later again: it is
/// after the cursor.
const RETENTION_CURSOR: &str = "privacy.ticket_retention.after";

/// Arms the retention job to run now (at start-up), or disarms it when
/// retention is off.
pub async fn arm_retention(
    db: &guanxi_store::Db,
    config: &crate::config::Config,
    now: jiff::Timestamp,
) -> AppResult<()> {
    let on = config.ticket_retention_days.is_some();
    db.write(move |c| {
        if on {
            guanxi_store::jobs::schedule(c, RETENTION_JOB, "tickets", now, "", now)
        } else {
            guanxi_store::jobs::cancel(c, RETENTION_JOB, "tickets", now)
        }
    })
    .await?;
    Ok(())
}

fn parse_cursor(v: &str) -> Option<(jiff::Timestamp, i64)> {
    let (at, id) = v.split_once('|')?;
    Some((at.parse().ok()?, id.parse().ok()?))
}

/// Runs the retention job: batch after batch, each in its own transaction
/// with its audit entries (one per scrubbed ticket, no actor), then the
/// files no ticket holds any more; due again a day later.
pub async fn run_retention(state: &AppState, lease: guanxi_store::jobs::Lease) -> AppResult<()> {
    use guanxi_store::{StoreError, jobs, privacy, settings};
    let now = state.clock.now();
    let next = state.config.ticket_retention_days.map(|_| now.checked_add(jiff::SignedDuration::from_hours(24)));
    if let Some(days) = state.config.ticket_retention_days {
        let cutoff = now.checked_sub(jiff::SignedDuration::from_hours(24 * days)).unwrap_or(now);
        loop {
            let batch = state
                .db
                .write(move |c| {
                    let after = settings::get(c, RETENTION_CURSOR)?.as_deref().and_then(parse_cursor);
                    let b = privacy::scrub_closed_tickets(c, cutoff, after, RETENTION_BATCH)?;
                    for (id, number) in &b.tickets {
                        audit::record(
                            c,
                            now,
                            &AuditEntry {
                                actor_id: None,
                                action: "retention_scrub",
                                entity: "ticket",
                                entity_id: Some(*id),
                                detail: number.clone(),
                                ip: None,
                            },
                        )?;
                    }
                    if let Some((at, id)) = b.last {
                        settings::set(c, RETENTION_CURSOR, &format!("{at}|{id}"), now)?;
                    }
                    Ok(b)
                })
                .await?;
            let done = batch.last.is_none();
            super::tickets::attachments::forget(state, batch.files).await;
            if done {
                break;
            }
        }
    }
    let next = next.and_then(Result::ok);
    let kept = state
        .db
        .write(move |c| {
            if jobs::finish(c, &lease, now, next)? {
                Ok(())
            } else {
                Err(StoreError::Other(super::tickets::clocks::LEASE_LOST.into()))
            }
        })
        .await;
    kept.map_err(Into::into)
}
