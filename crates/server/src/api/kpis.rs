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

/// A KPI of the registry.
#[derive(Debug, Serialize, ToSchema)]
pub struct KpiInfo {
    pub name: String,
    pub label: String,
    /// How it is computed, in words.
    pub definition: String,
    /// `percent` (a 0–1 share), `minutes` or `score`.
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
        let met = |v: Option<f64>| s.def.target.and_then(|t| t.met(v));
        Self {
            kpi: KpiInfo::new(s.def, lang),
            from: s.query.from.to_string(),
            to: s.query.to.to_string(),
            by: s.query.period.code().into(),
            group: s.query.group.code().into(),
            slices: s
                .slices
                .iter()
                .map(|sl| SliceView {
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
