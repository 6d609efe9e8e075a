//! The complaint itself: the register form for agents (P1: customer
//! search, channel, demand type, the customer's words; after saving, the
//! page shows the computed urgency with the words that raised it), and
//! the complaint page with its whole workflow — state, every deadline on
//! business time, the grading and its override with a reason, the batch,
//! the investigation, the solution and its approval, agreement,
//! execution, notification and closure — each step a form with CSRF whose
//! refusals name the field, and the timeline of every step.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::multipart::Multipart;
use axum::extract::{FromRequest, Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use guanxi_domain::complaint::compensation::{self, CatalogueInput, LineInput, OptionInput};
use guanxi_domain::complaint::grading::RulesInput;
use guanxi_domain::complaint::workflow::{self as flow, Action};
use guanxi_domain::complaint::{DemandType, ResponsibleParty, Urgency};
use guanxi_domain::customer::Channel;
use guanxi_domain::money::Money;
use guanxi_domain::ticket::Category;
use guanxi_domain::user::Role;
use guanxi_domain::{Lang, ValidationErrors};
use guanxi_store::customers::CustomerFilter;
use guanxi_store::tickets::TicketEvent;
use jiff::Timestamp;
use minijinja::{Value, context};

use crate::auth::PageUser;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::complaints::settings as rules_svc;
use crate::service::complaints::workflow::{self, StepInput};
use crate::service::complaints::{self as svc, ComplaintInput};
use crate::service::tickets::actions::{self, MessageKind};
use crate::service::tickets::{attachments, setup};
use crate::state::AppState;
use crate::web::{ClientIp, form_get, form_pairs, page_ctx, render};

pub(super) fn local(at: Timestamp, state: &AppState) -> String {
    at.to_zoned(state.config.time_zone.clone()).strftime("%Y-%m-%d %H:%M").to_string()
}

fn options<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T, Lang) -> &'static str,
    lang: Lang,
) -> Vec<Value> {
    all.iter().map(|x| context! { value => code(*x), label => label(*x, lang) }).collect()
}

/// Compensation rows on the propose form.
const COMPENSATION_ROWS: usize = 3;

fn field_errors(e: &ValidationErrors, lang: Lang) -> BTreeMap<String, String> {
    e.0.iter().map(|f| (f.field.clone(), f.issue.message(lang))).collect()
}

fn field_label(field: &str, lang: Lang) -> String {
    let (zh, en) = match field {
        "customer_id" | "customer_code" => ("客户", "Customer"),
        "channel" => ("来源渠道", "Channel"),
        "category" => ("问题类别", "Category"),
        "demand_type" => ("诉求类型", "Demand type"),
        "subject" => ("投诉主题", "Subject"),
        "description" => ("客户原话", "The customer's words"),
        "received_at" => ("接收时间", "Received at"),
        "department_id" => ("责任部门", "Responsible department"),
        "responsible_party" => ("责任方", "Responsible party"),
        "root_cause" => ("根本原因", "Root cause"),
        "evidence" => ("证据", "Evidence"),
        "solution" => ("处理方案", "Solution"),
        "reason" => ("原因", "Reason"),
        "promised_at" => ("承诺执行时间", "Promised execution time"),
        "message" => ("通知客户的内容", "Message to the customer"),
        "satisfaction" => ("满意度", "Satisfaction"),
        "feedback" => ("客户意见", "Customer's words"),
        "file" => ("证据附件", "Evidence files"),
        "urgency" => ("紧急程度", "Urgency"),
        "compensation" => ("补偿", "Compensation"),
        other => {
            // `compensation[0].option` / `compensation[0].amount`: the row of the propose form.
            let row = other.strip_prefix("compensation[").and_then(|r| r.split_once("]."));
            return match row.and_then(|(i, f)| i.parse::<usize>().ok().map(|i| (i + 1, f))) {
                Some((n, "option")) => {
                    lang.pick(&format!("第{n}行补偿选项"), &format!("compensation option, row {n}")).to_string()
                }
                Some((n, _)) => {
                    lang.pick(&format!("第{n}行补偿金额"), &format!("compensation amount, row {n}")).to_string()
                }
                None => other.to_string(),
            };
        }
    };
    lang.pick(zh, en).to_string()
}

// ---- Register ----

async fn render_form(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    pairs: &[(String, String)],
    e: Option<&ValidationErrors>,
) -> AppResult<Html<String>> {
    let value = |k: &str| form_get(pairs, k).unwrap_or("").to_string();
    let customer = match value("customer_id").parse::<i64>() {
        Ok(cid) => crate::service::customers::get(state, &u.user, cid)
            .await
            .ok()
            .map(|c| context! { id => c.id, code => c.code, name => c.name }),
        Err(_) => None,
    };
    // The customer picker: a search by code or name (or phone/email).
    let q = value("q");
    let found: Vec<Value> = if customer.is_none() && !q.trim().is_empty() {
        let filter =
            CustomerFilter { q: Some(q.trim().to_string()), page: 1, per_page: 8, ..CustomerFilter::default() };
        crate::service::customers::list(state, &u.user, filter)
            .await?
            .items
            .iter()
            .map(|c| context! { id => c.id, code => c.code, name => c.name })
            .collect()
    } else {
        Vec::new()
    };
    let errors: Vec<Value> = e
        .map(|e| {
            e.0.iter()
                .map(|f| {
                    let field = if f.field == "customer_code" { "customer_id" } else { f.field.as_str() };
                    context! { field => field, label => field_label(field, lang), message => f.issue.message(lang) }
                })
                .collect()
        })
        .unwrap_or_default();
    let mut err = e.map(|e| field_errors(e, lang)).unwrap_or_default();
    if let Some(m) = err.remove("customer_code") {
        err.insert("customer_id".into(), m);
    }
    let fresh = !pairs.iter().any(|(k, _)| k == "subject");
    let title = lang.pick("登记投诉", "Register a complaint");
    let ctx = context! { ..page_ctx(u, lang, "complaints", title), ..context! {
        errors => errors, err => err, customer => customer, q => q, found => found, searched => !q.trim().is_empty(),
        can_review => crate::service::complaints::review::may_review(&u.user),
        v => context! {
            customer_id => value("customer_id"),
            channel => if fresh { "phone".into() } else { value("channel") },
            category => if fresh { "product".into() } else { value("category") },
            demand_type => value("demand_type"),
            subject => value("subject"), description => value("description"), received_at => value("received_at"),
        },
        channels => options(Channel::ALL, Channel::code, Channel::label, lang),
        categories => options(Category::ALL, Category::code, Category::label, lang),
        demands => options(DemandType::ALL, DemandType::code, DemandType::label, lang),
    }};
    render(state, "complaints/form.html", ctx)
}

pub async fn new_form(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    if !u.user.role.can_create_tickets() {
        return Err(AppError::Forbidden);
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k == "customer_id" || k == "q").collect();
    render_form(&state, lang, &u, &pairs, None).await
}

pub async fn create(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let get = |k: &str| form_get(&pairs, k).unwrap_or("").to_string();
    let customer_id = get("customer_id");
    let mut pre = ValidationErrors::new();
    let customer_id = match customer_id.trim() {
        "" => {
            pre.add("customer_id", guanxi_domain::Issue::Required);
            None
        }
        raw => match raw.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                pre.add("customer_id", guanxi_domain::Issue::Unknown);
                None
            }
        },
    };
    let input = ComplaintInput {
        customer_id,
        customer_code: None,
        channel: get("channel"),
        category: get("category"),
        demand_type: get("demand_type"),
        subject: get("subject"),
        description: get("description"),
        received_at: Some(get("received_at")).filter(|s| !s.trim().is_empty()),
    };
    let result =
        if pre.is_empty() { svc::register(&state, &u.user, input, ip).await } else { Err(AppError::Invalid(pre)) };
    match result {
        Ok(p) => Ok(Redirect::to(&format!("/complaints/{}?flash=registered", p.id)).into_response()),
        Err(AppError::Invalid(e)) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render_form(&state, lang, &u, &pairs, Some(&e)).await?)
                .into_response())
        }
        Err(e) => Err(e),
    }
}

// ---- The complaint ----

/// What the page keeps when a step is refused.
#[derive(Default)]
struct Kept {
    error: Option<String>,
    err: BTreeMap<String, String>,
    form: String,
    values: BTreeMap<String, String>,
}

fn flash(raw: Option<&str>, lang: Lang) -> Option<&'static str> {
    let f = raw?.split('&').find_map(|kv| kv.strip_prefix("flash="))?;
    Some(match f {
        "registered" => lang.pick("投诉已登记", "Complaint registered"),
        "step" => lang.pick("投诉处理进度已更新", "Complaint updated"),
        "urgency" => lang.pick("紧急程度已调整", "Urgency changed"),
        _ => return None,
    })
}

/// A timeline entry in words: complaint steps with their particulars,
/// anything else as the ticket page says it.
fn event_words(e: &TicketEvent, state: &AppState, lang: Lang) -> String {
    let Some(code) = e.kind.strip_prefix("complaint_") else {
        return crate::web::tickets::event_words(e, lang, state);
    };
    let d: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null);
    let mut out = svc::event_label(code, lang);
    let urgency = |k: &str| d[k].as_str().and_then(|u| Urgency::parse(u).ok()).map(|u| u.label(lang)).unwrap_or("");
    let extra = match code {
        "urgency" => Some(format!("{} → {}：{}", urgency("from"), urgency("to"), d["reason"].as_str().unwrap_or(""))),
        "registered" => {
            d["reasons"].as_array().map(|r| r.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("；"))
        }
        "report" => d["responsible_party"]
            .as_str()
            .and_then(|p| ResponsibleParty::parse(p).ok())
            .map(|p| p.label(lang).to_string()),
        "deadline_missed" => d["deadline"]
            .as_str()
            .and_then(|k| guanxi_domain::complaint::DeadlineKind::parse(k).ok())
            .map(|k| k.label(lang).to_string()),
        "batch" => Some(format!("{} {}", d["customers"], lang.pick("位客户", "customers"))),
        "notified" => d["channel"].as_str().map(|ch| {
            let ch = guanxi_domain::outreach::OutChannel::parse(ch).map_or(ch, |c| c.label(lang));
            format!("{}{ch} {}", lang.pick("经发件箱 · ", "through the outbox · "), d["to"].as_str().unwrap_or(""))
        }),
        _ => ["reason", "solution", "promised_at"].iter().find_map(|k| d[*k].as_str().map(str::to_string)),
    };
    if let Some(x) = extra.filter(|x| !x.is_empty()) {
        out.push_str(lang.pick("：", ": "));
        out.push_str(&x);
    }
    out
}

async fn render_view(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    id: i64,
    raw: Option<&str>,
    kept: Kept,
) -> AppResult<Html<String>> {
    let d = svc::detail(state, &u.user, id).await?;
    let setup = setup::get(state).await?;
    let catalogue = rules_svc::load_catalogue(state).await?;
    let now = state.clock.now();
    let p = &d.complaint;
    let supervisor = u.user.role.can_assign_tickets();
    let may_act = u.user.role.can_create_tickets();
    let actions: Vec<&str> = Action::ALL
        .iter()
        .filter(|a| flow::next(p.state, **a).is_some())
        .filter(|a| (supervisor || !a.needs_supervisor()) && (may_act || **a == Action::Report))
        .map(|a| a.code())
        .collect();
    let mut groups: Vec<(String, i64)> = setup.groups.iter().map(|(id, g)| (g.name.clone(), *id)).collect();
    groups.sort();
    let g = &p.grading;
    let over = p.urgency_override.as_ref().map(|o| {
        let u = |k: &str| o[k].as_str().and_then(|x| Urgency::parse(x).ok()).map(|x| x.label(lang)).unwrap_or("");
        context! {
            from => u("from"), to => u("to"), reason => o["reason"].as_str(), by => o["by"].as_str(),
            at => o["at"].as_str().and_then(|t| t.parse::<Timestamp>().ok()).map(|t| local(t, state)),
        }
    });
    let deadline_state = |s: &str| match s {
        "open" => lang.pick("进行中", "running"),
        "overdue" => lang.pick("已超时", "overdue"),
        "met" => lang.pick("按时完成", "met in time"),
        "late" => lang.pick("超时完成", "met late"),
        "paused" => lang.pick("已暂停（等待客户）", "paused (waiting for the customer)"),
        _ => "",
    };
    let total = compensation::total(&p.compensation).unwrap_or_default();
    let approver = catalogue.lowest_approver(total).map(|r| r.label(lang));
    let limit_words = |r: Role| match catalogue.limit(r).flatten() {
        Some(m) => format!("{} ¥{m}", r.label(lang)),
        None => format!("{} {}", r.label(lang), lang.pick("不限", "no limit")),
    };
    let title = format!("{} · {}", p.number, p.subject);
    let ctx = context! { ..page_ctx(u, lang, "complaints", &title), ..context! {
        flash => flash(raw, lang),
        cp => context! {
            id => p.id, number => p.number, ticket_id => p.ticket_id, ticket_number => p.ticket_number,
            subject => p.subject, description => p.description,
            customer_id => p.customer_id, customer => p.customer_name, customer_code => p.customer_code,
            category => p.category.label(lang), demand => p.demand_type.label(lang), channel => d.ticket.channel.label(lang),
            state => p.state.code(), state_label => p.state.label(lang), open => p.state.is_open(),
            urgency => p.urgency.code(), urgency_label => p.urgency.label(lang),
            handler => p.handler_name, department => p.department_name,
            received => local(p.received_at, state), registered => local(p.registered_at, state),
            closed => p.closed_at.map(|t| local(t, state)),
            party => p.responsible_party.map(|r| r.label(lang)), root_cause => p.root_cause,
            files => d.attachments.iter().map(|a| context! { name => a.file_name, href => format!("/tickets/{}/attachments/{}", p.ticket_id, a.id) }).collect::<Vec<_>>(),
            evidence => p.evidence.as_deref().map(|e| e.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect::<Vec<_>>()),
            investigated => p.investigated_at.map(|t| local(t, state)),
            solution => p.solution, rejection_reason => p.rejection_reason,
            approved => p.approved_at.map(|t| local(t, state)),
            agreed => p.agreed_at.map(|t| local(t, state)), promised => p.promised_at.map(|t| local(t, state)),
            executed => p.executed_at.map(|t| local(t, state)), notified => p.notified_at.map(|t| local(t, state)),
            satisfaction => p.satisfaction, feedback => p.feedback, close_reason => p.close_reason,
            escalated => p.escalated_at.map(|t| local(t, state)), overdue => p.overdue,
            compensation => p.compensation.iter().map(|l| context! {
                name => l.name, kind => l.kind.label(lang), amount => Money::from_fen(l.amount_fen).to_string(),
            }).collect::<Vec<_>>(),
            compensation_total => total.to_string(),
            approver => approver,
            may_approve => catalogue.covers(u.user.role, total),
        },
        compensation_options => catalogue.options.iter().filter(|o| o.active)
            .map(|o| context! { value => o.code, label => format!("{} · {}", o.name, o.kind.label(lang)) })
            .collect::<Vec<_>>(),
        compensation_rows => (0..COMPENSATION_ROWS).collect::<Vec<_>>(),
        limits => [Role::Agent, Role::Supervisor, Role::Admin].map(limit_words).join(lang.pick("；", "; ")),
        grading => context! {
            reasons => g.reasons(lang), safety_words => g.safety_words, batch_size => g.batch_size,
            score => g.emotion.display(),
            words => g.emotion.words.iter().map(|c| context! { word => c.word, points => format!("+{}.{}", c.points / 10, c.points % 10) }).collect::<Vec<_>>(),
        },
        override => over,
        deadlines => p.deadlines.0.iter().map(|dl| {
            let st = dl.state(now);
            context! {
                kind => dl.kind.code(), label => dl.kind.label(lang), due => local(dl.due_at, state),
                met => dl.met_at.map(|t| local(t, state)), state => st, state_label => deadline_state(st),
            }
        }).collect::<Vec<_>>(),
        paused => p.deadlines.is_paused(),
        batch => d.batch.iter().map(|(bid, number, customer)| context! { id => bid, number => number, customer => customer, current => *bid == p.id }).collect::<Vec<_>>(),
        notifications => d.notifications.iter().map(|n| context! {
            at => local(n.at, state), purpose => n.purpose, body => n.body,
        }).collect::<Vec<_>>(),
        history => d.events.iter().map(|e| context! {
            at => local(e.at, state), who => e.actor_name, what => event_words(e, state, lang), kind => e.kind,
        }).collect::<Vec<_>>(),
        actions => actions,
        supervisor => supervisor,
        may_act => may_act,
        departments => groups.iter().map(|(name, id)| context! { value => id, label => name }).collect::<Vec<_>>(),
        parties => options(ResponsibleParty::ALL, ResponsibleParty::code, ResponsibleParty::label, lang),
        urgencies => options(Urgency::ALL, Urgency::code, Urgency::label, lang),
        error => kept.error, err => kept.err, kept_form => kept.form, kept => kept.values,
    }};
    render(state, "complaints/view.html", ctx)
}

pub async fn view(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    render_view(&state, lang, &u, id, raw.as_deref(), Kept::default()).await
}

/// A refused form: the page again with the reason (409/422), the field
/// errors beside their fields and what was typed.
async fn refused(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    id: i64,
    e: AppError,
    mut kept: Kept,
) -> AppResult<Response> {
    let status = e.status();
    match e {
        AppError::Refused { zh, en, .. } => kept.error = Some(lang.pick(&zh, &en).to_string()),
        AppError::Invalid(v) => {
            kept.err = field_errors(&v, lang);
            let names: Vec<String> = v.0.iter().map(|f| field_label(&f.field, lang)).collect();
            kept.error =
                Some(format!("{}{}", lang.pick("请修正：", "Please correct: "), names.join(lang.pick("、", ", "))));
        }
        other => return Err(other),
    }
    Ok((status, render_view(state, lang, u, id, None, kept).await?).into_response())
}

/// One step's form: urlencoded, or multipart when the investigation
/// report carries evidence files (they go on the ticket as an internal
/// note, after the files are checked and the step is taken).
pub async fn step(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    req: Request,
) -> AppResult<Response> {
    let multipart = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (pairs, files) = if multipart {
        let mp = Multipart::from_request(req, &state).await.map_err(|e| AppError::BadRequest(e.body_text()))?;
        crate::web::tickets::read_multipart(mp, state.config.attachment_max_bytes()).await?
    } else {
        let body = Bytes::from_request(req, &state).await.map_err(|e| AppError::BadRequest(e.body_text()))?;
        (form_pairs(&body)?, Vec::new())
    };
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let text = |k: &str| form_get(&pairs, k).map(str::to_string).filter(|s| !s.trim().is_empty());
    let action = form_get(&pairs, "action").unwrap_or("").to_string();
    let mut pre = ValidationErrors::new();
    let mut number = |field: &str| -> Option<i64> {
        let raw = text(field)?;
        match raw.trim().parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                pre.add(field, guanxi_domain::Issue::Unknown);
                None
            }
        }
    };
    let department_id = number("department_id");
    let satisfaction = number("satisfaction");
    // Compensation rows up to the last one filled in (a blank row between is refused).
    let mut rows: Vec<LineInput> = (0..COMPENSATION_ROWS)
        .map(|i| LineInput {
            option: text(&format!("comp_option_{i}")).unwrap_or_default(),
            amount: text(&format!("comp_amount_{i}")).unwrap_or_default(),
        })
        .collect();
    while rows.last().is_some_and(|l| l.option.is_empty() && l.amount.trim().is_empty()) {
        rows.pop();
    }
    let input = StepInput {
        action: action.clone(),
        department_id,
        responsible_party: text("responsible_party"),
        root_cause: text("root_cause"),
        evidence: text("evidence"),
        solution: text("solution"),
        compensation: (action == "propose").then_some(rows),
        reason: text("reason"),
        promised_at: text("promised_at"),
        message: text("message"),
        satisfaction,
        feedback: text("feedback"),
    };
    if !files.is_empty() && action != "report" {
        pre.add("file", guanxi_domain::Issue::NotAllowed);
    }
    let result = if !pre.is_empty() {
        Err(AppError::Invalid(pre))
    } else if let Err(e) = attachments::check_all(files.clone(), state.config.attachment_max_bytes()) {
        Err(e)
    } else {
        match workflow::act(&state, &u.user, id, input, ip.clone()).await {
            Ok(p) if !files.is_empty() => {
                let note = format!("{}{}", lang.pick("核查证据：", "Investigation evidence: "), p.number);
                actions::reply_with_files(&state, &u.user, p.ticket_id, MessageKind::Note, &note, files, ip)
                    .await
                    .map(|_| ())
            }
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/complaints/{id}?flash=step")).into_response()),
        Err(e) => {
            let values = pairs.iter().filter(|(k, _)| k != "_csrf").cloned().collect();
            refused(&state, lang, &u, id, e, Kept { form: action, values, ..Kept::default() }).await
        }
    }
}

pub async fn urgency(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let urgency = form_get(&pairs, "urgency").unwrap_or("");
    let reason = form_get(&pairs, "reason").unwrap_or("");
    match workflow::override_urgency(&state, &u.user, id, urgency, reason, ip).await {
        Ok(_) => Ok(Redirect::to(&format!("/complaints/{id}?flash=urgency")).into_response()),
        Err(e) => {
            let values = pairs.iter().filter(|(k, _)| k != "_csrf").cloned().collect();
            refused(&state, lang, &u, id, e, Kept { form: "urgency".into(), values, ..Kept::default() }).await
        }
    }
}

// ---- Settings ----

async fn render_settings(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    v: &RulesInput,
    e: Option<&ValidationErrors>,
    saved: bool,
    cat: Option<(&CatalogueInput, &ValidationErrors)>,
) -> AppResult<Html<String>> {
    // The catalogue as saved, or as typed when it was refused; two blank rows to add options.
    let saved_cat;
    let (cat, ce) = match cat {
        Some((c, e)) => (c, Some(e)),
        None => {
            saved_cat = catalogue_input(&rules_svc::load_catalogue(state).await?);
            (&saved_cat, None)
        }
    };
    let mut rows: Vec<Value> = cat
        .options
        .iter()
        .map(|o| context! { code => o.code, kind => o.kind, name => o.name, active => o.active })
        .collect();
    for _ in 0..2 {
        rows.push(context! { code => "", kind => "", name => "", active => true });
    }
    let comp_errors: Vec<Value> = ce
        .map(|e| {
            e.0.iter()
                .map(|f| context! { field => f.field, label => settings_label(&f.field, lang), message => f.issue.message(lang) })
                .collect()
        })
        .unwrap_or_default();
    let errors: Vec<Value> = e
        .map(|e| {
            e.0.iter()
                .map(|f| context! { field => f.field, label => settings_label(&f.field, lang), message => f.issue.message(lang) })
                .collect()
        })
        .unwrap_or_default();
    let title = lang.pick("投诉设置", "Complaint settings");
    let ctx = context! { ..page_ctx(u, lang, "settings", title), ..context! {
        flash => saved.then(|| lang.pick("投诉设置已保存", "Complaint settings saved")),
        errors => errors,
        err => e.map(|e| field_errors(e, lang)).unwrap_or_default(),
        comp_errors => comp_errors,
        cerr => ce.map(|e| field_errors(e, lang)).unwrap_or_default(),
        options => rows,
        kinds => options(compensation::Kind::ALL, compensation::Kind::code, compensation::Kind::label, lang),
        limits => context! { agent => cat.agent_limit, supervisor => cat.supervisor_limit, admin => cat.admin_limit },
        v => context! {
            urgent_emotion => v.urgent_emotion, general_emotion => v.general_emotion, safety_words => v.safety_words,
            batch_window_hours => v.batch_window_hours, batch_customers => v.batch_customers,
        },
    }};
    render(state, "complaints/settings.html", ctx)
}

fn settings_label(field: &str, lang: Lang) -> String {
    let (zh, en) = match field {
        "urgent_emotion" => ("紧急情绪分", "Urgent emotion score"),
        "general_emotion" => ("一般情绪分", "General emotion score"),
        "safety_words" => ("安全问题词", "Safety words"),
        "batch_window_hours" => ("批量客诉时间窗口", "Batch window"),
        "batch_customers" => ("批量客诉客户数", "Batch customers"),
        "agent_limit" => ("客服专员审批限额", "Agent's approval limit"),
        "supervisor_limit" => ("客服主管审批限额", "Supervisor's approval limit"),
        "admin_limit" => ("管理员审批限额", "Administrator's approval limit"),
        "options" => ("补偿选项", "Compensation options"),
        other => {
            let row = other.strip_prefix("options[").and_then(|r| r.split_once("]."));
            return match row.and_then(|(i, f)| i.parse::<usize>().ok().map(|i| (i + 1, f))) {
                Some((n, f)) => {
                    let (zh, en) = match f {
                        "code" => ("代码", "code"),
                        "kind" => ("类型", "kind"),
                        _ => ("名称", "name"),
                    };
                    lang.pick(&format!("补偿选项第{n}行{zh}"), &format!("compensation option row {n}: {en}"))
                        .to_string()
                }
                None => other.to_string(),
            };
        }
    };
    lang.pick(zh, en).to_string()
}

pub async fn settings_page(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    if !rules_svc::may_configure(&u.user) {
        return Err(AppError::Forbidden);
    }
    let rules = rules_svc::load(&state).await?;
    let saved = raw.as_deref().is_some_and(|q| q.contains("flash=saved"));
    render_settings(&state, lang, &u, &rules.to_input(), None, saved, None).await
}

pub async fn save_settings(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let get = |k: &str| form_get(&pairs, k).unwrap_or("").to_string();
    let input = RulesInput {
        urgent_emotion: get("urgent_emotion"),
        general_emotion: get("general_emotion"),
        safety_words: get("safety_words"),
        batch_window_hours: get("batch_window_hours"),
        batch_customers: get("batch_customers"),
    };
    match rules_svc::save(&state, &u.user, &input, ip).await {
        Ok(_) => Ok(Redirect::to("/admin/complaints?flash=saved").into_response()),
        Err(AppError::Invalid(e)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render_settings(&state, lang, &u, &input, Some(&e), false, None).await?,
        )
            .into_response()),
        Err(e) => Err(e),
    }
}

fn catalogue_input(c: &compensation::Catalogue) -> CatalogueInput {
    let limit = |fen: Option<i64>| fen.map(|f| Money::from_fen(f).to_string()).unwrap_or_default();
    CatalogueInput {
        options: c
            .options
            .iter()
            .map(|o| OptionInput {
                code: o.code.clone(),
                kind: o.kind.code().into(),
                name: o.name.clone(),
                active: o.active,
            })
            .collect(),
        agent_limit: limit(c.agent_limit_fen),
        supervisor_limit: limit(c.supervisor_limit_fen),
        admin_limit: limit(c.admin_limit_fen),
    }
}

/// The compensation catalogue and limits (SPEC P4): the rows of the form
/// (blank rows are left out).
pub async fn save_compensation(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let get = |k: &str| form_get(&pairs, k).unwrap_or("").to_string();
    let count = get("option_rows").parse::<usize>().unwrap_or(0).min(60);
    let mut options = Vec::new();
    for i in 0..count {
        let o = OptionInput {
            code: get(&format!("opt_code_{i}")),
            kind: get(&format!("opt_kind_{i}")),
            name: get(&format!("opt_name_{i}")),
            active: form_get(&pairs, &format!("opt_active_{i}")).is_some(),
        };
        if o.code.trim().is_empty() && o.name.trim().is_empty() {
            continue;
        }
        options.push(o);
    }
    let input = CatalogueInput {
        options,
        agent_limit: get("agent_limit"),
        supervisor_limit: get("supervisor_limit"),
        admin_limit: get("admin_limit"),
    };
    match rules_svc::save_catalogue(&state, &u.user, &input, ip).await {
        Ok(_) => Ok(Redirect::to("/admin/complaints?flash=saved").into_response()),
        Err(AppError::Invalid(e)) => {
            // The form shows the filled rows again in order, so `options[k]` names the k-th row.
            let rules = rules_svc::load(&state).await?;
            let html = render_settings(&state, lang, &u, &rules.to_input(), None, false, Some((&input, &e))).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
        Err(e) => Err(e),
    }
}
