//! Customer 360 over the API: contacts, orders, behaviour events,
//! communication records, action items and the timeline (SPEC C2–C7).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use guanxi_domain::Issue;
use guanxi_domain::communication::{ActionStatus, CommunicationInput};
use guanxi_domain::contact::ContactInput;
use guanxi_domain::order::OrderInput;
use guanxi_store::communications::{self, ActionItem};
use guanxi_store::contacts::Contact;
use guanxi_store::orders;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::json::Json;
use crate::auth::ApiUser;
use crate::error::{AppError, AppResult, Problem};
use crate::service::customer_scope;
use crate::service::relationship::{self as svc, EventInput};
use crate::state::AppState;

/// A contact person; personal fields masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactView {
    pub id: i64,
    pub customer_id: i64,
    pub name: String,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub wechat: Option<String>,
    pub has_birthday: bool,
    pub has_address: bool,
    pub decision_maker: bool,
}

impl From<Contact> for ContactView {
    fn from(c: Contact) -> Self {
        Self {
            id: c.id,
            customer_id: c.customer_id,
            name: c.name,
            title: c.title,
            phone: c.phone_masked,
            email: c.email_masked,
            wechat: c.wechat_masked,
            has_birthday: c.has_birthday,
            has_address: c.has_address,
            decision_maker: c.decision_maker,
        }
    }
}

/// Contacts of a customer.
#[utoipa::path(get, path = "/api/v1/customers/{id}/contacts", tag = "customers", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = [ContactView]), (status = 404, body = Problem)))]
pub async fn list_contacts(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<ContactView>>> {
    Ok(Json(svc::list_contacts(&state, &user, id).await?.into_iter().map(Into::into).collect()))
}

/// Adds a contact person.
#[utoipa::path(post, path = "/api/v1/customers/{id}/contacts", tag = "customers", params(("id" = i64, Path)),
    request_body = ContactInput, security(("bearer" = [])),
    responses((status = 201, body = ContactView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_contact(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    crate::web::ClientIp(ip): crate::web::ClientIp,
    Path(id): Path<i64>,
    Json(input): Json<ContactInput>,
) -> AppResult<(StatusCode, Json<ContactView>)> {
    Ok((StatusCode::CREATED, Json(svc::create_contact(&state, &user, id, input, ip).await?.into())))
}

/// Replaces a contact's fields.
#[utoipa::path(put, path = "/api/v1/contacts/{id}", tag = "customers", params(("id" = i64, Path)), request_body = ContactInput,
    security(("bearer" = [])), responses((status = 200, body = ContactView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_contact(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    crate::web::ClientIp(ip): crate::web::ClientIp,
    Path(id): Path<i64>,
    Json(input): Json<ContactInput>,
) -> AppResult<Json<ContactView>> {
    Ok(Json(svc::update_contact(&state, &user, id, input, ip).await?.into()))
}

/// Deletes a contact.
#[utoipa::path(delete, path = "/api/v1/contacts/{id}", tag = "customers", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_contact(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    crate::web::ClientIp(ip): crate::web::ClientIp,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    svc::delete_contact(&state, &user, id, ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderCreated {
    /// The new order's id; null when an order with this external id was already recorded.
    pub id: Option<i64>,
    pub duplicate: bool,
}

/// Records an order (idempotent by `external_id`).
#[utoipa::path(post, path = "/api/v1/customers/{id}/orders", tag = "customers", params(("id" = i64, Path)),
    request_body = OrderInput, security(("bearer" = [])),
    responses((status = 201, body = OrderCreated), (status = 200, description = "already recorded", body = OrderCreated),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_order(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    crate::web::ClientIp(ip): crate::web::ClientIp,
    Path(id): Path<i64>,
    Json(input): Json<OrderInput>,
) -> AppResult<(StatusCode, Json<OrderCreated>)> {
    let created = svc::create_order(&state, &user, id, input, ip).await?;
    let status = if created.is_some() { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(OrderCreated { id: created, duplicate: created.is_none() })))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub id: i64,
    pub ordered_on: String,
    /// Yuan with two decimals, as text.
    pub amount: String,
    pub amount_fen: i64,
    pub product: Option<String>,
    pub channel: Option<String>,
    pub external_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrdersView {
    pub spend_12m_fen: i64,
    pub orders_12m: i64,
    pub orders_total: i64,
    pub spend_total_fen: i64,
    pub last_order_on: Option<String>,
    /// The 50 most recent.
    pub recent: Vec<OrderView>,
}

/// A customer's order summary and most recent orders.
#[utoipa::path(get, path = "/api/v1/customers/{id}/orders", tag = "customers", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = OrdersView), (status = 404, body = Problem)))]
pub async fn list_orders(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<Json<OrdersView>> {
    let today = state.today();
    let (summary, recent) = state
        .db
        .read(move |c| {
            let scope = customer_scope(c, &user)?;
            guanxi_store::customers::get(c, &scope, id)?;
            Ok((orders::summary(c, id, today)?, orders::recent(c, id, 50)?))
        })
        .await?;
    Ok(Json(OrdersView {
        spend_12m_fen: summary.spend_12m.fen(),
        orders_12m: summary.orders_12m,
        orders_total: summary.orders_total,
        spend_total_fen: summary.spend_total.fen(),
        last_order_on: summary.last_order_on.map(|d| d.to_string()),
        recent: recent
            .into_iter()
            .map(|o| OrderView {
                id: o.id,
                ordered_on: o.ordered_on.to_string(),
                amount: o.amount.to_string().replace(',', ""),
                amount_fen: o.amount.fen(),
                product: o.product,
                channel: o.channel,
                external_id: o.external_id,
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// Up to 10,000 events.
    pub events: Vec<EventInput>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventBatchResult {
    pub received: usize,
    /// Events not seen before (re-sent event ids are ignored).
    pub stored: u64,
}

/// Ingests behaviour events in a batch (supervisors, admins and integration accounts).
#[utoipa::path(post, path = "/api/v1/events", tag = "customers", request_body = EventBatch, security(("bearer" = [])),
    responses((status = 200, body = EventBatchResult), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn ingest_events(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(batch): Json<EventBatch>,
) -> AppResult<Json<EventBatchResult>> {
    let (received, stored) = svc::ingest_events(&state, &user, batch.events).await?;
    Ok(Json(EventBatchResult { received, stored }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    pub id: i64,
}

/// Records a communication (沟通记录) with its action items.
#[utoipa::path(post, path = "/api/v1/customers/{id}/communications", tag = "customers", params(("id" = i64, Path)),
    request_body = CommunicationInput, security(("bearer" = [])),
    responses((status = 201, body = Created), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_communication(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    crate::web::ClientIp(ip): crate::web::ClientIp,
    Path(id): Path<i64>,
    Json(input): Json<CommunicationInput>,
) -> AppResult<(StatusCode, Json<Created>)> {
    let id = svc::create_communication(&state, &user, id, input, ip).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActionItemView {
    pub id: i64,
    pub customer_id: i64,
    pub customer_code: String,
    pub customer_name: String,
    pub content: String,
    pub owner_id: i64,
    pub owner_name: Option<String>,
    pub due_at: String,
    /// `open`, `done` or `waiting_customer`.
    pub status: String,
    pub overdue: bool,
}

fn item_view(a: ActionItem, now: jiff::Timestamp) -> ActionItemView {
    ActionItemView {
        overdue: guanxi_domain::communication::is_overdue(a.status, a.due_at, now),
        id: a.id,
        customer_id: a.customer_id,
        customer_code: a.customer_code,
        customer_name: a.customer_name,
        content: a.content,
        owner_id: a.owner_id,
        owner_name: a.owner_name,
        due_at: a.due_at.to_string(),
        status: a.status.code().into(),
    }
}

/// The caller's unfinished action items, soonest due first.
#[utoipa::path(get, path = "/api/v1/action-items", tag = "customers", security(("bearer" = [])),
    responses((status = 200, body = [ActionItemView])))]
pub async fn my_action_items(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> AppResult<Json<Vec<ActionItemView>>> {
    let now = state.clock.now();
    let items = state.db.read(move |c| communications::open_items_of(c, user.id, 200)).await?;
    Ok(Json(items.into_iter().map(|a| item_view(a, now)).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// `open`, `done` or `waiting_customer`.
    pub status: String,
}

/// Changes an action item's status.
#[utoipa::path(patch, path = "/api/v1/action-items/{id}", tag = "customers", params(("id" = i64, Path)),
    request_body = StatusChange, security(("bearer" = [])),
    responses((status = 200, body = ActionItemView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set_action_status(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    crate::web::ClientIp(ip): crate::web::ClientIp,
    Path(id): Path<i64>,
    Json(change): Json<StatusChange>,
) -> AppResult<Json<ActionItemView>> {
    let status = ActionStatus::parse(&change.status).map_err(|i| AppError::field("status", i))?;
    let item = svc::set_action_status(&state, &user, id, status, ip).await?;
    Ok(Json(item_view(item, state.clock.now())))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntryView {
    pub id: i64,
    pub at: String,
    /// `customer`, `contact`, `order`, `communication`, `action_item`.
    pub kind: String,
    /// What happened, as a stable code such as `communication.phone` or `action_item.done`.
    pub event: String,
    pub ref_id: Option<i64>,
    pub detail: Option<String>,
    pub actor_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelinePage {
    pub items: Vec<TimelineEntryView>,
    /// Pass as `before` to get the next page; null on the last page.
    pub next: Option<String>,
}

/// A timeline request: kinds to show, the cursor, the page size.
#[derive(Debug, Clone, Default)]
pub struct TimelineQuery {
    pub kinds: Vec<String>,
    pub before: Option<(jiff::Timestamp, i64)>,
    pub limit: i64,
}

/// Parses the timeline query: `kind` (comma-separated), `before` (`<ms>:<id>`), `limit` (1–200, default 50).
pub fn parse_timeline_query(raw: Option<&str>) -> AppResult<TimelineQuery> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("query string: {e}")))?;
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim()).filter(|v| !v.is_empty());
    let kinds = get("kind")
        .map(|k| k.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let before = match get("before") {
        None => None,
        Some(b) => {
            let parsed = b.split_once(':').and_then(|(ms, id)| {
                Some((jiff::Timestamp::from_millisecond(ms.parse().ok()?).ok()?, id.parse::<i64>().ok()?))
            });
            Some(parsed.ok_or_else(|| AppError::field("before", Issue::NotAllowed))?)
        }
    };
    let limit = match get("limit") {
        None => 50,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| AppError::field("limit", Issue::OutOfRange))?,
    };
    Ok(TimelineQuery { kinds, before, limit })
}

/// The customer's timeline, newest first, filterable by kind.
#[utoipa::path(get, path = "/api/v1/customers/{id}/timeline", tag = "customers",
    params(("id" = i64, Path), ("kind" = Option<String>, Query, description = "comma-separated kinds"),
        ("before" = Option<String>, Query, description = "cursor from `next`"), ("limit" = Option<i64>, Query)),
    security(("bearer" = [])), responses((status = 200, body = TimelinePage), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn timeline(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    RawQuery(raw): RawQuery,
) -> AppResult<Json<TimelinePage>> {
    let TimelineQuery { kinds, before, limit } = parse_timeline_query(raw.as_deref())?;
    let entries = svc::timeline_page(&state, &user, id, kinds, before, limit).await?;
    let next = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| format!("{}:{}", e.at.as_millisecond(), e.id)))
        .flatten();
    Ok(Json(TimelinePage {
        items: entries
            .into_iter()
            .map(|e| TimelineEntryView {
                id: e.id,
                at: e.at.to_string(),
                kind: e.kind,
                event: e.title,
                ref_id: e.ref_id,
                detail: e.body,
                actor_name: e.actor_name,
            })
            .collect(),
        next,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactRevealRequest {
    pub field: svc::ContactField,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactRevealResponse {
    pub field: svc::ContactField,
    pub value: Option<String>,
}

/// Reveals one personal field of a contact in clear; every reveal is audited.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/reveal", tag = "customers", params(("id" = i64, Path)),
    request_body = ContactRevealRequest, security(("bearer" = [])),
    responses((status = 200, body = ContactRevealResponse), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn reveal_contact(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    crate::web::ClientIp(ip): crate::web::ClientIp,
    Path(id): Path<i64>,
    Json(req): Json<ContactRevealRequest>,
) -> AppResult<Json<ContactRevealResponse>> {
    let mut out = svc::reveal_contact(&state, &user, id, vec![req.field], ip).await?;
    let (field, value) = out.pop().ok_or_else(|| AppError::Internal("no field revealed".into()))?;
    Ok(Json(ContactRevealResponse { field, value }))
}
