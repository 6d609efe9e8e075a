//! `/api/v1/tickets/{id}/need`: the need record of a need ticket (SPEC T1,
//! 需求-响应-反馈): read it, or change its status, target department,
//! planned version/date or decline reason. A refused transition is 409 and
//! writes nothing; bad fields are 422 naming the field.

use axum::extract::{Path, State};
use guanxi_domain::Lang;
use guanxi_domain::ticket::TicketType;
use guanxi_domain::ticket::need::{self, NeedUpdateInput};
use guanxi_store::StoreError;
use guanxi_store::needs::{self as store, NeedRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::json::Json;
use crate::auth::ApiUser;
use crate::error::{AppError, AppResult, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct NeedView {
    pub ticket_id: i64,
    pub department_id: Option<i64>,
    pub department_name: Option<String>,
    /// submitted, evaluating, accepted, planned, delivered, declined.
    pub status: String,
    pub status_label_zh: String,
    pub status_label_en: String,
    pub planned_version: Option<String>,
    /// YYYY-MM-DD.
    pub planned_date: Option<String>,
    pub decline_reason: Option<String>,
    pub submitted_at: String,
    pub outcome_at: Option<String>,
    pub customer_told_at: Option<String>,
}

fn view(r: &NeedRecord) -> NeedView {
    NeedView {
        ticket_id: r.ticket_id,
        department_id: r.department_id,
        department_name: r.department_name.clone(),
        status: r.status.code().into(),
        status_label_zh: r.status.label(Lang::Zh).into(),
        status_label_en: r.status.label(Lang::En).into(),
        planned_version: r.planned_version.clone(),
        planned_date: r.planned_date.map(|d| d.to_string()),
        decline_reason: r.decline_reason.clone(),
        submitted_at: r.submitted_at.to_string(),
        outcome_at: r.outcome_at.map(|t| t.to_string()),
        customer_told_at: r.customer_told_at.map(|t| t.to_string()),
    }
}

/// The body of a need update; every field a string as in the form.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NeedInput {
    pub status: Option<String>,
    pub department_id: Option<String>,
    pub planned_version: Option<String>,
    pub planned_date: Option<String>,
    pub decline_reason: Option<String>,
}

/// A need ticket the user may see; 404 otherwise, 409 for another type.
fn need_ticket(
    c: &mut guanxi_store::Conn,
    user: &guanxi_store::users::User,
    id: i64,
) -> guanxi_store::Result<Result<(), AppError>> {
    let t = match guanxi_store::tickets::get(c, id) {
        Err(StoreError::NotFound) => return Ok(Err(AppError::NotFound)),
        other => other?,
    };
    if !crate::service::tickets::can_see(c, user, &t)? {
        return Ok(Err(AppError::NotFound));
    }
    if t.ticket_type != TicketType::Need {
        return Ok(Err(AppError::Refused {
            code: "not_a_need",
            zh: "只有类型为「需求」的工单有需求记录".into(),
            en: "Only tickets of type need have a need record".into(),
        }));
    }
    Ok(Ok(()))
}

/// The need record of a need ticket (started as submitted when missing).
#[utoipa::path(get, path = "/api/v1/tickets/{id}/need", tag = "tickets", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = NeedView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn get_need(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<Json<NeedView>> {
    let now = state.clock.now();
    let r = state
        .db
        .write(move |c| {
            if let Err(e) = need_ticket(c, &user, id)? {
                return Ok(Err(e));
            }
            store::submit(c, id, None, now).map(Ok)
        })
        .await??;
    Ok(Json(view(&r)))
}

/// Changes the need record: status (submitted → evaluating → accepted /
/// planned → delivered, or declined with a reason), department, plan.
#[utoipa::path(put, path = "/api/v1/tickets/{id}/need", tag = "tickets", params(("id" = i64, Path)), request_body = NeedInput,
    security(("bearer" = [])),
    responses((status = 200, body = NeedView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn put_need(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(input): Json<NeedInput>,
) -> AppResult<Json<NeedView>> {
    let r = update(&state, &user, id, input).await?;
    Ok(Json(view(&r)))
}

/// The update shared by the API and the ticket page's form.
pub async fn update(
    state: &AppState,
    user: &guanxi_store::users::User,
    id: i64,
    input: NeedInput,
) -> AppResult<NeedRecord> {
    let raw = NeedUpdateInput {
        status: input.status,
        department_id: input.department_id,
        planned_version: input.planned_version,
        planned_date: input.planned_date,
        decline_reason: input.decline_reason,
    };
    // Whether the ticket exists for the user comes first: another's
    // ticket is 404 whatever the body holds.
    let who = user.clone();
    state.db.read(move |c| need_ticket(c, &who, id)).await??;
    if !user.role.can_create_tickets() {
        return Err(AppError::Forbidden);
    }
    let u = need::parse_update(&raw).map_err(AppError::Invalid)?;
    let now = state.clock.now();
    let user = user.clone();
    state
        .db
        .write(move |c| {
            if let Err(e) = need_ticket(c, &user, id)? {
                return Ok(Err(e));
            }
            match store::update(c, id, &u, Some(user.id), now) {
                Ok(Ok(r)) => Ok(Ok(r)),
                Ok(Err(e)) => Ok(Err(AppError::Refused {
                    code: "need_transition_not_allowed",
                    zh: e.message(Lang::Zh),
                    en: e.message(Lang::En),
                })),
                Err(StoreError::Invalid(v)) => Ok(Err(AppError::Invalid(v))),
                Err(e) => Err(e),
            }
        })
        .await?
}

/// Records that the customer was told the need's outcome (delivered or
/// declined); 409 before there is an outcome. Told once: the first time stays.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/need/customer-told", tag = "tickets", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = NeedView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn customer_told(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<Json<NeedView>> {
    let who = user.clone();
    state.db.read(move |c| need_ticket(c, &who, id)).await??;
    if !user.role.can_create_tickets() {
        return Err(AppError::Forbidden);
    }
    let now = state.clock.now();
    let r = state
        .db
        .write(move |c| {
            if let Err(e) = need_ticket(c, &user, id)? {
                return Ok(Err(e));
            }
            let r = store::submit(c, id, None, now)?;
            if !r.status.is_outcome() {
                let e = need::CloseRefused::NoOutcome;
                return Ok(Err(AppError::Refused {
                    code: e.code(),
                    zh: e.message(Lang::Zh).into(),
                    en: e.message(Lang::En).into(),
                }));
            }
            store::mark_told(c, id, None, Some(user.id), now)?;
            store::get(c, id)?.ok_or(StoreError::NotFound).map(Ok)
        })
        .await??;
    Ok(Json(view(&r)))
}
