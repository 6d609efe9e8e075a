//! `/api/v1/ticket-settings`: the SLA policy, routing rules, escalation
//! paths and the groups' service settings (SPEC T2–T4). Everyone reads;
//! administrators change.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use guanxi_domain::ticket::sla::SlaPolicy;
use guanxi_store::escalation::StoredPath;
use guanxi_store::routing::{GroupSettings, StoredRule};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::json::Json;
use crate::auth::ApiUser;
use crate::error::{AppResult, Problem};
use crate::service::tickets::settings::{self as svc, PathInput, RuleInput};
use crate::state::AppState;

/// The SLA policy: targets in minutes of working time per priority, the
/// progress-update and revisit targets, the warning share, extra rules by
/// channel/type/priority/tier (the earliest deadline wins), and the
/// high-value service (raised priority, 7×12 schedule).
#[utoipa::path(get, path = "/api/v1/ticket-settings/sla", tag = "tickets", security(("bearer" = [])),
    responses((status = 200, body = SlaPolicy), (status = 401, body = Problem)))]
pub async fn sla(State(state): State<AppState>, ApiUser(_u): ApiUser) -> AppResult<Json<SlaPolicy>> {
    Ok(Json(svc::policy(&state).await?))
}

/// Replaces the SLA policy (administrators). Applies to tickets created
/// from now on. Errors name the field (`resolution.urgent`, `rules[0].minutes`).
#[utoipa::path(put, path = "/api/v1/ticket-settings/sla", tag = "tickets", request_body = SlaPolicy, security(("bearer" = [])),
    responses((status = 200, body = SlaPolicy), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn save_sla(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(policy): Json<SlaPolicy>,
) -> AppResult<Json<SlaPolicy>> {
    Ok(Json(svc::save_policy(&state, &user, policy).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleView {
    pub id: i64,
    pub name: String,
    pub position: i64,
    pub enabled: bool,
    #[schema(value_type = Object)]
    pub conditions: serde_json::Value,
    pub group_id: i64,
    pub group_name: String,
    pub skill: Option<String>,
}

fn rule_view(r: StoredRule) -> RuleView {
    RuleView {
        id: r.id,
        name: r.name,
        position: r.position,
        enabled: r.enabled,
        conditions: serde_json::to_value(&r.conditions).unwrap_or_default(),
        group_id: r.group_id,
        group_name: r.group_name,
        skill: r.skill,
    }
}

/// The routing rules, in the order they are tried.
#[utoipa::path(get, path = "/api/v1/ticket-settings/routing-rules", tag = "tickets", security(("bearer" = [])),
    responses((status = 200, body = Vec<RuleView>)))]
pub async fn rules(State(state): State<AppState>, ApiUser(_u): ApiUser) -> AppResult<Json<Vec<RuleView>>> {
    Ok(Json(svc::rules(&state).await?.into_iter().map(rule_view).collect()))
}

/// Adds a routing rule (administrators), e.g. `{"name": "VIP 投诉",
/// "conditions": {"tiers": ["high"], "types": ["complaint"]}, "group_id": 3}`.
/// Conditions: `tiers`, `tags`, `types`, `categories`, `channels`,
/// `priorities`, `keywords` — each "one of", all must hold.
#[utoipa::path(post, path = "/api/v1/ticket-settings/routing-rules", tag = "tickets", request_body = RuleInput, security(("bearer" = [])),
    responses((status = 201, body = RuleView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_rule(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(input): Json<RuleInput>,
) -> AppResult<(StatusCode, Json<RuleView>)> {
    Ok((StatusCode::CREATED, Json(rule_view(svc::save_rule(&state, &user, None, input).await?))))
}

#[utoipa::path(put, path = "/api/v1/ticket-settings/routing-rules/{id}", tag = "tickets", params(("id" = i64, Path)),
    request_body = RuleInput, security(("bearer" = [])),
    responses((status = 200, body = RuleView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_rule(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(input): Json<RuleInput>,
) -> AppResult<Json<RuleView>> {
    Ok(Json(rule_view(svc::save_rule(&state, &user, Some(id), input).await?)))
}

#[utoipa::path(delete, path = "/api/v1/ticket-settings/routing-rules/{id}", tag = "tickets", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_rule(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    svc::delete_rule(&state, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PathView {
    pub id: i64,
    pub name: String,
    pub position: i64,
    pub enabled: bool,
    #[schema(value_type = Object)]
    pub conditions: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    pub steps: serde_json::Value,
}

fn path_view(p: StoredPath) -> PathView {
    PathView {
        id: p.id,
        name: p.name,
        position: p.position,
        enabled: p.enabled,
        conditions: serde_json::to_value(&p.conditions).unwrap_or_default(),
        steps: serde_json::to_value(&p.steps).unwrap_or_default(),
    }
}

/// The escalation paths, in the order they are tried (the seeded 主管升级
/// applies to every ticket and comes last).
#[utoipa::path(get, path = "/api/v1/ticket-settings/escalation-paths", tag = "tickets", security(("bearer" = [])),
    responses((status = 200, body = Vec<PathView>)))]
pub async fn paths(State(state): State<AppState>, ApiUser(_u): ApiUser) -> AppResult<Json<Vec<PathView>>> {
    Ok(Json(svc::paths(&state).await?.into_iter().map(path_view).collect()))
}

/// Adds an escalation path (administrators), e.g. product issues →
/// 技术支持 (respond ≤ 120 min) → 产品经理 (≤ 1440 min):
/// `{"name": "产品问题", "conditions": {"categories": ["product"]}, "steps": [{"name": "技术支持",
/// "target": {"kind": "user", "user_id": 7}, "respond_minutes": 120}, …]}`. A step's
/// target is a user or `{"kind": "supervisor"}` (the ticket group's supervisor).
#[utoipa::path(post, path = "/api/v1/ticket-settings/escalation-paths", tag = "tickets", request_body = PathInput,
    security(("bearer" = [])),
    responses((status = 201, body = PathView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_path(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(input): Json<PathInput>,
) -> AppResult<(StatusCode, Json<PathView>)> {
    Ok((StatusCode::CREATED, Json(path_view(svc::save_path(&state, &user, None, input).await?))))
}

#[utoipa::path(put, path = "/api/v1/ticket-settings/escalation-paths/{id}", tag = "tickets", params(("id" = i64, Path)),
    request_body = PathInput, security(("bearer" = [])),
    responses((status = 200, body = PathView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_path(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(input): Json<PathInput>,
) -> AppResult<Json<PathView>> {
    Ok(Json(path_view(svc::save_path(&state, &user, Some(id), input).await?)))
}

#[utoipa::path(delete, path = "/api/v1/ticket-settings/escalation-paths/{id}", tag = "tickets", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_path(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    svc::delete_path(&state, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TicketGroupView)]
pub struct GroupView {
    pub group_id: i64,
    pub group_name: String,
    /// The work schedule its tickets' clocks count on.
    pub schedule_code: String,
    /// `least_loaded` or `round_robin`.
    pub assign_mode: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupsView {
    pub groups: Vec<GroupView>,
    /// Where tickets go when no rule matches (`null`: the creator's group).
    pub default_group_id: Option<i64>,
}

fn group_view(g: GroupSettings) -> GroupView {
    GroupView {
        group_id: g.group_id,
        group_name: g.group_name,
        schedule_code: g.schedule_code,
        assign_mode: g.assign_mode.code().into(),
    }
}

/// Every group's service settings, and the default group.
#[utoipa::path(get, path = "/api/v1/ticket-settings/groups", tag = "tickets", security(("bearer" = [])),
    responses((status = 200, body = GroupsView)))]
pub async fn groups(State(state): State<AppState>, ApiUser(_u): ApiUser) -> AppResult<Json<GroupsView>> {
    let (groups, default_group_id) = svc::groups(&state).await?;
    Ok(Json(GroupsView { groups: groups.into_iter().map(group_view).collect(), default_group_id }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TicketGroupInput)]
pub struct GroupInput {
    /// `default`, `7x24`, `7x12`, … (see `/api/v1/calendar/schedules`).
    pub schedule_code: String,
    /// `least_loaded` or `round_robin`.
    pub assign_mode: String,
}

/// Sets a group's schedule and assignment mode (administrators).
#[utoipa::path(put, path = "/api/v1/ticket-settings/groups/{id}", tag = "tickets", params(("id" = i64, Path)),
    request_body = GroupInput, security(("bearer" = [])),
    responses((status = 200, body = GroupView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn save_group(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(input): Json<GroupInput>,
) -> AppResult<Json<GroupView>> {
    Ok(Json(group_view(svc::save_group(&state, &user, id, &input.schedule_code, &input.assign_mode).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultGroupInput {
    pub group_id: Option<i64>,
}

/// Sets the group tickets go to when no routing rule matches (administrators).
#[utoipa::path(put, path = "/api/v1/ticket-settings/default-group", tag = "tickets", request_body = DefaultGroupInput,
    security(("bearer" = [])), responses((status = 204), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn set_default_group(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(input): Json<DefaultGroupInput>,
) -> AppResult<StatusCode> {
    svc::set_default_group(&state, &user, input.group_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
