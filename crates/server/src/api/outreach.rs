//! `/api/v1/outbox`, `/api/v1/message-templates`, `/api/v1/outreach-settings`
//! and `/api/v1/surveys` (SPEC O1–O4).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use guanxi_store::outreach::{MessageTemplate, OutboxMessage};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::json::Json;
use crate::auth::ApiUser;
use crate::error::{AppError, AppResult, Problem};
use crate::service::outreach::consent::{self, ConsentInput, ConsentView};
use crate::service::outreach::reminders::{self, AppointmentInput, AppointmentView};
use crate::service::outreach::settings::{self, SettingsInput, SettingsView};
use crate::service::outreach::surveys::{self, SentSurvey, SurveyInput};
use crate::service::outreach::templates::{self, TemplateInput};
use crate::service::outreach::{self as svc, SendInput};
use crate::state::AppState;

/// An outbox row: the address masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxView {
    pub id: i64,
    pub idempotency_key: String,
    pub channel: String,
    pub scenario: String,
    pub customer_id: Option<i64>,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// `queued`, `sending`, `sent`, `failed` or `suppressed`.
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// Held until then (quiet hours, a retry's backoff).
    pub not_before: String,
    pub pair_id: Option<i64>,
    pub acknowledged_at: Option<String>,
    pub sent_at: Option<String>,
    pub created_at: String,
}

pub fn outbox_view(m: OutboxMessage) -> OutboxView {
    OutboxView {
        id: m.id,
        idempotency_key: m.idempotency_key,
        channel: m.channel,
        scenario: m.scenario,
        customer_id: m.customer_id,
        recipient: m.recipient_masked,
        subject: m.subject,
        body: m.body,
        status: m.status,
        attempts: m.attempts,
        last_error: m.last_error,
        not_before: m.not_before.to_string(),
        pair_id: m.pair_id,
        acknowledged_at: m.acknowledged_at.map(|t| t.to_string()),
        sent_at: m.sent_at.map(|t| t.to_string()),
        created_at: m.created_at.to_string(),
    }
}

/// Queues a message to a customer (or an internal alert) from the
/// template of its scenario and channel. Marketing needs the customer's
/// consent (409 otherwise, nothing queued); in quiet hours it waits for the
/// window to open; an important notice goes by email and SMS.
#[utoipa::path(post, path = "/api/v1/outbox", tag = "outreach", request_body = SendInput, security(("bearer" = [])),
    responses((status = 201, body = Vec<OutboxView>), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn send(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(input): Json<SendInput>,
) -> AppResult<(StatusCode, Json<Vec<OutboxView>>)> {
    let rows = svc::send(&state, &user, input).await?;
    Ok((StatusCode::CREATED, Json(rows.into_iter().map(outbox_view).collect())))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxParams {
    /// Only this status.
    pub status: Option<String>,
    /// Rows with a smaller id (the `next` of the previous page).
    pub before: Option<i64>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxPage {
    pub items: Vec<OutboxView>,
    pub next: Option<i64>,
}

/// The outbox, newest first, a page at a time (supervisors and administrators).
#[utoipa::path(get, path = "/api/v1/outbox", tag = "outreach", params(OutboxParams), security(("bearer" = [])),
    responses((status = 200, body = OutboxPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Json<OutboxPage>> {
    let q: OutboxParams = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("query string: {e}")))?;
    let limit = q.limit.unwrap_or(50);
    let rows = svc::outbox(&state, &user, q.status, q.before, limit).await?;
    let next =
        (i64::try_from(rows.len()).unwrap_or(0) == limit.clamp(1, 200)).then(|| rows.last().map(|m| m.id)).flatten();
    Ok(Json(OutboxPage { items: rows.into_iter().map(outbox_view).collect(), next }))
}

/// Records the customer's acknowledgement of an important message (both channels).
#[utoipa::path(post, path = "/api/v1/outbox/{id}/acknowledge", tag = "outreach", security(("bearer" = [])),
    responses((status = 200, body = OutboxView), (status = 404, body = Problem)))]
pub async fn acknowledge(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<Json<OutboxView>> {
    Ok(Json(outbox_view(svc::acknowledge(&state, &user, id).await?)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    pub id: i64,
    pub name: String,
    pub channel: String,
    pub scenario: String,
    pub subject: String,
    pub body: String,
    pub updated_at: String,
}

fn template_view(t: MessageTemplate) -> TemplateView {
    TemplateView {
        id: t.id,
        name: t.name,
        channel: t.channel,
        scenario: t.scenario,
        subject: t.subject,
        body: t.body,
        updated_at: t.updated_at.to_string(),
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateParams {
    /// Templates with a larger id.
    pub after: Option<i64>,
    /// 1–200, default 100.
    pub limit: Option<i64>,
}

/// The message templates by id, a page at a time.
#[utoipa::path(get, path = "/api/v1/message-templates", tag = "outreach", params(TemplateParams), security(("bearer" = [])),
    responses((status = 200, body = Vec<TemplateView>)))]
pub async fn templates(
    State(state): State<AppState>,
    ApiUser(_u): ApiUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Json<Vec<TemplateView>>> {
    let q: TemplateParams = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("query string: {e}")))?;
    let rows = templates::list(&state, q.after.unwrap_or(0), q.limit.unwrap_or(100)).await?;
    Ok(Json(rows.into_iter().map(template_view).collect()))
}

/// Adds a template (administrators). `{{ variable }}` placeholders must be
/// variables of the scenario: an unknown one is refused, naming it.
#[utoipa::path(post, path = "/api/v1/message-templates", tag = "outreach", request_body = TemplateInput, security(("bearer" = [])),
    responses((status = 201, body = TemplateView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_template(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(input): Json<TemplateInput>,
) -> AppResult<(StatusCode, Json<TemplateView>)> {
    Ok((StatusCode::CREATED, Json(template_view(templates::save(&state, &user, None, input).await?))))
}

/// Replaces a template (administrators).
#[utoipa::path(put, path = "/api/v1/message-templates/{id}", tag = "outreach", request_body = TemplateInput, security(("bearer" = [])),
    responses((status = 200, body = TemplateView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_template(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(input): Json<TemplateInput>,
) -> AppResult<Json<TemplateView>> {
    Ok(Json(template_view(templates::save(&state, &user, Some(id), input).await?)))
}

/// The outreach settings (administrators); secrets are shown only as set or not.
#[utoipa::path(get, path = "/api/v1/outreach-settings", tag = "outreach", security(("bearer" = [])),
    responses((status = 200, body = SettingsView), (status = 403, body = Problem)))]
pub async fn get_settings(State(state): State<AppState>, ApiUser(user): ApiUser) -> AppResult<Json<SettingsView>> {
    Ok(Json(settings::view(&state, &user).await?))
}

/// Replaces the outreach settings (administrators): SMTP, webhook targets
/// (private or loopback hosts only when allow-listed), quiet hours.
#[utoipa::path(put, path = "/api/v1/outreach-settings", tag = "outreach", request_body = SettingsInput, security(("bearer" = [])),
    responses((status = 200, body = SettingsView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn save_settings(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(input): Json<SettingsInput>,
) -> AppResult<Json<SettingsView>> {
    Ok(Json(settings::save(&state, &user, input).await?))
}

/// Sends a survey (CSAT or NPS) about a matter: a one-time link that
/// expires in 7 days, by the customer's email (else SMS). Once per matter and kind.
#[utoipa::path(post, path = "/api/v1/surveys", tag = "outreach", request_body = SurveyInput, security(("bearer" = [])),
    responses((status = 201, body = SentSurvey), (status = 422, body = Problem)))]
pub async fn send_survey(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(input): Json<SurveyInput>,
) -> AppResult<(StatusCode, Json<SentSurvey>)> {
    Ok((StatusCode::CREATED, Json(surveys::send(&state, &user, input).await?)))
}

/// The customer's consent per channel (in force) and its history.
#[utoipa::path(get, path = "/api/v1/customers/{id}/consents", tag = "outreach", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = ConsentView), (status = 404, body = Problem)))]
pub async fn consents(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<Json<ConsentView>> {
    Ok(Json(consent::view(&state, &user, id).await?))
}

/// Records that the customer accepts or refuses a channel (email, sms,
/// wecom); kept as history. A refused channel carries nothing to the
/// customer, also messages queued before.
#[utoipa::path(post, path = "/api/v1/customers/{id}/consents", tag = "outreach", params(("id" = i64, Path)), request_body = ConsentInput, security(("bearer" = [])),
    responses((status = 201, body = ConsentView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn record_consent(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(input): Json<ConsentInput>,
) -> AppResult<(StatusCode, Json<ConsentView>)> {
    Ok((StatusCode::CREATED, Json(consent::record(&state, &user, id, input).await?)))
}

/// The revisit appointment of a maintenance task, with its reminder.
#[utoipa::path(get, path = "/api/v1/maintenance/tasks/{id}/appointment", tag = "outreach", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = AppointmentView), (status = 404, body = Problem)))]
pub async fn appointment(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<Json<AppointmentView>> {
    reminders::get(&state, &user, id).await?.map(Json).ok_or(AppError::NotFound)
}

/// Schedules or moves the revisit of an open task ("客服专员将于明日10:00回访您"):
/// its reminder is queued to go `reminder_hours_before` it, after quiet
/// hours; moving it withdraws the earlier reminder.
#[utoipa::path(put, path = "/api/v1/maintenance/tasks/{id}/appointment", tag = "outreach", params(("id" = i64, Path)), request_body = AppointmentInput, security(("bearer" = [])),
    responses((status = 200, body = AppointmentView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn schedule_appointment(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(input): Json<AppointmentInput>,
) -> AppResult<Json<AppointmentView>> {
    Ok(Json(reminders::schedule(&state, &user, id, input).await?))
}

/// Cancels the revisit appointment; a reminder not yet sent is withdrawn.
#[utoipa::path(delete, path = "/api/v1/maintenance/tasks/{id}/appointment", tag = "outreach", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = AppointmentView), (status = 404, body = Problem)))]
pub async fn cancel_appointment(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<Json<AppointmentView>> {
    Ok(Json(reminders::cancel(&state, &user, id).await?))
}
