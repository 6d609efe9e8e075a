//! `/api/v1/tickets`: tickets and the service process (SPEC T1–T6) —
//! creating tickets (also from other systems), the queues, one ticket with
//! its clocks, messages and history, and every action on it.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use guanxi_domain::calendar::BusinessCalendar;
use guanxi_domain::ticket::lifecycle::{self, Action};
use guanxi_domain::ticket::sla::SlaClock;
use guanxi_domain::ticket::{Status, TicketInput};
use guanxi_domain::{Issue, Lang, ValidationErrors};
use guanxi_store::tickets::{Ticket, TicketAttachment, TicketEvent, TicketMessage};
use guanxi_store::users::User;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::json::Json;
use crate::auth::ApiUser;
use crate::error::{AppError, AppResult, Problem};
use crate::lang::ReqLang;
use crate::service::tickets::actions::{self, MessageKind};
use crate::service::tickets::setup::{self, TicketSetup};
use crate::service::tickets::{self as svc, QueueKind, QueueRequest};
use crate::state::AppState;
use crate::web::ClientIp;

/// One SLA clock of a ticket.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClockView {
    /// `first_response`, `progress`, `resolution` or `revisit`.
    pub clock: String,
    pub label: String,
    /// `running`, `warning` (past the warning share), `breached` (past the
    /// deadline, still running), `paused` (waiting for the customer),
    /// `met`, or `late` (met after the deadline) — evaluated at the time of
    /// the request, whether or not the scheduler has recorded it yet.
    pub state: String,
    /// The target in minutes of working time.
    pub target_minutes: i64,
    /// The deadline while running (RFC 3339).
    pub due_at: Option<String>,
    /// Working minutes left (negative when overdue); absent once stopped.
    pub remaining_minutes: Option<i64>,
    pub breached_at: Option<String>,
    pub stopped_at: Option<String>,
}

/// A clock's state at `now` (the domain's one evaluation: a clock past its
/// deadline reads as breached before the scheduler records it).
pub fn clock_state(k: &SlaClock, now: Timestamp, cal: &BusinessCalendar) -> &'static str {
    k.state_at(now, cal).code()
}

pub fn clock_view(k: &SlaClock, now: Timestamp, cal: &BusinessCalendar, lang: Lang) -> ClockView {
    ClockView {
        clock: k.kind.code().into(),
        label: k.kind.label(lang).into(),
        state: clock_state(k, now, cal).into(),
        target_minutes: k.target_ms / 60_000,
        due_at: k.due_at.map(|d| d.to_string()),
        remaining_minutes: (!k.is_stopped()).then(|| k.remaining(now, cal).as_mins()),
        breached_at: k.breached_at.map(|d| d.to_string()),
        stopped_at: k.stopped_at.map(|d| d.to_string()),
    }
}

/// A ticket's escalation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EscalationView {
    pub path: String,
    /// 1 for the first step.
    pub step: i64,
    pub step_name: String,
    pub target_id: Option<i64>,
    /// When the current step's time runs out (RFC 3339).
    pub step_due_at: Option<String>,
    /// `answered`, `settled` or `exhausted` once over.
    pub ended: Option<String>,
    pub summary: String,
}

/// A ticket.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketView {
    pub id: i64,
    /// 工单号, e.g. `GD202611230001`.
    pub number: String,
    #[serde(rename = "type")]
    pub ticket_type: String,
    pub type_label: String,
    pub channel: String,
    pub category: String,
    pub category_label: String,
    pub priority: String,
    pub priority_label: String,
    pub status: String,
    pub status_label: String,
    pub customer_id: i64,
    pub customer_code: String,
    pub customer_name: String,
    pub subject: String,
    pub description: String,
    pub group_id: Option<i64>,
    pub group_name: Option<String>,
    pub assignee_id: Option<i64>,
    pub assignee_name: Option<String>,
    /// The work schedule its clocks count on (`default`, `7x12`, …).
    pub schedule: String,
    /// Why it went to this group and person, in words.
    pub routing_reason: Option<String>,
    /// The earlier ticket of the same customer and category within 7 days (重复咨询).
    pub repeat_of: Option<i64>,
    pub clocks: Vec<ClockView>,
    /// The nearest deadline of a running clock.
    pub sla_due_at: Option<String>,
    pub sla_breached: bool,
    pub escalation: Option<EscalationView>,
    pub external_id: Option<String>,
    pub received_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub first_response_at: Option<String>,
    pub resolved_at: Option<String>,
    pub closed_at: Option<String>,
    /// The status actions the caller may take now.
    pub actions: Vec<String>,
}

impl TicketView {
    pub fn new(t: &Ticket, setup: &TicketSetup, user: &User, now: Timestamp, lang: Lang) -> Self {
        let cal = setup.calendar(&t.schedule_code);
        let ts = |x: Option<Timestamp>| x.map(|t| t.to_string());
        TicketView {
            id: t.id,
            number: t.number.clone(),
            ticket_type: t.ticket_type.code().into(),
            type_label: t.ticket_type.label(lang).into(),
            channel: t.channel.code().into(),
            category: t.category.code().into(),
            category_label: t.category.label(lang).into(),
            priority: t.priority.code().into(),
            priority_label: t.priority.label(lang).into(),
            status: t.status.code().into(),
            status_label: t.status.label(lang).into(),
            customer_id: t.customer_id,
            customer_code: t.customer_code.clone(),
            customer_name: t.customer_name.clone(),
            subject: t.subject.clone(),
            description: t.description.clone(),
            group_id: t.group_id,
            group_name: t.group_name.clone(),
            assignee_id: t.assignee_id,
            assignee_name: t.assignee_name.clone(),
            schedule: t.schedule_code.clone(),
            routing_reason: t.routing.as_ref().map(|r| r.describe(lang)),
            repeat_of: t.repeat_of,
            clocks: t.sla.0.iter().map(|k| clock_view(k, now, cal, lang)).collect(),
            sla_due_at: ts(t.sla_due_at),
            sla_breached: t.sla_breached,
            escalation: t.escalation.as_ref().map(|e| EscalationView {
                path: e.path_name.clone(),
                step: i64::try_from(e.step + 1).unwrap_or(0),
                step_name: e.step_name.clone(),
                target_id: e.target_id,
                step_due_at: ts(e.step_due_at),
                ended: e.ended.map(|x| {
                    serde_json::to_value(x).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
                }),
                summary: e.describe(lang),
            }),
            external_id: t.external_id.clone(),
            received_at: t.received_at.to_string(),
            created_at: t.created_at.to_string(),
            updated_at: t.updated_at.to_string(),
            first_response_at: ts(t.first_response_at),
            resolved_at: ts(t.resolved_at),
            closed_at: ts(t.closed_at),
            actions: lifecycle::available(t.status, user.role.ticket_permissions())
                .iter()
                .map(|a| a.code().to_string())
                .collect(),
        }
    }
}

async fn view(state: &AppState, t: &Ticket, user: &User, lang: Lang) -> AppResult<TicketView> {
    let setup = setup::get(state).await?;
    Ok(TicketView::new(t, &setup, user, state.clock.now(), lang))
}

/// Creates a ticket — from an agent, or from another system (with
/// `received_at` and `external_id`). The customer's tier raises the
/// priority and picks the 7×12 schedule for high-value customers; routing
/// rules pick the group, then the dedicated advisor or the least-loaded
/// available agent; the SLA clocks start at `received_at`.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", request_body = TicketInput, security(("bearer" = [])),
    responses((status = 201, body = TicketView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, description = "a field was refused; `errors` names it", body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Json(input): Json<TicketInput>,
) -> AppResult<(StatusCode, Json<TicketView>)> {
    let t = svc::create(&state, &user, input, ip).await?;
    Ok((StatusCode::CREATED, Json(view(&state, &t, &user, lang).await?)))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueParams {
    /// `mine` (default, 我的工单), `team` (the group's), `unassigned`, `escalated` (escalated to me) or `all` (supervisors).
    pub queue: Option<String>,
    /// The group of `team` / `unassigned` (default: the caller's).
    pub group_id: Option<i64>,
    /// Only this status.
    pub status: Option<String>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// 1–200, default 25.
    pub limit: Option<i64>,
    /// `true`: only repeat inquiries (重复咨询: the same customer and category within 7 days, T6).
    pub repeat: Option<bool>,
}

/// A queue row.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueItem {
    pub id: i64,
    pub number: String,
    pub subject: String,
    #[serde(rename = "type")]
    pub ticket_type: String,
    pub category: String,
    pub channel: String,
    pub priority: String,
    pub status: String,
    pub customer_id: i64,
    pub customer_name: String,
    pub assignee_id: Option<i64>,
    pub assignee_name: Option<String>,
    pub group_name: Option<String>,
    /// The nearest deadline of a running clock.
    pub sla_due_at: Option<String>,
    /// The state of the clock with that deadline (see `ClockView.state`), or `none`.
    pub sla_state: String,
    pub sla_clock: Option<String>,
    pub escalation_level: i64,
    /// The earlier ticket of the same customer and category within 7 days (重复咨询, T6).
    pub repeat_of: Option<i64>,
    pub received_at: String,
}

/// A queue row, made from the ticket (its texts moved, not copied).
pub fn queue_item(t: Ticket, now: Timestamp, setup: &TicketSetup) -> QueueItem {
    let nearest = t.sla.0.iter().filter(|k| k.is_running() && k.due_at.is_some()).min_by_key(|k| k.due_at);
    let paused = t.sla.0.iter().any(|k| k.paused && !k.is_stopped());
    let (sla_state, sla_clock) = match nearest {
        Some(k) => (clock_state(k, now, setup.calendar(&t.schedule_code)), Some(k.kind.code().to_string())),
        None if paused => ("paused", None),
        None => ("none", None),
    };
    QueueItem {
        id: t.id,
        number: t.number,
        subject: t.subject,
        ticket_type: t.ticket_type.code().into(),
        category: t.category.code().into(),
        channel: t.channel.code().into(),
        priority: t.priority.code().into(),
        status: t.status.code().into(),
        customer_id: t.customer_id,
        customer_name: t.customer_name,
        assignee_id: t.assignee_id,
        assignee_name: t.assignee_name,
        group_name: t.group_name,
        sla_due_at: t.sla_due_at.map(|d| d.to_string()),
        sla_state: sla_state.into(),
        sla_clock,
        escalation_level: t.escalation_level,
        repeat_of: t.repeat_of,
        received_at: t.received_at.to_string(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueuePage {
    pub items: Vec<QueueItem>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<String>,
}

/// Parses a queue request; errors name `queue`, `status`, `after`, `limit`.
pub fn parse_queue(q: &QueueParams) -> Result<QueueRequest, ValidationErrors> {
    let mut e = ValidationErrors::new();
    let kind = e.check("queue", QueueKind::parse(q.queue.as_deref(), q.group_id));
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => e.check("status", Status::parse(s).map(Some)),
        None => Some(None),
    };
    let after = match q.after.as_deref().filter(|a| !a.is_empty()) {
        Some(a) => e.check("after", svc::parse_cursor(a).map(Some)),
        None => Some(None),
    };
    let limit = q.limit.unwrap_or(25);
    if !(1..=200).contains(&limit) {
        e.add("limit", Issue::OutOfRange);
    }
    match (kind, status, after) {
        (Some(kind), Some(status), Some(after)) if e.is_empty() => {
            Ok(QueueRequest { kind, status, repeat: q.repeat.unwrap_or(false), after, limit })
        }
        _ => Err(e),
    }
}

/// A queue: active tickets, the nearest SLA deadline first (breached ones
/// first of all), a page at a time (keyset: pass `next` as `after`).
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", params(QueueParams), security(("bearer" = [])),
    responses((status = 200, body = QueuePage), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn queue(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Json<QueuePage>> {
    let q: QueueParams = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("query string: {e}")))?;
    let r = parse_queue(&q)?;
    let rows = svc::queue(&state, &user, r).await?;
    let next = (i64::try_from(rows.len()).unwrap_or(0) == r.limit).then(|| rows.last().map(svc::cursor_of)).flatten();
    let setup = setup::get(&state).await?;
    let now = state.clock.now();
    Ok(Json(QueuePage { items: rows.into_iter().map(|t| queue_item(t, now, &setup)).collect(), next }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub id: i64,
    pub at: String,
    /// `reply` (public), `note` (internal) or `customer`.
    pub kind: String,
    pub author_id: Option<i64>,
    pub author_name: Option<String>,
    pub body: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: i64,
    pub at: String,
    /// `created`, `status`, `assigned`, `reply`, `note`, `customer_message`,
    /// `clock_stopped`, `sla_warning`, `sla_breach`, `escalated`,
    /// `escalation_answered`, `escalation_exhausted`, `revisited`, `repeat_inquiry`.
    pub kind: String,
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// A file on a ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: i64,
    /// The reply or note it came with.
    pub message_id: Option<i64>,
    pub file_name: String,
    /// As the file's bytes showed it (not as the uploader declared).
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: Option<i64>,
    pub uploaded_by_name: Option<String>,
    pub uploaded_at: String,
    /// Where to download it.
    pub href: String,
}

pub fn attachment_view(a: &TicketAttachment) -> AttachmentView {
    AttachmentView {
        id: a.id,
        message_id: a.message_id,
        file_name: a.file_name.clone(),
        content_type: a.content_type.clone(),
        size_bytes: a.size_bytes,
        sha256: a.sha256.clone(),
        uploaded_by: a.uploaded_by,
        uploaded_by_name: a.uploaded_by_name.clone(),
        uploaded_at: a.uploaded_at.to_string(),
        href: format!("/api/v1/tickets/{}/attachments/{}", a.ticket_id, a.id),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketDetailView {
    pub ticket: TicketView,
    pub messages: Vec<MessageView>,
    /// Every file on the ticket, oldest first.
    pub attachments: Vec<AttachmentView>,
    /// The full history, oldest first.
    pub history: Vec<EventView>,
    /// Hand-overs to collaborating departments (escalation steps to a
    /// department's interface person), oldest first.
    pub handovers: Vec<HandoverView>,
}

/// A hand-over to a collaborating department and its answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct HandoverView {
    pub user_id: i64,
    pub user_name: String,
    /// The department (group) of the interface person.
    pub department: Option<String>,
    /// The escalation step's name.
    pub step_name: String,
    pub handed_at: String,
    pub answered_at: Option<String>,
    /// Working days of the ticket's calendar from hand-over to answer.
    pub working_days: Option<f64>,
}

/// A ticket with its messages, files, history and hand-overs, as `user` may see it.
async fn detail_view(state: &AppState, user: &User, id: i64, lang: Lang) -> AppResult<TicketDetailView> {
    let d = svc::detail(state, user, id).await?;
    Ok(TicketDetailView {
        ticket: view(state, &d.ticket, user, lang).await?,
        messages: d.messages.iter().map(message_view).collect(),
        attachments: d.attachments.iter().map(attachment_view).collect(),
        history: d.events.iter().map(event_view).collect(),
        handovers: d
            .handovers
            .iter()
            .map(|h| HandoverView {
                user_id: h.user_id,
                user_name: h.user_name.clone(),
                department: h.group_name.clone(),
                step_name: h.step_name.clone(),
                handed_at: h.handed_at.to_string(),
                answered_at: h.answered_at.map(|a| a.to_string()),
                working_days: h.working_days,
            })
            .collect(),
    })
}

pub fn message_view(m: &TicketMessage) -> MessageView {
    MessageView {
        id: m.id,
        at: m.at.to_string(),
        kind: m.kind.clone(),
        author_id: m.author_id,
        author_name: m.author_name.clone(),
        body: m.body.clone(),
    }
}

pub fn event_view(e: &TicketEvent) -> EventView {
    EventView {
        id: e.id,
        at: e.at.to_string(),
        kind: e.kind.clone(),
        actor_id: e.actor_id,
        actor_name: e.actor_name.clone(),
        detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
    }
}

/// One ticket with its clocks, messages (public and internal) and history.
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "tickets", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = TicketDetailView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<Json<TicketDetailView>> {
    Ok(Json(detail_view(&state, &user, id, lang).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionInput {
    /// `accept`, `start`, `wait_customer`, `resume`, `resolve`, `close` or `reopen`.
    pub action: String,
    /// Why (kept in the history).
    pub note: Option<String>,
}

/// Moves a ticket through its status flow. An action the status does not
/// allow, or reopening an archived ticket without being a supervisor, is
/// refused with 409 and the reason (`errors[0].field` is `action`);
/// nothing changes.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/actions", tag = "tickets", params(("id" = i64, Path)), request_body = ActionInput,
    security(("bearer" = [])),
    responses((status = 200, body = TicketView), (status = 404, body = Problem), (status = 409, description = "not allowed now; the reason in zh/en", body = Problem),
        (status = 422, body = Problem)))]
pub async fn act(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    Json(input): Json<ActionInput>,
) -> AppResult<Json<TicketView>> {
    let action = Action::parse(&input.action).map_err(|i| AppError::field("action", i))?;
    let t = actions::act(&state, &user, id, action, input.note, ip).await?;
    Ok(Json(view(&state, &t, &user, lang).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageInput {
    /// `reply` (public, to the customer), `note` (internal) or `customer`
    /// (the customer's own message, e.g. from another system).
    pub kind: String,
    pub body: String,
}

/// Adds a reply, an internal note or the customer's message. The first
/// reply meets the first-response target; each reply restarts the
/// progress-update clock; a customer message resumes a ticket waiting for
/// the customer.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/messages", tag = "tickets", params(("id" = i64, Path)), request_body = MessageInput,
    security(("bearer" = [])),
    responses((status = 200, body = TicketView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add_message(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    Json(input): Json<MessageInput>,
) -> AppResult<Json<TicketView>> {
    let t = if input.kind.trim() == "customer" {
        actions::customer_message(&state, &user, id, &input.body, ip).await?
    } else {
        let kind = MessageKind::parse(&input.kind).map_err(|i| AppError::field("kind", i))?;
        actions::reply(&state, &user, id, kind, &input.body, ip).await?
    };
    Ok(Json(view(&state, &t, &user, lang).await?))
}

/// The multipart form of an upload (documentation only: the handler reads
/// the parts itself).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct AttachmentForm {
    /// One part per file (at most 10); the part's file name is kept and
    /// shown, its extension must agree with the bytes.
    #[schema(value_type = Vec<String>, format = Binary)]
    pub file: Vec<Vec<u8>>,
    /// `note` (internal, default) or `reply` (public, to the customer).
    pub kind: Option<String>,
    /// Text sent with the files (may be empty).
    pub body: Option<String>,
}

/// Attaches files to a ticket with a reply or an internal note (multipart,
/// parts `file`, `kind`, `body`). Each file may be up to
/// `GUANXI_ATTACHMENT_MAX_MB` (20 MB by default) and must be an image, a
/// PDF, an Office document or text whose bytes agree with its name; a bad
/// file refuses the whole upload with 422 (`errors[0].field` is `file`)
/// and nothing is stored.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/attachments", tag = "tickets", params(("id" = i64, Path)),
    request_body(content = AttachmentForm, content_type = "multipart/form-data"),
    security(("bearer" = [])),
    responses((status = 200, body = TicketDetailView), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 413, description = "larger than the limit"),
        (status = 422, description = "a file too large, of a type not allowed, or not matching its name", body = Problem)))]
pub async fn upload_attachments(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    multipart: axum::extract::multipart::Multipart,
) -> AppResult<Json<TicketDetailView>> {
    let (pairs, files) = crate::web::tickets::read_multipart(multipart, state.config.attachment_max_bytes()).await?;
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if files.is_empty() {
        return Err(AppError::field("file", Issue::Required));
    }
    let kind = MessageKind::parse(get("kind").unwrap_or("note")).map_err(|i| AppError::field("kind", i))?;
    actions::reply_with_files(&state, &user, id, kind, get("body").unwrap_or(""), files, ip).await?;
    Ok(Json(detail_view(&state, &user, id, lang).await?))
}

/// Downloads an attachment (`Content-Disposition: attachment`), for those
/// who may see the ticket; 404 otherwise. Each download is audited.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/attachments/{attachment_id}", tag = "tickets",
    params(("id" = i64, Path), ("attachment_id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, description = "the file's bytes, with the type its content was checked to be", content(
            ("image/png"), ("image/jpeg"), ("image/gif"), ("image/webp"), ("application/pdf"),
            ("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            ("application/vnd.openxmlformats-officedocument.presentationml.presentation"),
            ("application/msword"), ("application/vnd.ms-excel"), ("application/vnd.ms-powerpoint"),
            ("text/csv"), ("text/plain"), ("application/octet-stream"))),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn download_attachment(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path((id, attachment_id)): Path<(i64, i64)>,
) -> AppResult<axum::response::Response> {
    let (a, bytes) = crate::service::tickets::attachments::download(&state, &user, id, attachment_id, ip).await?;
    Ok(crate::service::tickets::attachments::response(&a, bytes))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevisitInput {
    /// What the customer said.
    pub note: String,
}

/// Records the revisit after resolution (stops the 24 h revisit clock).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/revisit", tag = "tickets", params(("id" = i64, Path)), request_body = RevisitInput,
    security(("bearer" = [])),
    responses((status = 200, body = TicketView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn revisit(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    Json(input): Json<RevisitInput>,
) -> AppResult<Json<TicketView>> {
    let t = actions::revisit(&state, &user, id, &input.note, ip).await?;
    Ok(Json(view(&state, &t, &user, lang).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignInput {
    /// The new assignee, or `null` for nobody.
    pub assignee_id: Option<i64>,
    /// A new group (supervisors and administrators).
    pub group_id: Option<i64>,
}

/// Assigns a ticket. Supervisors and administrators assign anyone; an
/// agent may only take a ticket for themselves.
#[utoipa::path(put, path = "/api/v1/tickets/{id}/assignment", tag = "tickets", params(("id" = i64, Path)), request_body = AssignInput,
    security(("bearer" = [])),
    responses((status = 200, body = TicketView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn assign(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    Json(input): Json<AssignInput>,
) -> AppResult<Json<TicketView>> {
    let t = actions::assign(&state, &user, id, input.assignee_id, input.group_id, ip).await?;
    Ok(Json(view(&state, &t, &user, lang).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateInput {
    pub reason: String,
}

/// Escalates a ticket along the first escalation path that applies to it.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/escalate", tag = "tickets", params(("id" = i64, Path)), request_body = EscalateInput,
    security(("bearer" = [])),
    responses((status = 200, body = TicketView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn escalate(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    Json(input): Json<EscalateInput>,
) -> AppResult<Json<TicketView>> {
    let t = actions::escalate(&state, &user, id, &input.reason, ip).await?;
    Ok(Json(view(&state, &t, &user, lang).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityInput {
    /// Takes routed tickets now (在线).
    pub available: bool,
    /// Skills routing rules may require; unchanged when absent.
    pub skills: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityView {
    pub available: bool,
    pub skills: Vec<String>,
    /// Tickets in hand (not resolved or archived).
    pub open_tickets: i64,
}

/// The caller's availability for routing, skills and load.
#[utoipa::path(get, path = "/api/v1/agents/me/availability", tag = "tickets", security(("bearer" = [])),
    responses((status = 200, body = AvailabilityView), (status = 401, body = Problem)))]
pub async fn my_availability(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> AppResult<Json<AvailabilityView>> {
    let id = user.id;
    let a = state.db.read(move |c| guanxi_store::routing::agent(c, id)).await?;
    Ok(Json(AvailabilityView { available: a.available, skills: a.skills, open_tickets: a.open_tickets }))
}

/// Sets the caller's availability (and skills): only available agents are
/// chosen by routing.
#[utoipa::path(put, path = "/api/v1/agents/me/availability", tag = "tickets", request_body = AvailabilityInput, security(("bearer" = [])),
    responses((status = 200, body = AvailabilityView), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn set_availability(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(input): Json<AvailabilityInput>,
) -> AppResult<Json<AvailabilityView>> {
    let a = actions::set_availability(&state, &user, input.available, input.skills).await?;
    Ok(Json(AvailabilityView { available: a.available, skills: a.skills, open_tickets: a.open_tickets }))
}
