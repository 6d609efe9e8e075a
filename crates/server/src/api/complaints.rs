//! `/api/v1/complaints`: complaint handling (SPEC P1–P7) — registering a
//! complaint (its ticket, CP number, urgency with the reasons), one
//! complaint with its deadlines and history, each workflow step, the
//! urgency override, the tracking table and its Excel export, and the
//! monthly review.

use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use guanxi_domain::Lang;
use guanxi_domain::complaint::compensation::{self, Catalogue, CatalogueInput};
use guanxi_domain::money::Money;
use guanxi_store::complaints::Complaint;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::json::Json;
use crate::auth::ApiUser;
use crate::error::{AppError, AppResult, Problem};
use crate::lang::ReqLang;
use crate::service::complaints::review::{self, MonthlyReview};
use crate::service::complaints::table::{self, TableParams};
use crate::service::complaints::workflow::{self, StepInput};
use crate::service::complaints::{self as svc, ComplaintInput};
use crate::state::AppState;
use crate::web::ClientIp;

/// One deadline of a complaint.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadlineView {
    /// `registration`, `investigation`, `solution`, `execution` or `notification`.
    pub kind: String,
    pub label: String,
    pub due_at: String,
    pub met_at: Option<String>,
    /// `open`, `overdue`, `met` or `late`.
    pub state: String,
}

/// A word that raised the emotion score, with its points.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmotionWord {
    pub word: String,
    /// Points, e.g. `1.5`.
    pub points: f64,
}

/// A complaint.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComplaintView {
    pub id: i64,
    /// 投诉编号, e.g. `CP20261123001`.
    pub number: String,
    pub ticket_id: i64,
    pub ticket_number: String,
    pub customer_id: i64,
    pub customer_name: String,
    pub subject: String,
    pub description: String,
    pub category: String,
    pub demand_type: String,
    pub demand_type_label: String,
    /// `registered`, `investigating`, `investigated`, `solution_pending`, `solution_rejected`,
    /// `solution_approved`, `agreed`, `executed` or `closed`.
    pub state: String,
    pub state_label: String,
    /// `urgent`, `general` or `routine`.
    pub urgency: String,
    pub urgency_label: String,
    /// Why, in words (safety words, batch, emotion words).
    pub urgency_reasons: Vec<String>,
    pub safety_words: Vec<String>,
    /// The emotion score, e.g. `8.0`.
    pub emotion_score: f64,
    pub emotion_words: Vec<EmotionWord>,
    pub urgency_override: Option<serde_json::Value>,
    pub batch_id: Option<i64>,
    pub handler_id: Option<i64>,
    pub handler_name: Option<String>,
    pub department_id: Option<i64>,
    pub department_name: Option<String>,
    pub responsible_party: Option<String>,
    pub root_cause: Option<String>,
    pub evidence: Option<String>,
    pub solution: Option<String>,
    pub rejection_reason: Option<String>,
    pub promised_at: Option<String>,
    pub executed_at: Option<String>,
    pub notified_at: Option<String>,
    pub satisfaction: Option<i64>,
    pub feedback: Option<String>,
    pub close_reason: Option<String>,
    pub escalated_at: Option<String>,
    pub deadlines: Vec<DeadlineView>,
    pub overdue: bool,
    pub received_at: String,
    pub registered_at: String,
    pub closed_at: Option<String>,
    /// The solution's compensation lines (SPEC P4).
    pub compensation: Vec<CompensationLineView>,
    /// Their total in CNY, e.g. `2,500.00`.
    pub compensation_total: String,
}

/// One compensation line of a solution.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompensationLineView {
    /// The catalogue option's code.
    pub option: String,
    /// `coupon`, `refund`, `free_service`, `gift` or `other`.
    pub kind: String,
    pub kind_label: String,
    pub name: String,
    /// CNY, e.g. `150.00`.
    pub amount: String,
}

fn ts(t: Option<Timestamp>) -> Option<String> {
    t.map(|t| t.to_string())
}

pub fn view(p: &Complaint, now: Timestamp, lang: Lang) -> ComplaintView {
    let g = &p.grading;
    ComplaintView {
        id: p.id,
        number: p.number.clone(),
        ticket_id: p.ticket_id,
        ticket_number: p.ticket_number.clone(),
        customer_id: p.customer_id,
        customer_name: p.customer_name.clone(),
        subject: p.subject.clone(),
        description: p.description.clone(),
        category: p.category.code().into(),
        demand_type: p.demand_type.code().into(),
        demand_type_label: p.demand_type.label(lang).into(),
        state: p.state.code().into(),
        state_label: p.state.label(lang).into(),
        urgency: p.urgency.code().into(),
        urgency_label: p.urgency.label(lang).into(),
        urgency_reasons: g.reasons(lang),
        safety_words: g.safety_words.clone(),
        emotion_score: f64::from(g.emotion.score) / 10.0,
        emotion_words: g
            .emotion
            .words
            .iter()
            .map(|c| EmotionWord { word: c.word.clone(), points: f64::from(c.points) / 10.0 })
            .collect(),
        urgency_override: p.urgency_override.clone(),
        batch_id: p.batch_id,
        handler_id: p.handler_id,
        handler_name: p.handler_name.clone(),
        department_id: p.department_id,
        department_name: p.department_name.clone(),
        responsible_party: p.responsible_party.map(|r| r.code().into()),
        root_cause: p.root_cause.clone(),
        evidence: p.evidence.clone(),
        solution: p.solution.clone(),
        rejection_reason: p.rejection_reason.clone(),
        promised_at: ts(p.promised_at),
        executed_at: ts(p.executed_at),
        notified_at: ts(p.notified_at),
        satisfaction: p.satisfaction,
        feedback: p.feedback.clone(),
        close_reason: p.close_reason.clone(),
        escalated_at: ts(p.escalated_at),
        deadlines: p
            .deadlines
            .0
            .iter()
            .map(|d| DeadlineView {
                kind: d.kind.code().into(),
                label: d.kind.label(lang).into(),
                due_at: d.due_at.to_string(),
                met_at: ts(d.met_at),
                state: d.state(now).into(),
            })
            .collect(),
        overdue: p.overdue,
        received_at: p.received_at.to_string(),
        registered_at: p.registered_at.to_string(),
        closed_at: ts(p.closed_at),
        compensation: p
            .compensation
            .iter()
            .map(|l| CompensationLineView {
                option: l.option.clone(),
                kind: l.kind.code().into(),
                kind_label: l.kind.label(lang).into(),
                name: l.name.clone(),
                amount: Money::from_fen(l.amount_fen).to_string(),
            })
            .collect(),
        compensation_total: compensation::total(&p.compensation).unwrap_or_default().to_string(),
    }
}

#[utoipa::path(post, path = "/api/v1/complaints", tag = "complaints", request_body = ComplaintInput, security(("bearer" = [])),
    responses((status = 201, body = ComplaintView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "a field was refused; `errors` names it", body = Problem)))]
pub async fn register(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Json(input): Json<ComplaintInput>,
) -> AppResult<(StatusCode, Json<ComplaintView>)> {
    let p = svc::register(&state, &user, input, ip).await?;
    Ok((StatusCode::CREATED, Json(view(&p, state.clock.now(), lang))))
}

/// A page of the tracking table.
#[derive(Debug, Serialize, ToSchema)]
pub struct TablePage {
    pub items: Vec<ComplaintView>,
    /// The cursor of the next page (`before`), if any.
    pub next: Option<String>,
}

fn params<T: serde::de::DeserializeOwned>(raw: Option<&str>) -> AppResult<T> {
    serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|e| AppError::BadRequest(format!("query string: {e}")))
}

#[utoipa::path(get, path = "/api/v1/complaints", tag = "complaints", params(TableParams), security(("bearer" = [])),
    responses((status = 200, body = TablePage), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Json<TablePage>> {
    let p: TableParams = params(raw.as_deref())?;
    let q = table::parse(&p, &state.config.time_zone)?;
    let page = table::list(&state, &user, q).await?;
    let now = state.clock.now();
    Ok(Json(TablePage { items: page.items.iter().map(|p| view(p, now, lang)).collect(), next: page.next }))
}

#[utoipa::path(get, path = "/api/v1/complaints/export", tag = "complaints", params(TableParams), security(("bearer" = [])),
    responses((status = 200, description = "the tracking table as .xlsx", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn export(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    if !review::may_review(&user) {
        return Err(AppError::Forbidden);
    }
    let p: TableParams = params(raw.as_deref())?;
    let q = table::parse(&p, &state.config.time_zone)?;
    let bytes = table::export(&state, &user, q, ip).await?;
    Ok(xlsx_response(bytes))
}

pub fn xlsx_response(bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"complaints.xlsx\""),
        ],
        bytes,
    )
        .into_response()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewParams {
    /// `YYYY-MM` (default: this month).
    pub month: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/complaints/review", tag = "complaints", params(ReviewParams), security(("bearer" = [])),
    responses((status = 200, body = MonthlyReview), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn monthly_review(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Json<MonthlyReview>> {
    let p: ReviewParams = params(raw.as_deref())?;
    let first = month_of(&state, p.month.as_deref())?;
    Ok(Json(review::monthly(&state, &user, first).await?))
}

/// The month asked for, or this month.
pub fn month_of(state: &AppState, raw: Option<&str>) -> AppResult<jiff::civil::Date> {
    match raw.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => review::parse_month(m).map_err(|i| AppError::field("month", i)),
        None => {
            let today = guanxi_domain::clock::local_date(state.clock.now(), &state.config.time_zone);
            Ok(today.first_of_month())
        }
    }
}

/// A complaint with its history and the notifications recorded for the customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComplaintDetailView {
    pub complaint: ComplaintView,
    /// The ticket's history (complaint steps are `complaint_*`).
    pub history: Vec<super::tickets::EventView>,
    #[schema(value_type = Vec<Object>)]
    pub notifications: Vec<guanxi_store::complaints::Notification>,
    /// The complaints of its batch: (id, number, customer).
    #[schema(value_type = Vec<Object>)]
    pub batch: Vec<(i64, String, String)>,
}

#[utoipa::path(get, path = "/api/v1/complaints/{id}", tag = "complaints", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = ComplaintDetailView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<Json<ComplaintDetailView>> {
    let d = svc::detail(&state, &user, id).await?;
    Ok(Json(ComplaintDetailView {
        complaint: view(&d.complaint, state.clock.now(), lang),
        history: d.events.iter().map(super::tickets::event_view).collect(),
        notifications: d.notifications,
        batch: d.batch,
    }))
}

#[utoipa::path(post, path = "/api/v1/complaints/{id}/steps", tag = "complaints", params(("id" = i64, Path)), request_body = StepInput,
    security(("bearer" = [])),
    responses((status = 200, body = ComplaintView), (status = 404, body = Problem),
        (status = 409, description = "not possible now; the reason in zh/en", body = Problem), (status = 422, body = Problem)))]
pub async fn step(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    Json(input): Json<StepInput>,
) -> AppResult<Json<ComplaintView>> {
    let p = workflow::act(&state, &user, id, input, ip).await?;
    Ok(Json(view(&p, state.clock.now(), lang)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UrgencyInput {
    /// `urgent`, `general` or `routine`.
    pub urgency: String,
    /// Why (required).
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/complaints/{id}/urgency", tag = "complaints", params(("id" = i64, Path)), request_body = UrgencyInput,
    security(("bearer" = [])),
    responses((status = 200, body = ComplaintView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn set_urgency(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    Json(input): Json<UrgencyInput>,
) -> AppResult<Json<ComplaintView>> {
    let p = workflow::override_urgency(&state, &user, id, &input.urgency, &input.reason, ip).await?;
    Ok(Json(view(&p, state.clock.now(), lang)))
}

/// The complaint thresholds (P2) an administrator may change.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesView {
    /// The emotion score from which a complaint is urgent, e.g. `6.0`.
    pub urgent_emotion: String,
    /// The emotion score from which a complaint is general (below urgent), e.g. `2.5`.
    pub general_emotion: String,
    /// Words that make a complaint urgent (substring match).
    pub safety_words: Vec<String>,
    /// Similar complaints within this many hours are compared (1–720).
    pub batch_window_hours: i64,
    /// How many customers' similar complaints make a batch (2–100).
    pub batch_customers: u32,
}

fn rules_view(r: &guanxi_domain::complaint::grading::Rules) -> RulesView {
    let i = r.to_input();
    RulesView {
        urgent_emotion: i.urgent_emotion,
        general_emotion: i.general_emotion,
        safety_words: r.safety_words.clone(),
        batch_window_hours: r.batch_window_hours,
        batch_customers: r.batch_customers,
    }
}

#[utoipa::path(get, path = "/api/v1/complaints/settings", tag = "complaints", security(("bearer" = [])),
    responses((status = 200, body = RulesView), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn get_settings(State(state): State<AppState>, ApiUser(user): ApiUser) -> AppResult<Json<RulesView>> {
    if !crate::service::complaints::settings::may_configure(&user) {
        return Err(AppError::Forbidden);
    }
    Ok(Json(rules_view(&crate::service::complaints::settings::load(&state).await?)))
}

#[utoipa::path(put, path = "/api/v1/complaints/settings", tag = "complaints", request_body = RulesView, security(("bearer" = [])),
    responses((status = 200, body = RulesView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "a field was refused; `errors` names it", body = Problem)))]
pub async fn put_settings(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Json(input): Json<RulesView>,
) -> AppResult<Json<RulesView>> {
    let raw = guanxi_domain::complaint::grading::RulesInput {
        urgent_emotion: input.urgent_emotion,
        general_emotion: input.general_emotion,
        safety_words: input.safety_words.join("\n"),
        batch_window_hours: input.batch_window_hours.to_string(),
        batch_customers: input.batch_customers.to_string(),
    };
    let saved = crate::service::complaints::settings::save(&state, &user, &raw, ip).await?;
    Ok(Json(rules_view(&saved)))
}

/// The compensation catalogue and the approval limit per role (SPEC P4).
#[derive(Debug, Serialize, ToSchema)]
pub struct CompensationView {
    pub options: Vec<CompensationOptionView>,
    /// CNY, e.g. `200.00`; empty: no limit.
    pub agent_limit: String,
    pub supervisor_limit: String,
    pub admin_limit: String,
}

/// One option of the compensation catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompensationOptionView {
    pub code: String,
    /// `coupon`, `refund`, `free_service`, `gift` or `other`.
    pub kind: String,
    pub kind_label: String,
    pub name: String,
    pub active: bool,
}

pub fn compensation_view(c: &Catalogue, lang: Lang) -> CompensationView {
    let limit = |fen: Option<i64>| fen.map(|f| Money::from_fen(f).to_string()).unwrap_or_default();
    CompensationView {
        options: c
            .options
            .iter()
            .map(|o| CompensationOptionView {
                code: o.code.clone(),
                kind: o.kind.code().into(),
                kind_label: o.kind.label(lang).into(),
                name: o.name.clone(),
                active: o.active,
            })
            .collect(),
        agent_limit: limit(c.agent_limit_fen),
        supervisor_limit: limit(c.supervisor_limit_fen),
        admin_limit: limit(c.admin_limit_fen),
    }
}

#[utoipa::path(get, path = "/api/v1/complaints/compensation", tag = "complaints", security(("bearer" = [])),
    responses((status = 200, body = CompensationView), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn get_compensation(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
) -> AppResult<Json<CompensationView>> {
    if !crate::service::complaints::settings::may_configure(&user) {
        return Err(AppError::Forbidden);
    }
    Ok(Json(compensation_view(&crate::service::complaints::settings::load_catalogue(&state).await?, lang)))
}

#[utoipa::path(put, path = "/api/v1/complaints/compensation", tag = "complaints", request_body = CatalogueInput,
    security(("bearer" = [])),
    responses((status = 200, body = CompensationView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "a field was refused; `errors` names it (`options[0].name`, `supervisor_limit`)", body = Problem)))]
pub async fn put_compensation(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
    ClientIp(ip): ClientIp,
    Json(input): Json<CatalogueInput>,
) -> AppResult<Json<CompensationView>> {
    let saved = crate::service::complaints::settings::save_catalogue(&state, &user, &input, ip).await?;
    Ok(Json(compensation_view(&saved, lang)))
}
