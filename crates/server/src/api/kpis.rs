//! KPIs over the API (SPEC R1): the registry with each KPI's definition,
//! target and availability, and one KPI over a date range by day, week or
//! month and by team, agent, channel, category or tier.

use axum::extract::{Path, RawQuery, State};
use guanxi_domain::Lang;
use guanxi_domain::kpi::{self, GroupBy, KpiDef, Unit};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::json::Json;
use crate::auth::ApiUser;
use crate::error::{AppError, AppResult, Problem};
use crate::lang::ReqLang;
use crate::service::kpis::{self as svc, Series};
use crate::state::AppState;
use crate::web::ClientIp;

/// A KPI of the registry.
#[derive(Debug, Serialize, ToSchema)]
pub struct KpiInfo {
    pub name: String,
    pub label: String,
    /// How it is computed, in words.
    pub definition: String,
    /// `percent` (a 0–1 share), `minutes`, `score` or `working_days`.
    pub unit: String,
    /// The SPEC target, e.g. `≥ 95.0%`.
    pub target: Option<String>,
    pub target_value: Option<f64>,
    /// Whether the target is a floor (`true`) or a ceiling.
    pub target_at_least: Option<bool>,
    /// False while the KPI's source has not landed; it then has no values.
    pub available: bool,
    /// What an unavailable KPI waits for.
    pub pending: Option<String>,
    /// The slices it can be broken down by.
    pub groups: Vec<String>,
}

fn unit_code(u: Unit) -> &'static str {
    match u {
        Unit::Percent => "percent",
        Unit::Minutes => "minutes",
        Unit::Score => "score",
        Unit::WorkingDays => "working_days",
    }
}

impl KpiInfo {
    pub fn new(k: &KpiDef, lang: Lang) -> Self {
        Self {
            name: k.name.into(),
            label: k.label(lang).into(),
            definition: k.definition(lang).into(),
            unit: unit_code(k.unit).into(),
            target: k.target_text(),
            target_value: k.target.map(|t| t.value),
            target_at_least: k.target.map(|t| t.at_least),
            available: k.available(),
            pending: (!k.available()).then(|| lang.pick(k.pending_zh, k.pending_en).to_string()),
            groups: GroupBy::ALL.iter().filter(|g| k.supports(**g)).map(|g| g.code().to_string()).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KpiList {
    pub items: Vec<KpiInfo>,
}

/// Every KPI of SPEC R1 with its definition and target; those whose source
/// has not landed are listed with `available: false`. Supervisors and
/// administrators.
#[utoipa::path(get, path = "/api/v1/kpis", tag = "reports", security(("bearer" = [])),
    responses((status = 200, body = KpiList), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list(ApiUser(user): ApiUser, ReqLang(lang): ReqLang) -> AppResult<Json<KpiList>> {
    svc::require_reader(&user)?;
    Ok(Json(KpiList { items: kpi::REGISTRY.iter().map(|k| KpiInfo::new(k, lang)).collect() }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KpiQueryParams {
    /// First day, `YYYY-MM-DD` (default: 29 days before `to`).
    pub from: Option<String>,
    /// Last day, included (default: today); at most 366 days after `from`.
    pub to: Option<String>,
    /// `day` (default), `week` (from Monday) or `month`.
    pub by: Option<String>,
    /// `none` (default), `team`, `agent`, `channel`, `category` or `tier`.
    pub group: Option<String>,
}

/// One period's value.
#[derive(Debug, Serialize, ToSchema)]
pub struct PointView {
    /// The period's first day, `YYYY-MM-DD`.
    pub period: String,
    /// Null when there is nothing to measure (shown as `—`).
    pub value: Option<f64>,
    pub display: String,
    /// Whether the value meets the target (null without target or value).
    pub met: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SliceView {
    pub key: String,
    pub label: String,
    pub points: Vec<PointView>,
    /// Over the whole range.
    pub total: Option<f64>,
    pub total_display: String,
    pub total_met: Option<bool>,
    /// The tickets (or maintenance tasks due) the total is computed over.
    pub base: i64,
    /// The slice's effective target: its own (`/api/v1/kpi-targets`), else
    /// the KPI's default; `met` and `total_met` are against it.
    pub target: Option<String>,
    pub target_value: Option<f64>,
    pub target_at_least: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesView {
    pub kpi: KpiInfo,
    pub from: String,
    pub to: String,
    pub by: String,
    pub group: String,
    pub slices: Vec<SliceView>,
}

impl SeriesView {
    pub fn new(s: &Series, lang: Lang) -> Self {
        let mut info = KpiInfo::new(s.def, lang);
        info.target = crate::service::kpi_targets::target_text(s.default_target, s.def.unit);
        info.target_value = s.default_target.map(|t| t.value);
        info.target_at_least = s.default_target.map(|t| t.at_least);
        Self {
            kpi: info,
            from: s.query.from.to_string(),
            to: s.query.to.to_string(),
            by: s.query.period.code().into(),
            group: s.query.group.code().into(),
            slices: s
                .slices
                .iter()
                .map(|sl| {
                    let met = |v: Option<f64>| sl.target.and_then(|t| t.met(v));
                    SliceView {
                        key: sl.key.clone(),
                        label: sl.label.clone(),
                        points: s
                            .buckets
                            .iter()
                            .zip(&sl.values)
                            .map(|(b, v)| PointView {
                                period: b.to_string(),
                                value: *v,
                                display: kpi::display(*v, s.def.unit),
                                met: met(*v),
                            })
                            .collect(),
                        total: sl.total,
                        total_display: kpi::display(sl.total, s.def.unit),
                        total_met: met(sl.total),
                        base: sl.base,
                        target: crate::service::kpi_targets::target_text(sl.target, s.def.unit),
                        target_value: sl.target.map(|t| t.value),
                        target_at_least: sl.target.map(|t| t.at_least),
                    }
                })
                .collect(),
        }
    }
}

/// One KPI over `[from, to]` by period and slice. Periods or slices with
/// nothing to measure have a null value (no division by zero). 404 for an
/// unknown KPI; 422 for a KPI whose source has not landed (`name`), a slice
/// it cannot be broken down by (`group`), or a bad `from`, `to` or `by`.
#[utoipa::path(get, path = "/api/v1/kpis/{name}", tag = "reports", params(("name" = String, Path), KpiQueryParams),
    security(("bearer" = [])),
    responses((status = 200, body = SeriesView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> AppResult<Json<SeriesView>> {
    svc::require_reader(&user)?;
    let def = kpi::find(&name).ok_or(AppError::NotFound)?;
    let q: KpiQueryParams = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("query string: {e}")))?;
    let q = svc::parse_query(q.from.as_deref(), q.to.as_deref(), q.by.as_deref(), q.group.as_deref(), state.today())?;
    let s = svc::series(&state, &user, def, q, lang).await?;
    Ok(Json(SeriesView::new(&s, lang)))
}

/// A KPI's target on one slice.
#[derive(Debug, Serialize, ToSchema)]
pub struct KpiTargetView {
    pub id: i64,
    pub kpi: String,
    /// `none` (the KPI's default for every slice), `team`, `agent`,
    /// `channel`, `category` or `tier`.
    pub group_by: String,
    /// The slice: a team or user id (`0`: none), a channel, category or
    /// tier code; empty with `none`.
    pub slice_key: String,
    /// Whether the value must be at least (`true`) or at most the target.
    pub at_least: bool,
    /// In the KPI's unit: a 0–1 share (NPS −1–1), minutes, a score 0–10.
    pub value: f64,
    /// The target in words, e.g. `≥ 95.0%`.
    pub display: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

impl KpiTargetView {
    pub fn new(t: &guanxi_store::kpi_targets::KpiTarget) -> Self {
        let unit = kpi::find(&t.kpi).map_or(Unit::Percent, |d| d.unit);
        Self {
            id: t.id,
            kpi: t.kpi.clone(),
            group_by: t.group_by.clone(),
            slice_key: t.slice_key.clone(),
            at_least: t.at_least,
            value: t.value,
            display: crate::service::kpi_targets::target_text(
                Some(kpi::Target { at_least: t.at_least, value: t.value }),
                unit,
            ),
            created_by: t.created_by,
            created_at: t.created_at.to_string(),
            updated_at: t.updated_at.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KpiTargetList {
    pub items: Vec<KpiTargetView>,
}

/// A target to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KpiTargetBody {
    pub kpi: String,
    /// Default `none`.
    #[serde(default)]
    pub group_by: Option<String>,
    #[serde(default)]
    pub slice_key: Option<String>,
    pub at_least: Option<bool>,
    pub value: Option<f64>,
}

/// Every slice target. Supervisors and administrators.
#[utoipa::path(get, path = "/api/v1/kpi-targets", tag = "reports", security(("bearer" = [])),
    responses((status = 200, body = KpiTargetList), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_targets(State(state): State<AppState>, ApiUser(user): ApiUser) -> AppResult<Json<KpiTargetList>> {
    let items = crate::service::kpi_targets::list(&state, &user).await?;
    Ok(Json(KpiTargetList { items: items.iter().map(KpiTargetView::new).collect() }))
}

/// Sets a KPI's target on a slice, replacing the one it had. 422 names the
/// field: `kpi` (unknown or not yet available), `group_by` (a slice the KPI
/// cannot be broken down by), `slice_key`, `at_least`, `value` (outside
/// the unit's range: a 0–1 share, NPS −1–1, minutes 0–525 600, a score
/// 0–10). Audited. Supervisors and administrators.
#[utoipa::path(put, path = "/api/v1/kpi-targets", tag = "reports", request_body = KpiTargetBody,
    security(("bearer" = [])),
    responses((status = 200, body = KpiTargetView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn put_target(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Json(body): Json<KpiTargetBody>,
) -> AppResult<Json<KpiTargetView>> {
    let input = crate::service::kpi_targets::TargetInput {
        kpi: body.kpi,
        group_by: body.group_by.unwrap_or_else(|| "none".into()),
        slice_key: body.slice_key.unwrap_or_default(),
        at_least: body.at_least,
        value: body.value,
    };
    let t = crate::service::kpi_targets::set(&state, &user, input, ip).await?;
    Ok(Json(KpiTargetView::new(&t)))
}

/// Removes a slice target: the slice falls back to the KPI's default.
/// Audited.
#[utoipa::path(delete, path = "/api/v1/kpi-targets/{id}", tag = "reports", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn delete_target(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
) -> AppResult<axum::http::StatusCode> {
    crate::service::kpi_targets::delete(&state, &user, id, ip).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// An improvement action (优化措施) with its before and after figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct KpiActionView {
    pub id: i64,
    pub kpi: String,
    pub kpi_label: String,
    pub group_by: String,
    pub slice_key: String,
    pub title: String,
    pub note: String,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub started_on: String,
    pub review_on: Option<String>,
    /// The KPI on the slice over `before_from`–`before_to` (the 30 days
    /// before the start), captured when the action was recorded.
    pub before_value: Option<f64>,
    pub before_display: String,
    pub before_from: String,
    pub before_to: String,
    /// The KPI over `[started_on, review_on]` (or up to today), computed
    /// now; null before the start or without data.
    pub after_value: Option<f64>,
    pub after_display: String,
    pub after_from: Option<String>,
    pub after_to: Option<String>,
    /// after − before.
    pub change: Option<f64>,
    pub created_by: Option<i64>,
    pub created_at: String,
}

impl KpiActionView {
    pub fn new(f: &crate::service::kpi_targets::ActionFigures, lang: Lang) -> Self {
        let a = &f.action;
        Self {
            id: a.id,
            kpi: a.kpi.clone(),
            kpi_label: f.def.label(lang).into(),
            group_by: a.group_by.clone(),
            slice_key: a.slice_key.clone(),
            title: a.title.clone(),
            note: a.note.clone(),
            owner_id: a.owner_id,
            owner_name: a.owner_name.clone(),
            started_on: a.started_on.to_string(),
            review_on: a.review_on.map(|d| d.to_string()),
            before_value: a.before_value,
            before_display: kpi::display(a.before_value, f.def.unit),
            before_from: a.before_from.to_string(),
            before_to: a.before_to.to_string(),
            after_value: f.after_value,
            after_display: kpi::display(f.after_value, f.def.unit),
            after_from: f.after_range.map(|r| r.0.to_string()),
            after_to: f.after_range.map(|r| r.1.to_string()),
            change: f.change,
            created_by: a.created_by,
            created_at: a.created_at.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KpiActionList {
    pub items: Vec<KpiActionView>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KpiActionPageParams {
    /// The `next` cursor of the previous page.
    pub before: Option<String>,
    /// 1–100, default 20.
    pub limit: Option<String>,
}

/// An improvement action to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KpiActionBody {
    pub kpi: String,
    /// Default `none`.
    #[serde(default)]
    pub group_by: Option<String>,
    #[serde(default)]
    pub slice_key: Option<String>,
    pub title: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub owner_id: Option<i64>,
    /// `YYYY-MM-DD`.
    pub started_on: String,
    /// `YYYY-MM-DD`, optional, not before `started_on`.
    #[serde(default)]
    pub review_on: Option<String>,
}

/// The improvement actions, newest start first, a page at a time, with
/// their figures. 422 names `before` or `limit`. Supervisors and
/// administrators.
#[utoipa::path(get, path = "/api/v1/kpi-actions", tag = "reports", params(KpiActionPageParams),
    security(("bearer" = [])),
    responses((status = 200, body = KpiActionList), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn list_actions(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
    RawQuery(raw): RawQuery,
) -> AppResult<Json<KpiActionList>> {
    use crate::service::kpi_targets as targets;
    svc::require_reader(&user)?;
    let q: KpiActionPageParams = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("query string: {e}")))?;
    let (before, limit) = targets::parse_actions_page(q.before.as_deref(), q.limit.as_deref())?;
    let page = targets::list_actions(&state, &user, before, limit).await?;
    Ok(Json(KpiActionList { items: page.items.iter().map(|f| KpiActionView::new(f, lang)).collect(), next: page.next }))
}

/// Records an improvement action; its "before" figure (the KPI on the
/// slice over the 30 days before `started_on`) is computed now and kept.
/// 422 names the field (`kpi`, `group_by`, `slice_key`, `title`, `note`,
/// `owner_id`, `started_on`, `review_on`). Audited. Supervisors and
/// administrators.
#[utoipa::path(post, path = "/api/v1/kpi-actions", tag = "reports", request_body = KpiActionBody,
    security(("bearer" = [])),
    responses((status = 201, body = KpiActionView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create_action(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
    ClientIp(ip): ClientIp,
    Json(body): Json<KpiActionBody>,
) -> AppResult<(axum::http::StatusCode, Json<KpiActionView>)> {
    let input = crate::service::kpi_targets::ActionInput {
        kpi: body.kpi,
        group_by: body.group_by.unwrap_or_else(|| "none".into()),
        slice_key: body.slice_key.unwrap_or_default(),
        title: body.title,
        note: body.note.unwrap_or_default(),
        owner_id: body.owner_id,
        started_on: body.started_on,
        review_on: body.review_on.unwrap_or_default(),
    };
    let id = crate::service::kpi_targets::record_action(&state, &user, input, ip).await?;
    let f = crate::service::kpi_targets::get_action(&state, &user, id).await?;
    Ok((axum::http::StatusCode::CREATED, Json(KpiActionView::new(&f, lang))))
}

/// One improvement action with its before and (live) after figures.
#[utoipa::path(get, path = "/api/v1/kpi-actions/{id}", tag = "reports", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = KpiActionView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn get_action(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
    Path(id): Path<i64>,
) -> AppResult<Json<KpiActionView>> {
    let f = crate::service::kpi_targets::get_action(&state, &user, id).await?;
    Ok(Json(KpiActionView::new(&f, lang)))
}

/// What may change of an improvement action. The KPI, slice, start date
/// and the captured "before" figure stay as recorded (a body naming them
/// is refused as unknown fields). Omitted fields are cleared: `note`
/// empty, no `owner_id`, no `review_on`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KpiActionChangeBody {
    pub title: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub owner_id: Option<i64>,
    /// `YYYY-MM-DD`, optional, not before the action's `started_on`.
    #[serde(default)]
    pub review_on: Option<String>,
}

/// Changes an improvement action's title, note, owner and review date,
/// checked as when recording it; 422 names the field (`title`, `note`,
/// `owner_id`, `review_on`). Answers the action with its figures (the
/// "after" one over the new review period). Audited with before and
/// after. Supervisors and administrators.
#[utoipa::path(put, path = "/api/v1/kpi-actions/{id}", tag = "reports", params(("id" = i64, Path)),
    request_body = KpiActionChangeBody, security(("bearer" = [])),
    responses((status = 200, body = KpiActionView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_action(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    Json(body): Json<KpiActionChangeBody>,
) -> AppResult<Json<KpiActionView>> {
    let change = crate::service::kpi_targets::ActionChange {
        title: body.title,
        note: body.note.unwrap_or_default(),
        owner_id: body.owner_id,
        review_on: body.review_on.unwrap_or_default(),
    };
    crate::service::kpi_targets::update_action(&state, &user, id, change, ip).await?;
    let f = crate::service::kpi_targets::get_action(&state, &user, id).await?;
    Ok(Json(KpiActionView::new(&f, lang)))
}

/// Removes an improvement action. Audited with what it was. Supervisors
/// and administrators.
#[utoipa::path(delete, path = "/api/v1/kpi-actions/{id}", tag = "reports", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn delete_action(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
) -> AppResult<axum::http::StatusCode> {
    crate::service::kpi_targets::delete_action(&state, &user, id, ip).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
