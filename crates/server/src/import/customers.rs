//! Importing customers: matched by 客户编号 or external id and updated, else
//! inserted.

use std::collections::HashMap;

use guanxi_domain::Issue;
use guanxi_domain::customer::{
    Channel, CustomerCode, CustomerDraft, CustomerInput, CustomerKind, LifecycleStage, Scale, split_tags,
};
use guanxi_store::customers::{self, Customer, OwnerCandidate, Scope, Sealed};
use guanxi_store::timeline::{self, NewEntry, kind};

use super::fields::{self as f, Field, Mapping, Problem, Reason, vocabulary_code};
use super::table::{Row, Table};
use super::{Counts, Cx, audit_batch, problem, push_field_errors};
use crate::crypto::PiiCipher;
use crate::error::{AppError, AppResult};

pub const FIELDS: &[Field] = &[
    f::text("code", &["客户编号", "customer_code"]),
    f::text("name", &["客户名称", "名称", "公司名称", "企业名称", "客户姓名", "customer_name"]),
    f::text("kind", &["客户类型", "类型"]),
    f::text("industry", &["所属行业", "行业"]),
    f::text("scale", &["企业规模", "规模", "公司规模"]),
    f::text("region", &["地区", "所在地区", "区域", "省市"]),
    f::text("decision_chain", &["决策链备注", "决策链"]),
    f::text("phone", &["联系电话", "电话", "手机", "手机号", "手机号码", "电话号码"]),
    f::text("email", &["联系邮箱", "邮箱", "电子邮箱", "邮件"]),
    f::text("owner_id", &["负责人", "专属客服", "专属顾问", "客户经理", "负责人邮箱", "owner", "owner_email"]),
    f::date("cooperation_start", &["合作开始", "合作开始日期", "合作开始时间"]),
    f::date("first_purchase_on", &["首次购买", "首次购买日期", "首次购买时间"]),
    f::date("last_cooperation_on", &["最近合作", "最近合作时间", "最近合作日期"]),
    f::text("preferred_channel", &["偏好渠道", "首选渠道", "偏好沟通渠道"]),
    f::text("contact_window", &["偏好联系时段", "联系时段"]),
    f::boolean("marketing_consent", &["营销授权", "同意营销"]),
    f::text("notes", &["备注"]),
    f::text("stage", &["生命周期阶段", "生命周期", "客户阶段", "阶段"]),
    f::date("contract_end", &["合同到期", "合同到期日", "合同到期日期"]),
    f::date("renewal_date", &["续约日期"]),
    f::date("verified_on", &["资料核实日期", "核实日期"]),
    f::text("tags", &["标签", "客户标签"]),
    f::text("external_id", &["外部编号", "外部id", "外部系统编号"]),
    f::ignored("created_at", &["创建时间"]),
    f::ignored("updated_at", &["更新时间"]),
];

/// A row as the file gives it.
struct Parsed {
    line: usize,
    /// The file's values (no owner; a masked phone or email left out).
    input: CustomerInput,
    draft: CustomerDraft,
    code: Option<String>,
    /// The owner cell, when the file has the column.
    owner: Option<String>,
    masked_phone: Option<String>,
    masked_email: Option<String>,
}

#[derive(Debug, Clone)]
enum Op {
    Insert,
    Update { id: i64, changes: Vec<&'static str> },
    Unchanged { id: i64 },
}

struct Planned {
    line: usize,
    draft: CustomerDraft,
    op: Op,
}

/// A masked value as an export writes it (`138****5678`, `z***@x.cn`).
fn is_masked(s: &str) -> bool {
    s.contains("**")
}

/// The codes and external ids met so far in the file, with their rows.
#[derive(Default)]
struct Seen {
    code: HashMap<String, usize>,
    ext: HashMap<String, usize>,
}

/// Parses some rows of the file (consumed, so that their cells are freed
/// as the file is read), `seen` carried from one chunk to the next.
fn parse_rows(
    rows: Vec<Row>,
    mapping: &Mapping,
    today: jiff::civil::Date,
    seen: &mut Seen,
) -> (Vec<Parsed>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut parsed = Vec::with_capacity(rows.len());
    let Seen { code: seen_code, ext: seen_ext } = seen;
    for row in rows {
        let get = |name: &str| mapping.cell(&row.cells, f::field(FIELDS, name));
        let line = row.line;
        let mut bad = false;
        let (phone, masked_phone) = match get("phone") {
            Some(p) if is_masked(&p) => (None, Some(p)),
            other => (other, None),
        };
        let (email, masked_email) = match get("email") {
            Some(e) if is_masked(&e) => (None, Some(e)),
            other => (other, None),
        };
        let marketing_consent = match get("marketing_consent").map(|v| f::parse_bool(&v)) {
            Some(Ok(v)) => v,
            Some(Err(i)) => {
                problems.push(problem(line, mapping, "marketing_consent", i));
                bad = true;
                None
            }
            None => None,
        };
        let code = match get("code").filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => match CustomerCode::parse(&c) {
                Ok(c) => Some(c.as_str().to_string()),
                Err(i) => {
                    problems.push(problem(line, mapping, "code", i));
                    bad = true;
                    None
                }
            },
        };
        let input = CustomerInput {
            name: get("name").unwrap_or_default(),
            kind: vocabulary_code(get("kind"), CustomerKind::ALL, CustomerKind::code, CustomerKind::label),
            industry: get("industry"),
            scale: vocabulary_code(get("scale"), Scale::ALL, Scale::code, Scale::label),
            region: get("region"),
            decision_chain: get("decision_chain"),
            phone,
            email,
            owner_id: None,
            cooperation_start: get("cooperation_start"),
            first_purchase_on: get("first_purchase_on"),
            last_cooperation_on: get("last_cooperation_on"),
            preferred_channel: vocabulary_code(get("preferred_channel"), Channel::ALL, Channel::code, Channel::label),
            contact_window: get("contact_window"),
            marketing_consent,
            notes: get("notes"),
            stage: vocabulary_code(get("stage"), LifecycleStage::ALL, LifecycleStage::code, LifecycleStage::label),
            contract_end: get("contract_end"),
            renewal_date: get("renewal_date"),
            verified_on: get("verified_on"),
            tags: get("tags").map(|t| split_tags(&t)),
            external_id: get("external_id"),
        };
        let draft = match CustomerDraft::parse(&input, today) {
            Ok(d) => Some(d),
            Err(e) => {
                push_field_errors(&mut problems, line, mapping, e);
                None
            }
        };
        if let Some(c) = &code
            && let Some(first) = seen_code.insert(c.clone(), line)
        {
            problems.push(problem(line, mapping, "code", Reason::DuplicateRow(first)));
            bad = true;
        }
        if let Some(ext) = draft.as_ref().and_then(|d| d.external_id.clone())
            && let Some(first) = seen_ext.insert(ext, line)
        {
            problems.push(problem(line, mapping, "external_id", Reason::DuplicateRow(first)));
            bad = true;
        }
        if let (Some(draft), false) = (draft, bad) {
            parsed.push(Parsed { line, input, draft, code, owner: get("owner_id"), masked_phone, masked_email });
        }
    }
    (parsed, problems)
}

/// What an owner cell names: an active user by id, email or name.
fn resolve_owner(key: &str, users: &[OwnerCandidate]) -> Result<i64, Reason> {
    let k = key.trim();
    if let Some(u) = users.iter().find(|u| u.id.to_string() == k || u.email.eq_ignore_ascii_case(k)) {
        return Ok(u.id);
    }
    let named: Vec<&OwnerCandidate> = users.iter().filter(|u| u.name == k).collect();
    match named.as_slice() {
        [one] => Ok(one.id),
        [] => Err(Reason::Field(Issue::Unknown)),
        _ => Err(Reason::Ambiguous),
    }
}

/// The stored input with the file's columns laid over it.
fn overlay(mut m: CustomerInput, file: &CustomerInput, has: impl Fn(&str) -> bool) -> CustomerInput {
    if has("name") {
        m.name = file.name.clone();
    }
    macro_rules! take {
        ($($x:ident),*) => { $( if has(stringify!($x)) { m.$x = file.$x.clone(); } )* };
    }
    take!(
        kind,
        industry,
        scale,
        region,
        decision_chain,
        phone,
        email,
        cooperation_start,
        first_purchase_on,
        last_cooperation_on,
        preferred_channel,
        contact_window,
        marketing_consent,
        notes,
        stage,
        contract_end,
        renewal_date,
        verified_on,
        tags,
        external_id
    );
    m
}

/// Decides what each row does, against the stored records of its chunk.
fn plan_chunk(
    chunk: Vec<Parsed>,
    found: &[Customer],
    owners: &[OwnerCandidate],
    mapping: &Mapping,
    cipher: &PiiCipher,
    today: jiff::civil::Date,
    problems: &mut Vec<Problem>,
) -> AppResult<Vec<Planned>> {
    let by_code: HashMap<&str, &Customer> = found.iter().map(|c| (c.code.as_str(), c)).collect();
    let by_ext: HashMap<&str, &Customer> =
        found.iter().filter_map(|c| c.external_id.as_deref().map(|e| (e, c))).collect();
    let mut planned = Vec::with_capacity(chunk.len());
    for row in chunk {
        let line = row.line;
        let ext_target = row.draft.external_id.as_deref().and_then(|e| by_ext.get(e).copied());
        let target = match &row.code {
            Some(code) => match by_code.get(code.as_str()) {
                Some(t) => {
                    if ext_target.is_some_and(|o| o.id != t.id) {
                        problems.push(problem(line, mapping, "external_id", Issue::Taken));
                        continue;
                    }
                    Some(*t)
                }
                None => {
                    problems.push(problem(line, mapping, "code", Issue::Unknown));
                    continue;
                }
            },
            None => ext_target,
        };
        // The owner: empty clears it; the stored owner's own name keeps it
        // (even when that user has left); else an active user.
        let owner = match row.owner.as_deref() {
            None => target.and_then(|t| t.owner_id),
            Some("") => None,
            Some(name) if target.is_some_and(|t| t.owner_name.as_deref() == Some(name)) => {
                target.and_then(|t| t.owner_id)
            }
            Some(key) => match resolve_owner(key, owners) {
                Ok(id) => Some(id),
                Err(r) => {
                    problems.push(problem(line, mapping, "owner_id", r));
                    continue;
                }
            },
        };
        let Some(t) = target else {
            if row.masked_phone.is_some() {
                problems.push(problem(line, mapping, "phone", Issue::InvalidPhone));
            }
            if row.masked_email.is_some() {
                problems.push(problem(line, mapping, "email", Issue::InvalidEmail));
            }
            if row.masked_phone.is_none() && row.masked_email.is_none() {
                let mut draft = row.draft;
                draft.owner_id = owner;
                planned.push(Planned { line, draft, op: Op::Insert });
            }
            continue;
        };
        let mut bad = false;
        if row.masked_phone.is_some() && row.masked_phone != t.phone_masked {
            problems.push(problem(line, mapping, "phone", Issue::InvalidPhone));
            bad = true;
        }
        if row.masked_email.is_some() && row.masked_email != t.email_masked {
            problems.push(problem(line, mapping, "email", Issue::InvalidEmail));
            bad = true;
        }
        if bad {
            continue;
        }
        let stored =
            crate::service::customers::stored_input(t, Some(cipher)).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut merged = overlay(stored.clone(), &row.input, |field| match field {
            "phone" => mapping.has(field) && row.masked_phone.is_none(),
            "email" => mapping.has(field) && row.masked_email.is_none(),
            _ => mapping.has(field),
        });
        merged.owner_id = owner;
        let draft = match CustomerDraft::parse(&merged, today) {
            Ok(d) => d,
            Err(e) => {
                push_field_errors(problems, line, mapping, e);
                continue;
            }
        };
        let op = match CustomerDraft::parse(&stored, today) {
            Ok(before) if before == draft => Op::Unchanged { id: t.id },
            Ok(before) => Op::Update { id: t.id, changes: before.changed_fields(&draft) },
            Err(_) => Op::Update { id: t.id, changes: vec!["*"] },
        };
        planned.push(Planned { line, draft, op });
    }
    Ok(planned)
}

pub(super) async fn run(cx: &Cx<'_>, table: Table, mapping: Mapping) -> AppResult<Result<Counts, Vec<Problem>>> {
    let today = cx.today();
    let total = table.rows.len();
    // Owners named in the file, in one lookup.
    let owner = f::field(FIELDS, "owner_id");
    let mut keys: Vec<String> =
        table.rows.iter().filter_map(|r| mapping.cell(&r.cells, owner)).filter(|o| !o.is_empty()).collect();
    keys.sort_unstable();
    keys.dedup();
    let owners = if keys.is_empty() {
        Vec::new()
    } else {
        cx.state.db.read(move |c| customers::active_users_matching(c, &keys)).await?
    };
    // Chunk by chunk, the rows parsed and checked and the stored records
    // they update looked up (one lookup per chunk): only the plan is kept
    // for the whole file, not its cells nor the parsed rows.
    let mapping = std::sync::Arc::new(mapping);
    let mut seen = Seen::default();
    let mut problems = Vec::new();
    let mut planned: Vec<Planned> = Vec::with_capacity(total);
    let mut done = 0;
    for rows in super::batches(table.rows) {
        done += rows.len();
        let m = mapping.clone();
        let (chunk, found_problems, back) = tokio::task::spawn_blocking(move || {
            let (parsed, problems) = parse_rows(rows, &m, today, &mut seen);
            (parsed, problems, seen)
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
        seen = back;
        problems.extend(found_problems);
        let codes: Vec<String> = chunk.iter().filter_map(|p| p.code.clone()).collect();
        let exts: Vec<String> = chunk.iter().filter_map(|p| p.draft.external_id.clone()).collect();
        let found = if codes.is_empty() && exts.is_empty() {
            Vec::new()
        } else {
            cx.state.db.read(move |c| customers::find_by_codes_or_external_ids(c, &codes, &exts)).await?
        };
        planned.extend(plan_chunk(chunk, &found, &owners, &mapping, &cx.state.cipher, today, &mut problems)?);
        if cx.dry_run {
            (cx.progress)(done, total);
        }
    }
    // Two rows of the file for one stored customer.
    let mut seen: HashMap<i64, usize> = HashMap::new();
    for p in &planned {
        if let Op::Update { id, .. } | Op::Unchanged { id } = p.op
            && let Some(first) = seen.insert(id, p.line)
        {
            let field = if mapping.has("code") { "code" } else { "external_id" };
            problems.push(problem(p.line, &mapping, field, Reason::DuplicateRow(first)));
        }
    }
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let mut counts = Counts::default();
    for p in &planned {
        match p.op {
            Op::Insert => counts.inserted += 1,
            Op::Update { .. } => counts.updated += 1,
            Op::Unchanged { .. } => counts.unchanged += 1,
        }
    }
    if cx.dry_run {
        return Ok(Ok(counts));
    }
    write(cx, planned, total).await?;
    Ok(Ok(counts))
}

type Item = (usize, CustomerDraft, Option<Sealed>, Option<Sealed>, Op);

async fn write(cx: &Cx<'_>, planned: Vec<Planned>, total: usize) -> AppResult<()> {
    let now = cx.state.clock.now();
    let actor_id = cx.actor.id;
    let mut done = 0;
    // One batch is written while the next one is sealed.
    let mut in_flight: Option<(usize, tokio::task::JoinHandle<guanxi_store::Result<()>>)> = None;
    for batch in super::batches_of(planned, cx.customer_write_batch) {
        let size = batch.len();
        let items: Vec<Item> = batch
            .into_iter()
            .filter(|p| !matches!(p.op, Op::Unchanged { .. }))
            .map(|p| {
                let phone = p.draft.phone.as_ref().map(|x| cx.state.cipher.seal_phone(x));
                let email = p.draft.email.as_ref().map(|x| cx.state.cipher.seal_email(x));
                (p.line, p.draft, phone, email, p.op)
            })
            .collect();
        if let Some((n, write)) = in_flight.take() {
            write.await.map_err(|e| AppError::Internal(e.to_string()))??;
            done += n;
            (cx.progress)(done, total);
        }
        let ip = cx.ip.clone();
        let db = cx.state.db.clone();
        in_flight = Some((
            size,
            tokio::spawn(async move {
                if items.is_empty() {
                    return Ok(());
                }
                db.write_bulk(move |c| write_batch(c, &items, actor_id, now, ip.as_deref())).await
            }),
        ));
    }
    if let Some((n, write)) = in_flight {
        write.await.map_err(|e| AppError::Internal(e.to_string()))??;
        (cx.progress)(done + n, total);
    }
    Ok(())
}

fn write_batch(
    c: &mut guanxi_store::Conn,
    items: &[Item],
    actor_id: i64,
    now: jiff::Timestamp,
    ip: Option<&str>,
) -> guanxi_store::Result<()> {
    let mut counts = Counts::default();
    // New customers in a few multi-row statements; updates one by one.
    let new: Vec<customers::NewCustomer<'_>> = items
        .iter()
        .filter(|i| matches!(i.4, Op::Insert))
        .map(|(_, draft, phone, email, _)| customers::NewCustomer { draft, phone, email })
        .collect();
    let made = customers::insert_many(c, &new, Some(actor_id), now)?;
    let mut entries: Vec<NewEntry<'_>> = made
        .iter()
        .zip(&new)
        .map(|((id, code), x)| NewEntry {
            customer_id: *id,
            at: now,
            kind: kind::CUSTOMER,
            ref_id: None,
            title: "customer.created".into(),
            body: Some(format!("{code} {}", x.draft.name)),
            actor_id: Some(actor_id),
        })
        .collect();
    counts.inserted = made.len();
    for (_, draft, phone, email, op) in items {
        if let Op::Update { id, changes } = op {
            customers::update(c, &Scope::All, *id, draft, phone, email, now)?;
            entries.push(NewEntry {
                customer_id: *id,
                at: now,
                kind: kind::CUSTOMER,
                ref_id: None,
                title: "customer.updated".into(),
                body: Some(changes.join(", ")),
                actor_id: Some(actor_id),
            });
            counts.updated += 1;
        }
    }
    timeline::append_many(c, &entries)?;
    let lines: Vec<usize> = items.iter().map(|i| i.0).collect();
    audit_batch(c, now, actor_id, "customer", &lines, counts, ip)
}
