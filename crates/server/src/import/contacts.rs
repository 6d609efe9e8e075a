//! Importing contact persons: attached to the customer a row names by code
//! or external id; a contact of that customer with the same name is
//! updated, else one is added.

use std::collections::HashMap;

use guanxi_domain::contact::{ContactDraft, ContactInput, mask_wechat};
use guanxi_store::contacts::{self, Contact, SealedContact};
use guanxi_store::timeline::{self, NewEntry, kind};

use super::fields::{self as f, Field, Mapping, Problem, Reason};
use super::table::Table;
use super::{Counts, CustomerRef, Cx, audit_batch, problem, push_field_errors, resolve_customers};
use crate::crypto::PiiCipher;
use crate::error::{AppError, AppResult};

pub const FIELDS: &[Field] = &[
    f::text("customer_code", &["客户编号"]),
    f::text("customer_external_id", &["客户外部编号", "客户外部id"]),
    f::text("name", &["联系人", "联系人姓名", "姓名"]),
    f::text("title", &["职务", "职位", "岗位"]),
    f::text("phone", &["联系电话", "电话", "手机", "手机号", "手机号码"]),
    f::text("email", &["邮箱", "联系邮箱", "电子邮箱"]),
    f::text("wechat", &["微信", "微信号"]),
    f::date("birthday", &["生日", "出生日期"]),
    f::text("address", &["地址", "联系地址"]),
    f::boolean("decision_maker", &["关键决策人", "决策人", "是否决策人"]),
];

struct Parsed {
    line: usize,
    customer: CustomerRef,
    input: ContactInput,
}

enum Op {
    Insert { customer_id: i64 },
    Update { id: i64 },
    Unchanged,
}

struct Planned {
    line: usize,
    draft: ContactDraft,
    op: Op,
}

fn parse_rows(table: &Table, mapping: &Mapping, today: jiff::civil::Date) -> (Vec<Parsed>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut parsed = Vec::new();
    let mut seen: HashMap<(CustomerRef, String), usize> = HashMap::new();
    for row in &table.rows {
        let get = |name: &str| mapping.cell(&row.cells, f::field(FIELDS, name));
        let line = row.line;
        let mut bad = false;
        let customer = match CustomerRef::from_row(mapping, &row.cells, FIELDS, line) {
            Ok(c) => Some(c),
            Err(p) => {
                problems.push(p);
                bad = true;
                None
            }
        };
        let decision_maker = match get("decision_maker").map(|v| f::parse_bool(&v)) {
            Some(Ok(v)) => v,
            Some(Err(i)) => {
                problems.push(problem(line, mapping, "decision_maker", i));
                bad = true;
                None
            }
            None => None,
        };
        let input = ContactInput {
            name: get("name").unwrap_or_default(),
            title: get("title"),
            phone: get("phone"),
            email: get("email"),
            wechat: get("wechat"),
            birthday: get("birthday"),
            address: get("address"),
            decision_maker,
        };
        match ContactDraft::parse(&input, today) {
            Ok(d) => {
                if let Some(c) = &customer
                    && let Some(first) = seen.insert((c.clone(), d.name.clone()), line)
                {
                    problems.push(problem(line, mapping, "name", Reason::DuplicateRow(first)));
                    bad = true;
                }
            }
            Err(e) => {
                push_field_errors(&mut problems, line, mapping, e);
                bad = true;
            }
        }
        if let (Some(customer), false) = (customer, bad) {
            parsed.push(Parsed { line, customer, input });
        }
    }
    (parsed, problems)
}

/// A stored contact as an input (its personal fields decrypted only to be
/// compared and re-sealed).
fn input_of(t: &Contact, cipher: &PiiCipher) -> AppResult<ContactInput> {
    let dec = |i: usize| {
        t.ciphertexts
            .get(i)
            .and_then(|c| c.as_ref())
            .map(|c| cipher.decrypt(c))
            .transpose()
            .map_err(|e| AppError::Internal(e.to_string()))
    };
    Ok(ContactInput {
        name: t.name.clone(),
        title: t.title.clone(),
        phone: dec(0)?,
        email: dec(1)?,
        wechat: dec(2)?,
        birthday: dec(3)?,
        address: dec(4)?,
        decision_maker: Some(t.decision_maker),
    })
}

fn overlay(mut m: ContactInput, file: &ContactInput, mapping: &Mapping) -> ContactInput {
    macro_rules! take {
        ($($x:ident),*) => { $( if mapping.has(stringify!($x)) { m.$x = file.$x.clone(); } )* };
    }
    take!(title, phone, email, wechat, birthday, address, decision_maker);
    m
}

/// Seals a contact's personal fields as the contact form does.
fn seal(cipher: &PiiCipher, d: &ContactDraft) -> SealedContact {
    SealedContact {
        phone: d.phone.as_ref().map(|p| cipher.seal_phone(p)),
        email: d.email.as_ref().map(|e| cipher.seal_email(e)),
        wechat: d.wechat.as_ref().map(|w| cipher.seal_text(w, mask_wechat(w))),
        birthday: d.birthday.map(|b| cipher.seal_text(&b.to_string(), "****-**-**".into())),
        address: d.address.as_ref().map(|a| cipher.seal_text(a, "***".into())),
    }
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
    let mut planned: Vec<Planned> = Vec::with_capacity(parsed.len());
    let mut seen: HashMap<(i64, String), usize> = HashMap::new();
    let mut done = 0;
    for chunk in super::batches(parsed) {
        done += chunk.len();
        let ids = resolve_customers(cx.state, chunk.iter().map(|p| p.customer.clone()).collect()).await?;
        let mut customer_ids: Vec<i64> = ids.values().copied().collect();
        customer_ids.sort_unstable();
        customer_ids.dedup();
        let existing = cx.state.db.read(move |c| contacts::for_customers(c, &customer_ids)).await?;
        let mut by_key: HashMap<(i64, &str), &Contact> = HashMap::new();
        for e in &existing {
            by_key.entry((e.customer_id, e.name.as_str())).or_insert(e);
        }
        for row in chunk {
            let line = row.line;
            let Some(&customer_id) = ids.get(&row.customer) else {
                problems.push(problem(line, &mapping, row.customer.field(), guanxi_domain::Issue::Unknown));
                continue;
            };
            let name = row.input.name.trim().to_string();
            if let Some(first) = seen.insert((customer_id, name.clone()), line) {
                problems.push(problem(line, &mapping, "name", Reason::DuplicateRow(first)));
                continue;
            }
            let target = by_key.get(&(customer_id, name.as_str())).copied();
            let Some(t) = target else {
                match ContactDraft::parse(&row.input, today) {
                    Ok(draft) => planned.push(Planned { line, draft, op: Op::Insert { customer_id } }),
                    Err(e) => push_field_errors(&mut problems, line, &mapping, e),
                }
                continue;
            };
            let stored = input_of(t, &cx.state.cipher)?;
            let merged = overlay(stored.clone(), &row.input, &mapping);
            let draft = match ContactDraft::parse(&merged, today) {
                Ok(d) => d,
                Err(e) => {
                    push_field_errors(&mut problems, line, &mapping, e);
                    continue;
                }
            };
            let op = match ContactDraft::parse(&stored, today) {
                Ok(before) if before == draft => Op::Unchanged,
                _ => Op::Update { id: t.id },
            };
            planned.push(Planned { line, draft, op });
        }
        if cx.dry_run {
            (cx.progress)(done, total);
        }
    }
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let mut counts = Counts::default();
    for p in &planned {
        match p.op {
            Op::Insert { .. } => counts.inserted += 1,
            Op::Update { .. } => counts.updated += 1,
            Op::Unchanged => counts.unchanged += 1,
        }
    }
    if cx.dry_run {
        return Ok(Ok(counts));
    }
    let now = cx.state.clock.now();
    let actor_id = cx.actor.id;
    let mut done = 0;
    for batch in super::batches(planned) {
        done += batch.len();
        let items: Vec<(usize, ContactDraft, SealedContact, Op)> = batch
            .into_iter()
            .filter(|p| !matches!(p.op, Op::Unchanged))
            .map(|p| {
                let sealed = seal(&cx.state.cipher, &p.draft);
                (p.line, p.draft, sealed, p.op)
            })
            .collect();
        if !items.is_empty() {
            let ip = cx.ip.clone();
            cx.state
                .db
                .write(move |c| {
                    let mut n = Counts::default();
                    for (_, draft, sealed, op) in &items {
                        match op {
                            Op::Insert { customer_id } => {
                                let id = contacts::insert(c, *customer_id, draft, sealed, now)?;
                                timeline::append(
                                    c,
                                    &NewEntry {
                                        customer_id: *customer_id,
                                        at: now,
                                        kind: kind::CONTACT,
                                        ref_id: Some(id),
                                        title: "contact.created".into(),
                                        body: Some(match &draft.title {
                                            Some(t) => format!("{} · {t}", draft.name),
                                            None => draft.name.clone(),
                                        }),
                                        actor_id: Some(actor_id),
                                    },
                                )?;
                                n.inserted += 1;
                            }
                            Op::Update { id } => {
                                contacts::update(c, *id, draft, sealed, now)?;
                                n.updated += 1;
                            }
                            Op::Unchanged => {}
                        }
                    }
                    let lines: Vec<usize> = items.iter().map(|i| i.0).collect();
                    audit_batch(c, now, actor_id, "contact", &lines, n, ip.as_deref())
                })
                .await?;
        }
        (cx.progress)(done, total);
    }
    Ok(Ok(counts))
}
