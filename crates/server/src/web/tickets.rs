//! Ticket pages (SPEC T): the queues (我的工单, the team's, unassigned,
//! escalated to me, all) sorted by the nearest SLA deadline with a clock
//! badge each and keyboard shortcuts; the ticket with its clocks, routing
//! reason, escalation, reply box, actions and history; the create form.
//! The settings page is in `ticket_settings.rs`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::multipart::Multipart;
use axum::extract::{FromRequest, Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use guanxi_domain::calendar::BusinessCalendar;
use guanxi_domain::customer::Channel;
use guanxi_domain::ticket::lifecycle::{self, Action};
use guanxi_domain::ticket::need::{self as need_flow, NeedStatus};
use guanxi_domain::ticket::sla::{ClockKind, ClockState, SlaClock};
use guanxi_domain::ticket::{Category, Priority, Status, TicketInput, TicketType};
use guanxi_domain::{Lang, ValidationErrors};
use guanxi_store::tickets::{Ticket, TicketAttachment, TicketEvent};
use guanxi_store::users;
use jiff::{SignedDuration, Timestamp};
use minijinja::{Value, context};

use super::{ClientIp, form_get, form_pairs, page_ctx, render};
use crate::api::tickets::{QueueParams, parse_queue};
use crate::auth::PageUser;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::tickets::actions::{self, MessageKind};
use crate::service::tickets::attachments::{self, Upload};
use crate::service::tickets::setup::{self, TicketSetup};
use crate::service::tickets::{self as svc, QueueKind};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tickets", get(queue_page))
        .route("/tickets/new", get(new_form))
        .route("/tickets/availability", post(set_availability))
        .route("/tickets/{id}", get(view))
        .route("/tickets/{id}/action", post(act))
        .route("/tickets/{id}/attachments/{attachment_id}", get(download))
        .route("/tickets/{id}/revisit", post(revisit))
        .route("/tickets/{id}/assign", post(assign))
        .route("/tickets/{id}/escalate", post(escalate))
        .route("/tickets/{id}/need", post(need_update))
        .route("/tickets/{id}/need/told", post(need_told))
}

/// The reply form, which may carry files: `app` in lib.rs gives it the
/// attachment size limit (`GUANXI_ATTACHMENT_MAX_MB`).
pub fn upload_router() -> Router<AppState> {
    Router::new().route("/tickets/{id}/message", post(message)).route("/tickets/new", post(create))
}

// ---- Formatting ----

fn local(at: Timestamp, state: &AppState) -> String {
    at.to_zoned(state.config.time_zone.clone()).strftime("%Y-%m-%d %H:%M").to_string()
}

/// "2 小时 05 分" / "2 h 05 min"; days are not used: it is working time.
pub fn duration_words(d: SignedDuration, lang: Lang) -> String {
    let m = d.as_mins().abs();
    match (m / 60, m % 60, lang) {
        (0, m, Lang::Zh) => format!("{m} 分钟"),
        (0, m, Lang::En) => format!("{m} min"),
        (h, 0, Lang::Zh) => format!("{h} 小时"),
        (h, 0, Lang::En) => format!("{h} h"),
        (h, m, Lang::Zh) => format!("{h} 小时 {m:02} 分"),
        (h, m, Lang::En) => format!("{h} h {m:02} min"),
    }
}

/// A clock as a badge: its state at `now` and what is left or overdue in
/// working time, both from the one evaluation ([`SlaClock::state_at`]) so the
/// colour (the `sla-<state>` class) and the words always agree.
fn clock_badge(k: &SlaClock, now: Timestamp, cal: &BusinessCalendar, state: &AppState, lang: Lang) -> Value {
    let st = k.state_at(now, cal);
    let left = k.remaining(now, cal);
    let text = match st {
        ClockState::Paused => {
            format!("{} · {}{}", lang.pick("已暂停", "paused"), lang.pick("剩 ", ""), duration_words(left, lang))
        }
        ClockState::Breached => format!("{}{}", lang.pick("已超时 ", "overdue "), duration_words(left, lang)),
        ClockState::Warning => format!("{}{}", lang.pick("即将超时 · 剩 ", "due soon · "), duration_words(left, lang)),
        ClockState::Running => {
            format!("{}{}", lang.pick("剩 ", ""), duration_words(left, lang)) + lang.pick("", " left")
        }
        ClockState::Late => lang.pick("超时完成", "met late").into(),
        ClockState::Met => lang.pick("按时完成", "met in time").into(),
    };
    let st = st.code();
    context! {
        clock => k.kind.code(), label => k.kind.label(lang), state => st, text => text,
        due => k.due_at.map(|d| local(d, state)),
        target => duration_words(SignedDuration::from_millis(k.target_ms), lang),
        stopped => k.stopped_at.map(|d| local(d, state)),
    }
}

/// The clock a queue row shows: the running one due first, else a paused one.
fn nearest(t: &Ticket) -> Option<&SlaClock> {
    let running = t.sla.0.iter().filter(|k| k.is_running() && k.due_at.is_some()).min_by_key(|k| k.due_at);
    running.or_else(|| t.sla.0.iter().find(|k| k.paused && !k.is_stopped()))
}

fn options<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T, Lang) -> &'static str,
    lang: Lang,
) -> Vec<Value> {
    all.iter().map(|x| context! { value => code(*x), label => label(*x, lang) }).collect()
}

fn flash(raw: Option<&str>, lang: Lang) -> Option<&'static str> {
    let f = raw?.split('&').find_map(|kv| kv.strip_prefix("flash="))?;
    Some(match f {
        "created" => lang.pick("工单已创建", "Ticket created"),
        "reply" => lang.pick("回复已发送", "Reply sent"),
        "note" => lang.pick("内部备注已保存", "Internal note saved"),
        "customer" => lang.pick("已记录客户反馈", "Customer's message recorded"),
        "action" => lang.pick("工单状态已更新", "Status updated"),
        "revisit" => lang.pick("回访已记录", "Revisit recorded"),
        "need" => lang.pick("需求记录已更新", "Need record updated"),
        "told" => lang.pick("已记录告知客户需求结果", "Recorded that the customer was told the outcome"),
        "notified" => lang.pick(
            "已记录告知客户，结果通知已进入发送队列",
            "Recorded that the customer was told; the outcome message is queued",
        ),
        "assigned" => lang.pick("处理人已更新", "Assignment updated"),
        "escalated" => lang.pick("已升级", "Escalated"),
        "available" => lang.pick("已设为在线，可接新工单", "You are available for new tickets"),
        "away" => lang.pick("已设为离线，不再分配新工单", "You are away: no new tickets are routed to you"),
        _ => return None,
    })
}

// ---- Queue ----

fn queue_href(kind: &str, group: Option<i64>, status: Option<&str>, after: Option<&str>) -> String {
    let mut q: Vec<(&str, String)> = vec![("queue", kind.to_string())];
    if let Some(g) = group {
        q.push(("group_id", g.to_string()));
    }
    if let Some(s) = status {
        q.push(("status", s.to_string()));
    }
    if let Some(a) = after {
        q.push(("after", a.to_string()));
    }
    format!("/tickets?{}", serde_urlencoded::to_string(&q).unwrap_or_default())
}

/// A ticket as a row of a list (queues, the customer 360 page).
pub(crate) fn queue_row(t: &Ticket, setup: &TicketSetup, now: Timestamp, state: &AppState, lang: Lang) -> Value {
    let cal = setup.calendar(&t.schedule_code);
    context! {
        id => t.id, number => t.number, subject => t.subject,
        customer_id => t.customer_id, customer => t.customer_name,
        type_label => t.ticket_type.label(lang), category => t.category.label(lang), channel => t.channel.label(lang),
        priority => t.priority.code(), priority_label => t.priority.label(lang),
        status => t.status.code(), status_label => t.status.label(lang),
        assignee => t.assignee_name, group => t.group_name,
        clock => nearest(t).map(|k| clock_badge(k, now, cal, state, lang)),
        escalation => t.escalation_level,
        repeat => t.repeat_of.is_some(),
        received => local(t.received_at, state),
    }
}

async fn queue_page(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let q: QueueParams = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("query string: {e}")))?;
    let r = parse_queue(&q)?;
    let rows = svc::queue(&state, &u.user, r).await?;
    let setup = setup::get(&state).await?;
    let now = state.clock.now();
    let uid = u.user.id;
    let me = state.db.read(move |c| guanxi_store::routing::agent(c, uid)).await?;
    let group = match r.kind {
        QueueKind::Team(g) | QueueKind::Unassigned(g) => g.or(u.user.group_id),
        _ => None,
    };
    let status_code = r.status.map(Status::code);
    let next = (i64::try_from(rows.len()).unwrap_or(0) == r.limit)
        .then(|| rows.last().map(|t| queue_href(r.kind.code(), group, status_code, Some(&svc::cursor_of(t)))))
        .flatten();
    let mut tabs = vec![("mine", lang.pick("我的工单", "My tickets"))];
    if u.user.group_id.is_some() {
        tabs.push(("team", lang.pick("小组队列", "Team queue")));
        tabs.push(("unassigned", lang.pick("待分配", "Unassigned")));
    }
    tabs.push(("escalated", lang.pick("升级给我", "Escalated to me")));
    if u.user.role.sees_all_tickets() {
        tabs.push(("all", lang.pick("全部工单", "All tickets")));
    }
    let groups: Vec<Value> = if u.user.role.sees_all_tickets()
        && matches!(r.kind, QueueKind::Team(_) | QueueKind::Unassigned(_))
    {
        let mut gs: Vec<_> = setup.groups.iter().map(|(id, g)| (g.name.clone(), *id)).collect();
        gs.sort();
        gs.into_iter()
            .map(|(name, id)| context! { name => name, href => queue_href(r.kind.code(), Some(id), status_code, None), active => Some(id) == group })
            .collect()
    } else {
        Vec::new()
    };
    let title = lang.pick("工单", "Tickets");
    let ctx = context! { ..page_ctx(&u, lang, "tickets", title), ..context! {
        flash => flash(raw.as_deref(), lang),
        tabs => tabs.iter().map(|(k, label)| context! { label => label, href => queue_href(k, None, None, None), active => *k == r.kind.code() }).collect::<Vec<_>>(),
        statuses => std::iter::once((None, lang.pick("全部状态", "Any status"))).chain(Status::ALL.iter().filter(|s| s.is_active()).map(|s| (Some(s.code()), s.label(lang))))
            .map(|(code, label)| context! { label => label, href => queue_href(r.kind.code(), group, code, None), active => code == status_code })
            .collect::<Vec<_>>(),
        groups => groups,
        items => rows.iter().map(|t| queue_row(t, &setup, now, &state, lang)).collect::<Vec<_>>(),
        next => next,
        first_page => r.after.is_none(),
        first_href => queue_href(r.kind.code(), group, status_code, None),
        available => me.available, load => me.open_tickets, takes => u.user.role.takes_tickets(),
        can_create => u.user.role.can_create_tickets(),
        kind => r.kind.code(),
    }};
    render(&state, "tickets/queue.html", ctx)
}

async fn set_availability(State(state): State<AppState>, u: PageUser, body: Bytes) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let available = form_get(&pairs, "available") == Some("true");
    actions::set_availability(&state, &u.user, available, None).await?;
    Ok(Redirect::to(if available { "/tickets?flash=available" } else { "/tickets?flash=away" }).into_response())
}

// ---- The ticket ----

pub(crate) fn event_words(e: &TicketEvent, lang: Lang, state: &AppState) -> String {
    let d: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null);
    let s = |k: &str| d[k].as_str().unwrap_or("").to_string();
    let status = |k: &str| Status::parse(&s(k)).map(|x| x.label(lang).to_string()).unwrap_or_default();
    let clock = || ClockKind::parse(&s("clock")).map(|x| x.label(lang).to_string()).unwrap_or_default();
    let at = |k: &str| {
        d[k].as_i64().and_then(|ms| Timestamp::from_millisecond(ms).ok()).map(|t| local(t, state)).unwrap_or_default()
    };
    match (e.kind.as_str(), lang) {
        ("created", Lang::Zh) => {
            format!("创建工单，优先级「{}」", Priority::parse(&s("priority")).map(|p| p.label(lang)).unwrap_or(""))
        }
        ("created", Lang::En) => {
            format!("Ticket created, priority {}", Priority::parse(&s("priority")).map(|p| p.label(lang)).unwrap_or(""))
        }
        ("status", Lang::Zh) => format!(
            "状态：{} → {}{}",
            status("from"),
            status("to"),
            d["note"].as_str().map(|n| format!("（{n}）")).unwrap_or_default()
        ),
        ("status", Lang::En) => format!(
            "Status: {} → {}{}",
            status("from"),
            status("to"),
            d["note"].as_str().map(|n| format!(" ({n})")).unwrap_or_default()
        ),
        ("assigned", Lang::Zh) => format!("处理人：{}", d["to_name"].as_str().unwrap_or("未分配")),
        ("assigned", Lang::En) => format!("Assignee: {}", d["to_name"].as_str().unwrap_or("nobody")),
        ("reply", _) => lang.pick("回复客户", "Replied to the customer").into(),
        ("note", _) => lang.pick("添加内部备注", "Added an internal note").into(),
        ("customer_message", _) => lang.pick("记录客户反馈", "Recorded the customer's message").into(),
        ("clock_stopped", Lang::Zh) => {
            format!("{}{}", clock(), if s("outcome") == "late" { "超时完成" } else { "按时完成" })
        }
        ("clock_stopped", Lang::En) => {
            format!("{} {}", clock(), if s("outcome") == "late" { "met late" } else { "met in time" })
        }
        ("sla_warning", Lang::Zh) => format!("{}即将超时（截止 {}）", clock(), at("due_at")),
        ("sla_warning", Lang::En) => format!("{} due soon (by {})", clock(), at("due_at")),
        ("sla_breach", Lang::Zh) => format!("{}已超时（截止 {}）", clock(), at("due_at")),
        ("sla_breach", Lang::En) => format!("{} breached (due {})", clock(), at("due_at")),
        ("escalated", Lang::Zh) => format!(
            "升级「{}」第 {}/{} 级：{}{}，{} 分钟内响应（截止 {}）",
            s("path"),
            d["step"],
            d["steps"],
            s("step_name"),
            d["target_name"].as_str().map(|n| format!("（{n}）")).unwrap_or_default(),
            d["respond_minutes"],
            at("due_at")
        ),
        ("escalated", Lang::En) => format!(
            "Escalated ({}) to step {}/{}: {}{}, respond within {} min (by {})",
            s("path"),
            d["step"],
            d["steps"],
            s("step_name"),
            d["target_name"].as_str().map(|n| format!(" ({n})")).unwrap_or_default(),
            d["respond_minutes"],
            at("due_at")
        ),
        ("escalation_answered", Lang::Zh) => format!("升级环节「{}」已响应", s("step_name")),
        ("escalation_answered", Lang::En) => format!("Escalation step \"{}\" answered", s("step_name")),
        ("escalation_exhausted", Lang::Zh) => format!("升级路径「{}」已走完仍未响应", s("path")),
        ("escalation_exhausted", Lang::En) => format!("Escalation path \"{}\" ran out unanswered", s("path")),
        ("revisited", _) => lang.pick("完成解决后回访", "Revisit done").into(),
        ("attachment", _) => {
            let names: Vec<&str> = d["files"]
                .as_array()
                .map(|f| f.iter().filter_map(|x| x["name"].as_str()).collect())
                .unwrap_or_default();
            format!("{}{}", lang.pick("上传附件：", "Attached: "), names.join(lang.pick("、", ", ")))
        }
        ("repeat_inquiry", _) => lang.pick("7 天内同类重复咨询", "Repeat inquiry within 7 days").into(),
        ("need_routed", Lang::Zh) => format!("需求分派至「{}」", s("department_name")),
        ("need_routed", Lang::En) => format!("Need routed to {}", s("department_name")),
        ("need_status", _) => {
            let st = |k: &str| NeedStatus::parse(&s(k)).map(|x| x.label(lang).to_string()).unwrap_or_default();
            let mut out = if s("from") == s("to") {
                lang.pick("需求记录更新", "Need record updated").to_string()
            } else {
                format!("{}{} → {}", lang.pick("需求状态：", "Need status: "), st("from"), st("to"))
            };
            if let Some(v) = d["planned_version"].as_str() {
                out.push_str(&format!("{}{v}", lang.pick("，排期版本 ", "; version ")));
            }
            if let Some(v) = d["planned_date"].as_str() {
                out.push_str(&format!("{}{v}", lang.pick("，计划日期 ", "; planned ")));
            }
            if let Some(v) = d["decline_reason"].as_str() {
                out.push_str(&format!("{}{v}", lang.pick("，原因：", "; reason: ")));
            }
            out
        }
        ("need_customer_told", _) if d["outreach_id"].is_i64() => {
            format!(
                "{}{}",
                lang.pick("已通知客户需求结果，消息 #", "Customer notified of the outcome, message #"),
                d["outreach_id"]
            )
        }
        ("need_customer_told", _) => lang.pick("已告知客户需求结果", "Customer told the outcome").into(),
        (other, _) => other.to_string(),
    }
}

/// The label of a ticket entry on the customer timeline (`ticket.…` codes).
pub fn timeline_label(code: &str, lang: Lang) -> String {
    let parts: Vec<&str> = code.split('.').collect();
    match parts.as_slice() {
        ["created"] => lang.pick("新建工单", "Ticket created").into(),
        ["status", s] => format!("{}{}", lang.pick("工单", "Ticket "), Status::parse(s).map_or(*s, |x| x.label(lang))),
        ["assigned"] => lang.pick("工单分配", "Ticket assigned").into(),
        ["reply"] => lang.pick("工单回复", "Ticket reply").into(),
        ["customer_message"] => lang.pick("客户反馈（工单）", "Customer message (ticket)").into(),
        ["sla_warning", c] => {
            format!("{}{}", ClockKind::parse(c).map_or(*c, |x| x.label(lang)), lang.pick("即将超时", " due soon"))
        }
        ["sla_breach", c] => {
            format!("{}{}", ClockKind::parse(c).map_or(*c, |x| x.label(lang)), lang.pick("超时", " breached"))
        }
        ["escalated"] => lang.pick("工单升级", "Ticket escalated").into(),
        ["escalation_answered"] => lang.pick("升级已响应", "Escalation answered").into(),
        ["escalation_exhausted"] => lang.pick("升级链走完未响应", "Escalation ran out").into(),
        ["revisited"] => lang.pick("工单回访", "Ticket revisit").into(),
        _ => code.to_string(),
    }
}

/// "1.5 MB" / "12 KB" / "300 B".
fn size_words(bytes: i64) -> String {
    match bytes {
        b if b >= 1024 * 1024 => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
        b if b >= 1024 => format!("{} KB", b / 1024),
        b => format!("{b} B"),
    }
}

fn attachment_item(ticket: i64, a: &TicketAttachment, state: &AppState, lang: Lang) -> Value {
    context! {
        id => a.id, name => a.file_name, size => size_words(a.size_bytes), content_type => a.content_type,
        href => format!("/tickets/{ticket}/attachments/{}", a.id),
        by => a.uploaded_by_name.clone().unwrap_or_else(|| lang.pick("系统", "system").into()),
        at => local(a.uploaded_at, state),
    }
}

/// What the detail page keeps when a form is refused.
#[derive(Default)]
struct Kept {
    error: Option<String>,
    field_errors: std::collections::BTreeMap<String, String>,
    body: String,
    kind: String,
    form: &'static str,
    /// The need form's fields as typed.
    need: Vec<(String, String)>,
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
    let now = state.clock.now();
    let t = &d.ticket;
    let cal = setup.calendar(&t.schedule_code);
    let perms = u.user.role.ticket_permissions();
    let staff = if u.user.role.can_assign_tickets() { state.db.read(users::list_active).await? } else { Vec::new() };
    let revisit_due = t.sla.get(ClockKind::Revisit).is_some_and(|k| !k.is_stopped());
    let used_script = raw.and_then(|q| q.split('&').find_map(|p| p.strip_prefix("script=")?.parse::<i64>().ok()));
    let kb = super::knowledge::ticket_panel(state, u, t.id, used_script, lang).await?;
    let need = if t.ticket_type == TicketType::Need { Some(need_ctx(state, u, t, &kept, lang).await?) } else { None };
    let title = format!("{} · {}", t.number, t.subject);
    let ctx = context! { ..page_ctx(u, lang, "tickets", &title), ..context! {
        kb => kb,
        need => need,
        flash => flash(raw, lang),
        tk => context! {
            id => t.id, number => t.number, subject => t.subject, description => t.description,
            customer_id => t.customer_id, customer => t.customer_name, customer_code => t.customer_code,
            type_label => t.ticket_type.label(lang), category => t.category.label(lang), channel => t.channel.label(lang),
            priority => t.priority.code(), priority_label => t.priority.label(lang), track => t.priority.track(lang),
            status => t.status.code(), status_label => t.status.label(lang), active => t.status.is_active(),
            group => t.group_name, assignee => t.assignee_name, assignee_id => t.assignee_id,
            schedule => setup.schedule_name(&t.schedule_code),
            routing => t.routing.as_ref().map(|r| r.describe(lang)),
            repeat_of => t.repeat_of, repeat_number => d.repeat_number,
            received => local(t.received_at, state), external_id => t.external_id,
            escalation => t.escalation.as_ref().map(|e| context! {
                summary => e.describe(lang), running => e.is_running(),
                due => e.step_due_at.map(|x| local(x, state)),
            }),
            handovers => d.handovers.iter().map(|h| context! {
                department => h.group_name, person => h.user_name, step => h.step_name,
                handed => local(h.handed_at, state), answered => h.answered_at.map(|a| local(a, state)),
                days => h.working_days.map(|x| format!("{x:.2}")),
            }).collect::<Vec<_>>(),
        },
        clocks => t.sla.0.iter().map(|k| clock_badge(k, now, cal, state, lang)).collect::<Vec<_>>(),
        actions => lifecycle::available(t.status, perms).iter().map(|a| context! {
            code => a.code(), label => a.label(lang), primary => matches!(a, Action::Resolve | Action::Accept),
        }).collect::<Vec<_>>(),
        messages => d.messages.iter().map(|m| context! {
            kind => m.kind, body => m.body, at => local(m.at, state),
            author => m.author_name.clone().unwrap_or_else(|| lang.pick("客户", "Customer").into()),
            files => d.attachments.iter().filter(|a| a.message_id == Some(m.id)).map(|a| attachment_item(t.id, a, state, lang)).collect::<Vec<_>>(),
        }).collect::<Vec<_>>(),
        attachments => d.attachments.iter().map(|a| attachment_item(t.id, a, state, lang)).collect::<Vec<_>>(),
        max_attachment_mb => state.config.attachment_max_mb,
        history => d.events.iter().map(|e| context! {
            at => local(e.at, state), who => e.actor_name, what => event_words(e, lang, state),
            kind => e.kind,
        }).collect::<Vec<_>>(),
        can_reply => u.user.role.can_create_tickets() && t.status != Status::Closed,
        can_take => t.assignee_id != Some(u.user.id) && u.user.role.takes_tickets() && t.status.is_active(),
        can_assign => u.user.role.can_assign_tickets() && t.status.is_active(),
        can_escalate => u.user.role.can_create_tickets() && t.status.is_workload() && !t.escalation.as_ref().is_some_and(|e| e.is_running()),
        can_revisit => revisit_due && u.user.role.can_create_tickets(),
        staff => staff.iter().filter(|s| s.role.can_create_tickets()).map(|s| context! { value => s.id, label => format!("{}（{}）", s.name, s.group_name.clone().unwrap_or_default()) }).collect::<Vec<_>>(),
        error => kept.error, err => kept.field_errors, kept_body => kept.body, kept_kind => kept.kind, kept_form => kept.form,
    }};
    render(state, "tickets/view.html", ctx)
}

/// The need section of a need ticket: its record, the form to move it
/// along (the statuses it may go to, the departments), and "customer told".
async fn need_ctx(state: &AppState, u: &PageUser, t: &Ticket, kept: &Kept, lang: Lang) -> AppResult<Value> {
    let id = t.id;
    let (record, groups) =
        state.db.read(move |c| Ok((guanxi_store::needs::get(c, id)?, users::list_groups(c)?))).await?;
    let status = record.as_ref().map_or(NeedStatus::Submitted, |r| r.status);
    let keep = |k: &str| kept.need.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let r = record.as_ref();
    let value = |k: &str, stored: Option<String>| keep(k).or(stored).unwrap_or_default();
    // The statuses offered: the current one (edit the rest) while open, then where it may go.
    let mut next: Vec<NeedStatus> =
        NeedStatus::ALL.iter().copied().filter(|s| need_flow::allowed(status, *s)).collect();
    if !status.is_outcome() {
        next.insert(0, status);
    }
    let chosen = keep("status").unwrap_or_else(|| status.code().to_string());
    let dep = value("department_id", r.and_then(|r| r.department_id).map(|d| d.to_string()));
    let outcome = r.and_then(|r| {
        need_flow::outcome_text(r.status, r.planned_version.as_deref(), r.planned_date, r.decline_reason.as_deref())
    });
    let staff = u.user.role.can_create_tickets();
    Ok(context! {
        status => status.code(), status_label => status.label(lang), outcome_reached => status.is_outcome(),
        department => r.and_then(|r| r.department_name.clone()),
        planned_version => r.and_then(|r| r.planned_version.clone()),
        planned_date => r.and_then(|r| r.planned_date).map(|d| d.to_string()),
        decline_reason => r.and_then(|r| r.decline_reason.clone()),
        submitted => r.map(|r| local(r.submitted_at, state)),
        outcome_at => r.and_then(|r| r.outcome_at).map(|x| local(x, state)),
        told_at => r.and_then(|r| r.customer_told_at).map(|x| local(x, state)),
        told_message => r.and_then(|r| r.told_outreach_id),
        outcome_text => outcome,
        can_edit => staff && !status.is_outcome(),
        can_tell => staff && status.is_outcome() && r.is_some_and(|r| r.customer_told_at.is_none()),
        statuses => next.iter().map(|s| context! { value => s.code(), label => s.label(lang), selected => s.code() == chosen }).collect::<Vec<_>>(),
        departments => groups.iter().map(|g| context! {
            value => g.id.to_string(), label => g.name, kind => g.kind.label(lang), selected => g.id.to_string() == dep,
        }).collect::<Vec<_>>(),
        f_version => value("planned_version", r.and_then(|r| r.planned_version.clone())),
        f_date => value("planned_date", r.and_then(|r| r.planned_date).map(|d| d.to_string())),
        f_reason => value("decline_reason", r.and_then(|r| r.decline_reason.clone())),
        notify => keep("notify").is_some() || kept.form != "need_told",
    })
}

/// The need form of the ticket page: status, department, plan, reason.
async fn need_update(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let field = |k: &str| form_get(&pairs, k).map(str::to_string);
    let input = crate::api::needs::NeedInput {
        status: field("status"),
        department_id: field("department_id"),
        planned_version: field("planned_version"),
        planned_date: field("planned_date"),
        decline_reason: field("decline_reason"),
    };
    match crate::api::needs::update(&state, &u.user, id, input).await {
        Ok(_) => Ok(back(id, "need")),
        Err(e) => {
            let need = pairs.into_iter().filter(|(k, _)| k != "_csrf").collect();
            refused(&state, lang, &u, id, e, Kept { form: "need", need, ..Kept::default() }).await
        }
    }
}

/// "Customer told" on the ticket page, by default telling them through
/// the outbox (the `notify` box).
async fn need_told(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let notify = form_get(&pairs, "notify").is_some_and(|v| v == "1" || v == "on" || v == "true");
    match crate::service::needs::tell(&state, &u.user, id, notify).await {
        Ok(r) => Ok(back(id, if r.told_outreach_id.is_some() { "notified" } else { "told" })),
        Err(e) => {
            let need = if notify { vec![("notify".to_string(), "1".to_string())] } else { Vec::new() };
            refused(&state, lang, &u, id, e, Kept { form: "need_told", need, ..Kept::default() }).await
        }
    }
}

async fn view(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    render_view(&state, lang, &u, id, raw.as_deref(), Kept::default()).await
}

/// A refused form: the detail page again with the reason (409/422) and
/// what was typed; anything else is an error page.
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
            kept.field_errors = v.0.iter().map(|f| (f.field.clone(), f.issue.message(lang))).collect();
            kept.error = Some(lang.pick("请修正以下问题", "Please correct the following").to_string());
        }
        other => return Err(other),
    }
    Ok((status, render_view(state, lang, u, id, None, kept).await?).into_response())
}

fn back(id: i64, flash: &str) -> Response {
    Redirect::to(&format!("/tickets/{id}?flash={flash}")).into_response()
}

async fn act(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let action = Action::parse(form_get(&pairs, "action").unwrap_or("")).map_err(|i| AppError::field("action", i))?;
    let note = form_get(&pairs, "note").map(str::to_string);
    match actions::act(&state, &u.user, id, action, note, ip).await {
        Ok(_) => Ok(back(id, "action")),
        Err(e) => refused(&state, lang, &u, id, e, Kept { form: "action", ..Kept::default() }).await,
    }
}

/// The fields and files of a multipart form. A file input left empty is
/// sent as a part without a name or bytes: it is no file.
pub(crate) async fn read_multipart(
    mut mp: Multipart,
    max_bytes: u64,
) -> AppResult<(Vec<(String, String)>, Vec<Upload>)> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::field("file", guanxi_domain::Issue::FileTooLarge { max_bytes })
        } else {
            AppError::BadRequest(format!("multipart: {}", e.body_text()))
        }
    };
    let (mut pairs, mut files) = (Vec::new(), Vec::new());
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_string();
        match field.file_name().map(str::to_string) {
            Some(file_name) => {
                let bytes = field.bytes().await.map_err(bad)?;
                if !(file_name.is_empty() && bytes.is_empty()) {
                    files.push(Upload { name: file_name, bytes });
                }
            }
            None => pairs.push((name, field.text().await.map_err(bad)?)),
        }
    }
    Ok((pairs, files))
}

/// A form's fields and files: urlencoded, or multipart when it carries files.
async fn form_and_files(state: &AppState, req: Request) -> AppResult<(Vec<(String, String)>, Vec<Upload>)> {
    let multipart = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if multipart {
        let mp = Multipart::from_request(req, state).await.map_err(|e| AppError::BadRequest(e.body_text()))?;
        read_multipart(mp, state.config.attachment_max_bytes()).await
    } else {
        let body = Bytes::from_request(req, state).await.map_err(|e| AppError::BadRequest(e.body_text()))?;
        Ok((form_pairs(&body)?, Vec::new()))
    }
}

/// The reply form: urlencoded, or multipart when it carries files.
async fn message(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    req: Request,
) -> AppResult<Response> {
    let (pairs, files) = form_and_files(&state, req).await?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let text = form_get(&pairs, "body").unwrap_or("").to_string();
    let kind = form_get(&pairs, "kind").unwrap_or("reply").to_string();
    let r = match kind.as_str() {
        "customer" if files.is_empty() => actions::customer_message(&state, &u.user, id, &text, ip).await,
        "customer" => Err(AppError::field("file", guanxi_domain::Issue::NotAllowed)),
        k => match MessageKind::parse(k) {
            Ok(m) => actions::reply_with_files(&state, &u.user, id, m, &text, files, ip).await,
            Err(i) => Err(AppError::field("kind", i)),
        },
    };
    match r {
        Ok(_) => Ok(back(id, if kind == "reply" || kind == "note" { &kind } else { "customer" })),
        Err(e) => refused(&state, lang, &u, id, e, Kept { body: text, kind, form: "message", ..Kept::default() }).await,
    }
}

/// An attachment of a ticket the user may see, as a download.
async fn download(
    State(state): State<AppState>,
    u: PageUser,
    ClientIp(ip): ClientIp,
    Path((id, attachment_id)): Path<(i64, i64)>,
) -> AppResult<Response> {
    let (a, bytes) = attachments::download(&state, &u.user, id, attachment_id, ip).await?;
    Ok(attachments::response(&a, bytes))
}

async fn revisit(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let note = form_get(&pairs, "note").unwrap_or("").to_string();
    match actions::revisit(&state, &u.user, id, &note, ip).await {
        Ok(_) => Ok(back(id, "revisit")),
        Err(e) => refused(&state, lang, &u, id, e, Kept { body: note, form: "revisit", ..Kept::default() }).await,
    }
}

async fn assign(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let assignee = match form_get(&pairs, "assignee_id").map(str::trim) {
        Some("me") => Some(u.user.id),
        Some("") | None => None,
        Some(x) => {
            Some(x.parse::<i64>().map_err(|_| AppError::field("assignee_id", guanxi_domain::Issue::NotAllowed))?)
        }
    };
    match actions::assign(&state, &u.user, id, assignee, None, ip).await {
        Ok(_) => Ok(back(id, "assigned")),
        Err(e) => refused(&state, lang, &u, id, e, Kept { form: "assign", ..Kept::default() }).await,
    }
}

async fn escalate(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let reason = form_get(&pairs, "reason").unwrap_or("").to_string();
    match actions::escalate(&state, &u.user, id, &reason, ip).await {
        Ok(_) => Ok(back(id, "escalated")),
        Err(e) => refused(&state, lang, &u, id, e, Kept { body: reason, form: "escalate", ..Kept::default() }).await,
    }
}

// ---- Create ----

fn field_label(f: &str, lang: Lang) -> &str {
    match f {
        "type" => lang.pick("工单类型", "Type"),
        "channel" => lang.pick("来源渠道", "Channel"),
        "category" => lang.pick("问题分类", "Category"),
        "priority" => lang.pick("优先级", "Priority"),
        "customer_id" | "customer_code" => lang.pick("客户", "Customer"),
        "subject" => lang.pick("主题", "Subject"),
        "description" => lang.pick("问题描述", "Description"),
        "group_id" => lang.pick("处理小组", "Group"),
        "assignee_id" => lang.pick("处理人", "Assignee"),
        "received_at" => lang.pick("受理时间", "Received at"),
        "external_id" => lang.pick("外部单号", "External id"),
        other => other,
    }
}

fn input_from(pairs: &[(String, String)]) -> Result<TicketInput, ValidationErrors> {
    let get = |k: &str| form_get(pairs, k).map(str::trim).unwrap_or("").to_string();
    let opt = |k: &str| Some(get(k)).filter(|s| !s.is_empty());
    let mut e = ValidationErrors::new();
    let mut num = |k: &str| -> Option<i64> {
        let v = opt(k)?;
        match v.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                e.add(k, guanxi_domain::Issue::NotAllowed);
                None
            }
        }
    };
    let (customer_id, group_id, assignee_id) = (num("customer_id"), num("group_id"), num("assignee_id"));
    e.into_result(|| TicketInput {
        ticket_type: get("type"),
        channel: get("channel"),
        category: get("category"),
        priority: opt("priority"),
        urgent: form_get(pairs, "urgent").map(|_| true),
        important: form_get(pairs, "important").map(|_| true),
        customer_id,
        customer_code: opt("customer_code"),
        subject: get("subject"),
        description: form_get(pairs, "description").unwrap_or("").to_string(),
        group_id,
        assignee_id,
        received_at: None,
        external_id: None,
    })
}

async fn render_form(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    pairs: &[(String, String)],
    e: Option<&ValidationErrors>,
) -> AppResult<Html<String>> {
    let setup = setup::get(state).await?;
    let staff = if u.user.role.can_assign_tickets() { state.db.read(users::list_active).await? } else { Vec::new() };
    let value = |k: &str| form_get(pairs, k).unwrap_or("").to_string();
    let customer_id = value("customer_id");
    let customer = match customer_id.parse::<i64>() {
        Ok(cid) => crate::service::customers::get(state, &u.user, cid)
            .await
            .ok()
            .map(|c| context! { id => c.id, code => c.code, name => c.name }),
        Err(_) => None,
    };
    let errors: Vec<Value> = e
        .map(|e| e.0.iter().map(|f| context! { field => f.field, label => field_label(&f.field, lang), message => f.issue.message(lang) }).collect())
        .unwrap_or_default();
    let err: std::collections::BTreeMap<String, String> = e
        .map(|e| {
            e.0.iter()
                .map(|f| {
                    (
                        if f.field == "customer_id" { "customer_code".to_string() } else { f.field.clone() },
                        f.issue.message(lang),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut groups: Vec<_> = setup.groups.iter().map(|(id, g)| (g.name.clone(), *id)).collect();
    groups.sort();
    let title = lang.pick("新建工单", "New ticket");
    let ctx = context! { ..page_ctx(u, lang, "tickets", title), ..context! {
        errors => errors, err => err, customer => customer,
        v => context! {
            customer_id => customer_id, customer_code => value("customer_code"),
            ticket_type => if pairs.is_empty() { "consultation".into() } else { value("type") },
            channel => if pairs.is_empty() { "phone".into() } else { value("channel") },
            category => if pairs.is_empty() { "product".into() } else { value("category") },
            priority => value("priority"), urgent => form_get(pairs, "urgent").is_some(), important => form_get(pairs, "important").is_some(),
            subject => value("subject"), description => value("description"), group_id => value("group_id"), assignee_id => value("assignee_id"),
        },
        types => options(TicketType::ALL, TicketType::code, TicketType::label, lang),
        channels => options(Channel::ALL, Channel::code, Channel::label, lang),
        categories => options(Category::ALL, Category::code, Category::label, lang),
        priorities => options(Priority::ALL, Priority::code, Priority::label, lang),
        groups => groups.iter().map(|(name, id)| context! { value => id, label => name }).collect::<Vec<_>>(),
        staff => staff.iter().filter(|s| s.role.can_create_tickets()).map(|s| context! { value => s.id, label => s.name }).collect::<Vec<_>>(),
    }};
    render(state, "tickets/form.html", ctx)
}

async fn new_form(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    if !u.user.role.can_create_tickets() {
        return Err(AppError::Forbidden);
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k == "customer_id").collect();
    render_form(&state, lang, &u, &pairs, None).await
}

async fn create(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    req: Request,
) -> AppResult<Response> {
    let (pairs, files) = form_and_files(&state, req).await?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let result = match input_from(&pairs) {
        Ok(input) => svc::create_with_files(&state, &u.user, input, files, ip).await,
        Err(e) => Err(AppError::Invalid(e)),
    };
    match result {
        Ok(t) => Ok(Redirect::to(&format!("/tickets/{}?flash=created", t.id)).into_response()),
        Err(AppError::Invalid(e)) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render_form(&state, lang, &u, &pairs, Some(&e)).await?)
                .into_response())
        }
        Err(e) => Err(e),
    }
}
