//! `/api/v1/me/notifications`: the caller's in-app notifications (SPEC T2:
//! a ticket's SLA warning for its assignee; a breach also for the group's
//! supervisors and the escalation's person), newest first, keyset-paginated.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use guanxi_domain::ticket::sla::ClockKind;
use guanxi_domain::{Issue, Lang, ValidationErrors};
use guanxi_store::notifications::{self as store, Notification};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::json::Json;
use crate::auth::ApiUser;
use crate::error::{AppError, AppResult, Problem};
use crate::lang::ReqLang;
use crate::state::AppState;

/// The notification's text in `lang`, from its codes.
pub fn text(n: &Notification, lang: Lang) -> String {
    let clock = ClockKind::parse(&n.clock).map_or(n.clock.as_str(), |k| k.label(lang));
    let number = n.ticket_number.as_deref().unwrap_or("");
    match (n.kind.as_str(), lang) {
        ("sla_breach", Lang::Zh) => format!("工单 {number} 的「{clock}」时限已超时"),
        ("sla_breach", Lang::En) => format!("Ticket {number}: the {clock} target is breached"),
        (_, Lang::Zh) => format!("工单 {number} 的「{clock}」时限即将到期"),
        (_, Lang::En) => format!("Ticket {number}: the {clock} target is nearly due"),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: i64,
    /// `sla_warning` (80 % of the target used) or `sla_breach`.
    pub kind: String,
    /// The SLA clock: `first_response`, `progress`, `resolution` or `revisit`.
    pub clock: String,
    pub ticket_id: Option<i64>,
    pub ticket_number: Option<String>,
    /// The page of the ticket.
    pub link: Option<String>,
    /// The clock's deadline.
    pub due_at: String,
    /// The text in the request's language.
    pub text: String,
    pub created_at: String,
    pub read: bool,
}

fn view(n: &Notification, lang: Lang) -> NotificationView {
    NotificationView {
        id: n.id,
        kind: n.kind.clone(),
        clock: n.clock.clone(),
        ticket_id: n.ticket_id,
        ticket_number: n.ticket_number.clone(),
        link: n.ticket_id.map(|id| format!("/tickets/{id}")),
        due_at: n.due_at.to_string(),
        text: text(n, lang),
        created_at: n.created_at.to_string(),
        read: n.read_at.is_some(),
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct NotificationParams {
    /// `true`: only the unread ones.
    pub unread: Option<bool>,
    /// The `next` cursor of the previous page.
    pub after: Option<i64>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    pub items: Vec<NotificationView>,
    /// How many of the caller's notifications are unread.
    pub unread: i64,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<i64>,
}

/// The caller's notifications, newest first.
#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "auth", params(NotificationParams),
    security(("bearer" = [])),
    responses((status = 200, body = NotificationPage), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    Query(p): Query<NotificationParams>,
) -> AppResult<Json<NotificationPage>> {
    let limit = p.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::Invalid(ValidationErrors::single("limit", Issue::OutOfRange)));
    }
    let unread_only = p.unread.unwrap_or(false);
    let (mut rows, unread) = state
        .db
        .read(move |c| {
            let rows = store::list(c, user.id, unread_only, p.after, limit + 1)?;
            Ok((rows, store::count_unread(c, user.id)?))
        })
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = if more { rows.last().map(|n| n.id) } else { None };
    Ok(Json(NotificationPage { items: rows.iter().map(|n| view(n, lang)).collect(), unread, next }))
}

/// Marks one of the caller's notifications read.
#[utoipa::path(post, path = "/api/v1/me/notifications/{id}/read", tag = "auth", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn mark_read(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    let now = state.clock.now();
    if state.db.write(move |c| store::mark_read(c, user.id, id, now)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound)
    }
}

/// Marks all the caller's notifications read.
#[utoipa::path(post, path = "/api/v1/me/notifications/read-all", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn mark_all_read(State(state): State<AppState>, ApiUser(user): ApiUser) -> AppResult<StatusCode> {
    let now = state.clock.now();
    state.db.write(move |c| store::mark_all_read(c, user.id, now)).await?;
    Ok(StatusCode::NO_CONTENT)
}
