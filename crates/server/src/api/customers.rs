//! `/api/v1/customers`: customer records (SPEC C1).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use guanxi_domain::Issue;
use guanxi_domain::customer::{self as dc, CustomerInput};
use guanxi_store::customers::{Customer, CustomerFilter, CustomerSort};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::json::Json;
use crate::auth::ApiUser;
use crate::error::{AppError, AppResult, Problem};
use crate::service::customers::{self as svc, PersonalField};
use crate::state::AppState;
use crate::web::ClientIp;

/// A customer as the API shows it. Personal fields are masked; use the
/// reveal endpoint (logged) to read one in clear.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerView {
    pub id: i64,
    /// 客户编号, e.g. `KH000123`.
    pub code: String,
    pub name: String,
    pub kind: String,
    pub industry: Option<String>,
    pub scale: Option<String>,
    pub region: Option<String>,
    pub decision_chain: Option<String>,
    /// Masked, e.g. `138****5678`.
    pub phone: Option<String>,
    /// Masked, e.g. `z***@example.com`.
    pub email: Option<String>,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub cooperation_start: Option<String>,
    /// Whole months since the cooperation start (合作时长).
    pub cooperation_months: Option<i32>,
    /// The next cooperation anniversary.
    pub next_anniversary: Option<String>,
    pub first_purchase_on: Option<String>,
    pub last_cooperation_on: Option<String>,
    pub preferred_channel: Option<String>,
    pub contact_window: Option<String>,
    pub marketing_consent: bool,
    pub notes: Option<String>,
    pub stage: String,
    pub contract_end: Option<String>,
    pub renewal_date: Option<String>,
    pub verified_on: Option<String>,
    /// Never verified, or verified longer ago than the review period.
    pub needs_review: bool,
    pub external_id: Option<String>,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl CustomerView {
    pub fn new(c: Customer, state: &AppState) -> Self {
        let today = state.today();
        let ds = |d: Option<jiff::civil::Date>| d.map(|d| d.to_string());
        Self {
            cooperation_months: c.cooperation_start.map(|s| dc::cooperation_months(s, today)),
            next_anniversary: c.cooperation_start.map(|s| dc::next_anniversary(s, today).to_string()),
            needs_review: dc::needs_review(c.verified_on, today, state.config.review_months),
            id: c.id,
            code: c.code,
            name: c.name,
            kind: c.kind,
            industry: c.industry,
            scale: c.scale,
            region: c.region,
            decision_chain: c.decision_chain,
            phone: c.phone_masked,
            email: c.email_masked,
            owner_id: c.owner_id,
            owner_name: c.owner_name,
            cooperation_start: ds(c.cooperation_start),
            first_purchase_on: ds(c.first_purchase_on),
            last_cooperation_on: ds(c.last_cooperation_on),
            preferred_channel: c.preferred_channel,
            contact_window: c.contact_window,
            marketing_consent: c.marketing_consent,
            notes: c.notes,
            stage: c.stage,
            contract_end: ds(c.contract_end),
            renewal_date: ds(c.renewal_date),
            verified_on: ds(c.verified_on),
            external_id: c.external_id,
            tags: c.tags,
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerList {
    pub items: Vec<CustomerView>,
    /// At most 10,000, or with a search (`q`) 200: see `total_capped`.
    pub total: i64,
    /// There are more: a list counted past 10,000, or a search matched more
    /// than 200 customers (only the newest 200 are listed: refine the search).
    pub total_capped: bool,
    pub page: i64,
    pub per_page: i64,
}

/// List filters. Every parameter is optional.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Customer code, part of the name, or a full phone number / email.
    pub q: Option<String>,
    pub owner_id: Option<String>,
    pub industry: Option<String>,
    pub tag: Option<String>,
    /// Lifecycle stage code.
    pub stage: Option<String>,
    /// `true`: only profiles due for review (资料待核实).
    pub needs_review: Option<String>,
    /// `updated_desc` (default), `code_asc`, `name_asc`, `cooperation_start_asc`.
    pub sort: Option<String>,
    /// From 1.
    pub page: Option<String>,
    /// 1–200, default 25.
    pub per_page: Option<String>,
    /// Only for the pages: the language (ignored here).
    pub lang: Option<String>,
    /// Only for the pages: a notice to show (ignored here).
    pub flash: Option<String>,
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Turns query text into a filter, naming each refused parameter.
pub fn parse_filter(raw: Option<&str>, state: &AppState) -> AppResult<(ListQuery, CustomerFilter)> {
    let q: ListQuery = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("query string: {e}")))?;
    let mut errors = guanxi_domain::ValidationErrors::new();
    let mut int = |name: &str, v: &Option<String>, min: i64, max: i64| -> Option<i64> {
        let s = non_empty(v)?;
        match s.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                errors.add(name, Issue::OutOfRange);
                None
            }
        }
    };
    let page = int("page", &q.page, 1, 1_000_000).unwrap_or(1);
    let per_page = int("per_page", &q.per_page, 1, 200).unwrap_or(25);
    let owner_id = int("owner_id", &q.owner_id, 1, i64::MAX);
    let sort = match non_empty(&q.sort) {
        None => CustomerSort::default(),
        Some(s) => CustomerSort::parse(s).unwrap_or_else(|| {
            errors.add("sort", Issue::NotAllowed);
            CustomerSort::default()
        }),
    };
    let stage = match non_empty(&q.stage) {
        None => None,
        Some(s) => match dc::LifecycleStage::parse(s) {
            Ok(st) => Some(st.code().to_string()),
            Err(i) => {
                errors.add("stage", i);
                None
            }
        },
    };
    let needs_review = match non_empty(&q.needs_review) {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => {
            errors.add("needs_review", Issue::NotAllowed);
            false
        }
    };
    if let Some(t) = non_empty(&q.q)
        && t.chars().count() > 100
    {
        errors.add("q", Issue::TooLong { max: 100 });
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let review_cutoff = state.today().checked_sub(jiff::Span::new().months(state.config.review_months)).ok();
    let filter = CustomerFilter {
        q: non_empty(&q.q).map(str::to_string),
        contact: None,
        owner_id,
        industry: non_empty(&q.industry).map(str::to_string),
        tag: non_empty(&q.tag).map(str::to_string),
        stage,
        verified_before: if needs_review { review_cutoff } else { None },
        sort,
        page,
        per_page,
    };
    Ok((q, filter))
}

/// Lists the customers in the caller's scope.
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = CustomerList), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Json<CustomerList>> {
    let (_, filter) = parse_filter(raw.as_deref(), &state)?;
    let page = svc::list(&state, &user, filter).await?;
    Ok(Json(CustomerList {
        total: page.total,
        total_capped: page.total_capped,
        page: page.page,
        per_page: page.per_page,
        items: page.items.into_iter().map(|c| CustomerView::new(c, &state)).collect(),
    }))
}

/// Creates a customer; its code (`KH` + 6 digits) is assigned.
#[utoipa::path(post, path = "/api/v1/customers", tag = "customers", request_body = CustomerInput, security(("bearer" = [])),
    responses((status = 201, body = CustomerView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, description = "a field was refused; `errors` names it", body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Json(input): Json<CustomerInput>,
) -> AppResult<(StatusCode, Json<CustomerView>)> {
    let c = svc::create(&state, &user, input, ip).await?;
    Ok((StatusCode::CREATED, Json(CustomerView::new(c, &state))))
}

/// One customer.
#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = CustomerView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<Json<CustomerView>> {
    Ok(Json(CustomerView::new(svc::get(&state, &user, id).await?, &state)))
}

/// Replaces a customer's fields (every field; absent ones are cleared).
#[utoipa::path(put, path = "/api/v1/customers/{id}", tag = "customers", params(("id" = i64, Path)), request_body = CustomerInput,
    security(("bearer" = [])),
    responses((status = 200, body = CustomerView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    Json(input): Json<CustomerInput>,
) -> AppResult<Json<CustomerView>> {
    Ok(Json(CustomerView::new(svc::update(&state, &user, id, input, ip).await?, &state)))
}

/// Deletes a customer (supervisors and admins).
#[utoipa::path(delete, path = "/api/v1/customers/{id}", tag = "customers", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    svc::delete(&state, &user, id, ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    pub field: PersonalField,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevealResponse {
    pub field: PersonalField,
    pub value: Option<String>,
}

/// Reveals one personal field in clear. Every reveal is written to the audit log.
#[utoipa::path(post, path = "/api/v1/customers/{id}/reveal", tag = "customers", params(("id" = i64, Path)),
    request_body = RevealRequest, security(("bearer" = [])),
    responses((status = 200, body = RevealResponse), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn reveal(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    Json(req): Json<RevealRequest>,
) -> AppResult<Json<RevealResponse>> {
    let value = svc::reveal(&state, &user, id, req.field, ip).await?;
    Ok(Json(RevealResponse { field: req.field, value }))
}
