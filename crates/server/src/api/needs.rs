//! `/api/v1/tickets/{id}/need`: the need record of a need ticket (SPEC T1,
//! 需求-响应-反馈): read it, or change its status, target department,
//! planned version/date or decline reason. A refused transition is 409 and
//! writes nothing; bad fields are 422 naming the field.

use axum::extract::{Path, Query, State};
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
use crate::lang::ReqLang;
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
pub(crate) fn need_ticket(
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

/// Whether to tell the customer through the outbox.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct TellParams {
    /// `true`: queue the `need_outcome` message on the customer's channel
    /// (consent and quiet hours apply) and keep its id; default `false`
    /// (the customer was told another way, e.g. by phone).
    pub notify: Option<bool>,
}

/// Records that the customer was told the need's outcome (delivered or
/// declined), optionally by an outbox message; 409 before there is an
/// outcome, or when the message cannot go (channel refused, no address).
/// Told once: the first time stays and no second message is queued.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/need/customer-told", tag = "tickets", params(("id" = i64, Path), TellParams),
    security(("bearer" = [])),
    responses((status = 200, body = NeedView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn customer_told(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Query(p): Query<TellParams>,
) -> AppResult<Json<NeedView>> {
    let r = crate::service::needs::tell(&state, &user, id, p.notify.unwrap_or(false)).await?;
    Ok(Json(view(&r)))
}

/// The period of the needs report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReportParams {
    /// `YYYY-MM`; default the current month (ignored when `from`/`to` are given).
    pub month: Option<String>,
    /// First day, `YYYY-MM-DD` (with `to`; at most 366 days).
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD`, inclusive.
    pub to: Option<String>,
}

/// One group of the needs report: a department, a month or the total.
#[derive(Debug, Serialize, ToSchema)]
pub struct NeedGroupView {
    /// The department's name or the month (`YYYY-MM`); empty for the total.
    pub key: String,
    pub total: u32,
    /// Count per status code (submitted, evaluating, accepted, planned, delivered, declined).
    pub by_status: std::collections::BTreeMap<String, u32>,
    /// Accepted, planned or delivered.
    pub adopted: u32,
    /// Adopted or declined.
    pub decided: u32,
    /// adopted / decided; null when nothing was decided.
    pub adoption_rate: Option<f64>,
    /// Delivered or declined.
    pub with_outcome: u32,
    /// Of those, the customer was told.
    pub told: u32,
    /// told / with_outcome.
    pub share_told: Option<f64>,
    /// Median (nearest rank) days from submission to outcome.
    pub median_days_to_outcome: Option<f64>,
    pub avg_days_to_outcome: Option<f64>,
}

fn group_view(g: &need::NeedGroup) -> NeedGroupView {
    NeedGroupView {
        key: g.key.clone(),
        total: g.total,
        by_status: need::NeedStatus::ALL.iter().zip(&g.by_status).map(|(s, n)| (s.code().to_string(), *n)).collect(),
        adopted: g.adopted,
        decided: g.decided,
        adoption_rate: g.adoption_rate(),
        with_outcome: g.with_outcome,
        told: g.told,
        share_told: g.share_told(),
        median_days_to_outcome: g.median_days_to_outcome,
        avg_days_to_outcome: g.avg_days_to_outcome,
    }
}

/// One need of the report's list.
#[derive(Debug, Serialize, ToSchema)]
pub struct NeedListView {
    pub ticket_id: i64,
    pub number: String,
    pub subject: String,
    pub customer_name: Option<String>,
    pub category: String,
    pub department_name: Option<String>,
    pub status: String,
    pub planned_version: Option<String>,
    pub planned_date: Option<String>,
    pub decline_reason: Option<String>,
    pub submitted_at: String,
    pub outcome_at: Option<String>,
    pub customer_told_at: Option<String>,
}

/// 客户需求分析报告 (R3) as JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct NeedsReportView {
    /// YYYY-MM-DD, inclusive.
    pub from: String,
    pub to: String,
    pub total: NeedGroupView,
    pub by_department: Vec<NeedGroupView>,
    pub by_month: Vec<NeedGroupView>,
    pub needs: Vec<NeedListView>,
    /// The list stops at 2000 needs; the figures count them all.
    pub truncated: bool,
}

/// 客户需求分析报告 (R3): the needs submitted in the period by department,
/// month and status, the adoption rate, the share told, the median days to
/// an outcome, and the needs themselves (supervisors and administrators).
#[utoipa::path(get, path = "/api/v1/reports/needs", tag = "reports", params(ReportParams),
    security(("bearer" = [])),
    responses((status = 200, body = NeedsReportView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn report(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    Query(p): Query<ReportParams>,
) -> AppResult<Json<NeedsReportView>> {
    let (from, to) =
        crate::service::needs::parse_period(p.month.as_deref(), p.from.as_deref(), p.to.as_deref(), state.today())
            .map_err(AppError::Invalid)?;
    let d = crate::service::needs::report(&state, &user, from, to, lang).await?;
    Ok(Json(NeedsReportView {
        from: d.from.to_string(),
        to: d.to.to_string(),
        total: group_view(&d.report.total),
        by_department: d.report.by_department.iter().map(group_view).collect(),
        by_month: d.report.by_month.iter().map(group_view).collect(),
        needs: d
            .needs
            .iter()
            .map(|n| NeedListView {
                ticket_id: n.ticket_id,
                number: n.number.clone(),
                subject: n.subject.clone(),
                customer_name: n.customer_name.clone(),
                category: n.category.clone(),
                department_name: n.department_name.clone(),
                status: n.status.code().into(),
                planned_version: n.planned_version.clone(),
                planned_date: n.planned_date.map(|d| d.to_string()),
                decline_reason: n.decline_reason.clone(),
                submitted_at: n.submitted_at.to_string(),
                outcome_at: n.outcome_at.map(|t| t.to_string()),
                customer_told_at: n.customer_told_at.map(|t| t.to_string()),
            })
            .collect(),
        truncated: d.truncated,
    }))
}

/// Where new needs go, per ticket category: the group an administrator
/// chose, else the first existing group with one of the default names
/// (product → 产品部/研发部, service → 售后服务部, communication → 销售部,
/// logistics → 物流部), else none (administrators).
#[utoipa::path(get, path = "/api/v1/needs/departments", tag = "tickets", security(("bearer" = [])),
    responses((status = 200, body = [crate::service::needs::DepartmentRoute]), (status = 403, body = Problem)))]
pub async fn get_departments(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> AppResult<Json<Vec<crate::service::needs::DepartmentRoute>>> {
    Ok(Json(crate::service::needs::department_routes(&state, &user).await?))
}

/// Chooses the department of new needs per category: `{"product": 12,
/// "service": null}` (null: back to the default names). Categories not
/// named keep their choice; an unknown category or group is 422 naming it.
#[utoipa::path(put, path = "/api/v1/needs/departments", tag = "tickets", security(("bearer" = [])),
    request_body(content = std::collections::BTreeMap<String, Option<i64>>, description = "category → group id or null"),
    responses((status = 200, body = [crate::service::needs::DepartmentRoute]), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn put_departments(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(input): Json<std::collections::BTreeMap<String, Option<i64>>>,
) -> AppResult<Json<Vec<crate::service::needs::DepartmentRoute>>> {
    Ok(Json(crate::service::needs::set_department_routes(&state, &user, input).await?))
}
