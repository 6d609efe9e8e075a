//! Segmentation and churn warning over the API (SPEC G): a customer's
//! tier/activity/RFM/signals, the overview counts, the churn-risk list,
//! saved segments and their members, and recompute on demand.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use guanxi_domain::Lang;
use guanxi_domain::segment::{Activity, RfmSegment, Segment, SignalKind, ValueTier};
use guanxi_store::segments::{MemberOrder, MemberPage, Stored};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::ApiUser;
use crate::error::{AppError, AppResult, Problem};
use crate::lang::ReqLang;
use crate::service::segments as svc;
use crate::state::AppState;

/// One churn signal with its evidence.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignalView {
    /// e.g. `order_drop`.
    pub kind: String,
    pub label: String,
    /// The evidence in words and numbers, in the caller's language.
    pub evidence: String,
    /// The numbers behind it.
    #[schema(value_type = Object)]
    pub figures: serde_json::Value,
}

/// A customer's segmentation as last computed.
#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentView {
    pub customer_id: i64,
    /// `high`, `potential` or `ordinary`.
    pub tier: String,
    pub tier_label: String,
    /// `active`, `silent` or `dormant`.
    pub activity: String,
    pub activity_label: String,
    /// Spend in the tier period, in fen.
    pub spend_fen: i64,
    pub orders_total: i64,
    pub last_order_on: Option<String>,
    pub last_interaction_on: Option<String>,
    /// R, F and M scores, e.g. `545`.
    pub rfm: Option<String>,
    pub rfm_segment: Option<String>,
    pub rfm_segment_label: Option<String>,
    pub at_risk: bool,
    pub signals: Vec<SignalView>,
    pub rule_tags: Vec<String>,
    /// BG/NBD probability that the customer is still alive.
    pub p_alive: Option<f64>,
    /// BG/NBD expected purchases over the horizon of the settings.
    pub expected_purchases: Option<f64>,
    pub computed_at: String,
}

impl SegmentView {
    pub fn new(s: &Stored, lang: Lang) -> Self {
        let label = |code: &str| code.to_string();
        Self {
            customer_id: s.customer_id,
            tier: s.tier.clone(),
            tier_label: ValueTier::parse(&s.tier).map_or_else(|_| label(&s.tier), |t| t.label(lang).into()),
            activity: s.activity.clone(),
            activity_label: Activity::parse(&s.activity).map_or_else(|_| label(&s.activity), |a| a.label(lang).into()),
            spend_fen: s.spend_fen,
            orders_total: s.orders_total,
            last_order_on: s.last_order_on.map(|d| d.to_string()),
            last_interaction_on: s.last_interaction_on.map(|d| d.to_string()),
            rfm: s.rfm.clone(),
            rfm_segment: s.rfm_segment.clone(),
            rfm_segment_label: s
                .rfm_segment
                .as_deref()
                .and_then(|r| RfmSegment::parse(r).ok())
                .map(|r| r.label(lang).to_string()),
            at_risk: s.at_risk(),
            signals: svc::signals_of(s)
                .into_iter()
                .map(|x| SignalView {
                    kind: x.kind.code().into(),
                    label: x.kind.label(lang).into(),
                    evidence: x.text(lang),
                    figures: serde_json::to_value(&x.evidence).unwrap_or_default(),
                })
                .collect(),
            rule_tags: s.rule_tags.clone(),
            p_alive: s.p_alive,
            expected_purchases: s.expected_purchases,
            computed_at: s.computed_at.to_string(),
        }
    }
}

/// A customer's segmentation (404 before the first recomputation).
#[utoipa::path(get, path = "/api/v1/customers/{id}/segment", tag = "segments", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = SegmentView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn customer_segment(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
    Path(id): Path<i64>,
) -> AppResult<Json<SegmentView>> {
    let s = svc::for_customer(&state, &user, id).await?.ok_or(AppError::NotFound)?;
    Ok(Json(SegmentView::new(&s, lang)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cell {
    pub tier: String,
    pub activity: String,
    pub customers: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RfmCount {
    pub segment: String,
    pub label: String,
    pub customers: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverviewView {
    /// Customers per tier × activity.
    pub cells: Vec<Cell>,
    /// Customers per RFM segment.
    pub rfm: Vec<RfmCount>,
    /// When the last recomputation finished.
    pub computed_at: Option<String>,
}

/// Customers per tier × activity and per RFM segment, within the caller's scope.
#[utoipa::path(get, path = "/api/v1/segments/overview", tag = "segments", security(("bearer" = [])),
    responses((status = 200, body = OverviewView), (status = 401, body = Problem)))]
pub async fn overview(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
) -> AppResult<Json<OverviewView>> {
    let o = svc::overview(&state, &user).await?;
    Ok(Json(OverviewView {
        cells: o
            .tier_activity
            .into_iter()
            .map(|(tier, activity, customers)| Cell { tier, activity, customers })
            .collect(),
        rfm: o
            .rfm
            .into_iter()
            .map(|(segment, customers)| RfmCount {
                label: RfmSegment::parse(&segment).map_or_else(|_| segment.clone(), |r| r.label(lang).into()),
                segment,
                customers,
            })
            .collect(),
        computed_at: o.computed_at,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub customer_id: i64,
    pub code: String,
    pub name: String,
    pub owner_name: Option<String>,
    pub segment: SegmentView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    pub items: Vec<MemberView>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

fn member_list(p: MemberPage, lang: Lang) -> MemberList {
    MemberList {
        items: p
            .items
            .iter()
            .map(|m| MemberView {
                customer_id: m.customer.id,
                code: m.customer.code.clone(),
                name: m.customer.name.clone(),
                owner_name: m.customer.owner_name.clone(),
                segment: SegmentView::new(&m.segment, lang),
            })
            .collect(),
        total: p.total,
        page: p.page,
        per_page: p.per_page,
    }
}

/// The churn-risk list: customers with a churn signal, lowest P(alive) first.
#[utoipa::path(get, path = "/api/v1/segments/churn-risk", tag = "segments", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = MemberList), (status = 401, body = Problem)))]
pub async fn churn_risk(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<MemberList>> {
    let p = svc::churn_risk(&state, &user, q.page.unwrap_or(1), q.per_page.unwrap_or(50)).await?;
    Ok(Json(member_list(p, lang)))
}

/// A segment definition and a page: the customers it holds.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentQuery {
    /// e.g. `{"all": [{"tier": "high"}, {"activity": "active"}, {"has_tag": "偏好新品"}]}`.
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

fn parse_definition(v: serde_json::Value) -> Result<Segment, AppError> {
    let raw = serde_json::to_string(&v).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(svc::parse_segment(&raw)?)
}

/// The customers of a segment definition (highest spend first).
#[utoipa::path(post, path = "/api/v1/segments/preview", tag = "segments", request_body = SegmentQuery,
    security(("bearer" = [])),
    responses((status = 200, body = MemberList), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn preview(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
    crate::api::json::Json(q): crate::api::json::Json<SegmentQuery>,
) -> AppResult<Json<MemberList>> {
    let seg = parse_definition(q.definition)?;
    let p =
        svc::members(&state, &user, seg, MemberOrder::SpendDesc, q.page.unwrap_or(1), q.per_page.unwrap_or(50)).await?;
    Ok(Json(member_list(p, lang)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSegment {
    pub name: String,
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SavedSegmentView {
    pub id: i64,
    pub name: String,
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
    /// The definition in words.
    pub description: String,
    /// Who saved it: they, supervisors and administrators may rename,
    /// change and delete it.
    pub created_by: Option<i64>,
}

impl SavedSegmentView {
    fn new(r: &guanxi_store::segments::SavedSegment, lang: Lang) -> Self {
        let seg = svc::parse_segment(&r.definition).unwrap_or_default();
        SavedSegmentView {
            id: r.id,
            name: r.name.clone(),
            definition: serde_json::from_str(&r.definition).unwrap_or_default(),
            description: seg.describe(lang),
            created_by: r.created_by,
        }
    }
}

/// Saves a segment for plans and outreach (everyone but collaborating
/// departments; its members are always read within the viewer's scope).
#[utoipa::path(post, path = "/api/v1/segments", tag = "segments", request_body = NewSegment, security(("bearer" = [])),
    responses((status = 201, body = SavedSegmentView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
    crate::api::json::Json(q): crate::api::json::Json<NewSegment>,
) -> AppResult<(StatusCode, Json<SavedSegmentView>)> {
    let seg = parse_definition(q.definition.clone())?;
    let id = svc::save_segment(&state, &user, &q.name, &seg).await?;
    let saved = state.db.read(move |c| guanxi_store::segments::saved_segment(c, id)).await?;
    Ok((StatusCode::CREATED, Json(SavedSegmentView::new(&saved, lang))))
}

/// One saved segment.
#[utoipa::path(get, path = "/api/v1/segments/{id}", tag = "segments", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = SavedSegmentView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    ApiUser(_user): ApiUser,
    ReqLang(lang): ReqLang,
    Path(id): Path<i64>,
) -> AppResult<Json<SavedSegmentView>> {
    let saved = state.db.read(move |c| guanxi_store::segments::saved_segment(c, id)).await?;
    Ok(Json(SavedSegmentView::new(&saved, lang)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentPatch {
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub definition: Option<serde_json::Value>,
}

/// Renames a saved segment and/or replaces its conditions (its creator,
/// supervisors and administrators); fields left out keep their value.
#[utoipa::path(patch, path = "/api/v1/segments/{id}", tag = "segments", params(("id" = i64, Path)),
    request_body = SegmentPatch, security(("bearer" = [])),
    responses((status = 200, body = SavedSegmentView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
    Path(id): Path<i64>,
    crate::api::json::Json(q): crate::api::json::Json<SegmentPatch>,
) -> AppResult<Json<SavedSegmentView>> {
    let seg = q.definition.map(parse_definition).transpose()?;
    let saved = svc::update_segment(&state, &user, id, q.name.as_deref(), seg.as_ref()).await?;
    Ok(Json(SavedSegmentView::new(&saved, lang)))
}

/// Deletes a saved segment (its creator, supervisors and administrators).
#[utoipa::path(delete, path = "/api/v1/segments/{id}", tag = "segments", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    svc::delete_segment(&state, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SavedSegmentList {
    pub items: Vec<SavedSegmentView>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// Saved segments, by name, a page at a time.
#[utoipa::path(get, path = "/api/v1/segments", tag = "segments", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = SavedSegmentList), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    ApiUser(_user): ApiUser,
    ReqLang(lang): ReqLang,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<SavedSegmentList>> {
    let (page, per_page) = (q.page.unwrap_or(1).max(1), q.per_page.unwrap_or(50).clamp(1, 200));
    let (rows, total) = state.db.read(move |c| guanxi_store::segments::saved_segments_page(c, page, per_page)).await?;
    let items = rows.iter().map(|r| SavedSegmentView::new(r, lang)).collect();
    Ok(Json(SavedSegmentList { items, total, page, per_page }))
}

/// Recomputes every customer's segmentation now (supervisors and
/// administrators; it also runs nightly).
#[utoipa::path(post, path = "/api/v1/segments/recompute", tag = "segments", security(("bearer" = [])),
    responses((status = 200, description = "what the recomputation did"), (status = 403, body = Problem)))]
pub async fn recompute(State(state): State<AppState>, ApiUser(user): ApiUser) -> AppResult<Json<serde_json::Value>> {
    let r = svc::recompute_now(&state, &user).await?;
    Ok(Json(serde_json::to_value(&r).map_err(|e| AppError::Internal(e.to_string()))?))
}

/// Every signal kind, for forms.
pub fn signal_kinds(lang: Lang) -> Vec<(&'static str, &'static str)> {
    SignalKind::ALL.iter().map(|k| (k.code(), k.label(lang))).collect()
}

/// The coded reason of a followed-up churn warning (SPEC G4).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChurnReasonInput {
    /// `service`, `needs`, `competitor`, `price`, `business` or `other`.
    pub reason: String,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    pub id: i64,
}

/// Records why a customer is leaving (it chooses the recovery plan and feeds
/// the churn-reason statistics); it also goes on the customer's timeline.
#[utoipa::path(post, path = "/api/v1/customers/{id}/churn-reason", tag = "segments", params(("id" = i64, Path)),
    request_body = ChurnReasonInput, security(("bearer" = [])),
    responses((status = 201, body = Created), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn record_churn_reason(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    crate::api::json::Json(q): crate::api::json::Json<ChurnReasonInput>,
) -> AppResult<(StatusCode, Json<Created>)> {
    let id = svc::record_churn_reason(&state, &user, id, &q.reason, q.note.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DaysQuery {
    /// The last this many days (default 90).
    pub days: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReasonCount {
    pub reason: String,
    pub label: String,
    pub customers: i64,
}

/// Churn reasons recorded in the last `days` days, per reason, within the caller's scope.
#[utoipa::path(get, path = "/api/v1/segments/churn-reasons", tag = "segments", params(DaysQuery),
    security(("bearer" = [])), responses((status = 200, body = Vec<ReasonCount>), (status = 401, body = Problem)))]
pub async fn churn_reasons(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
    Query(q): Query<DaysQuery>,
) -> AppResult<Json<Vec<ReasonCount>>> {
    let rows = svc::churn_reason_counts(&state, &user, q.days.unwrap_or(90)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(reason, customers)| ReasonCount {
                label: guanxi_domain::segment::ChurnReason::parse(&reason)
                    .map_or_else(|_| reason.clone(), |r| r.label(lang).into()),
                reason,
                customers,
            })
            .collect(),
    ))
}
