//! `/api/v1/users` and `/api/v1/groups`: staff administration (admins only).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use guanxi_domain::user::UserInput;
use guanxi_store::users::{self, Group, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::json::Json;
use crate::auth::ApiAdmin;
use crate::error::{AppResult, Problem};
use crate::service::users as svc;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub group_id: Option<i64>,
    pub group_name: Option<String>,
    pub active: bool,
    pub certified: bool,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role.code().into(),
            group_id: u.group_id,
            group_name: u.group_name,
            active: u.active,
            certified: u.certified,
        }
    }
}

/// All staff accounts.
#[utoipa::path(get, path = "/api/v1/users", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [UserView]), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list(State(state): State<AppState>, _admin: ApiAdmin) -> AppResult<Json<Vec<UserView>>> {
    let all = state.db.read(users::list).await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}

/// Creates a staff account.
#[utoipa::path(post, path = "/api/v1/users", tag = "admin", request_body = UserInput, security(("bearer" = [])),
    responses((status = 201, body = UserView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    Json(input): Json<UserInput>,
) -> AppResult<(StatusCode, Json<UserView>)> {
    Ok((StatusCode::CREATED, Json(svc::create(&state, &admin, input).await?.into())))
}

/// Updates a staff account. A new password, or disabling, ends all of the user's sessions and tokens.
#[utoipa::path(put, path = "/api/v1/users/{id}", tag = "admin", params(("id" = i64, Path)), request_body = UserInput,
    security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    Path(id): Path<i64>,
    Json(input): Json<UserInput>,
) -> AppResult<Json<UserView>> {
    Ok(Json(svc::update(&state, &admin, id, input).await?.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupView {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub members: i64,
}

impl From<Group> for GroupView {
    fn from(g: Group) -> Self {
        Self { id: g.id, name: g.name, kind: g.kind.code().into(), members: g.members }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupInput {
    pub name: String,
    /// `team` (客服小组) or `department` (协作部门).
    pub kind: String,
}

/// Groups and departments.
#[utoipa::path(get, path = "/api/v1/groups", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [GroupView]), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_groups(State(state): State<AppState>, _admin: ApiAdmin) -> AppResult<Json<Vec<GroupView>>> {
    let all = state.db.read(users::list_groups).await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}

/// Creates a group or department.
#[utoipa::path(post, path = "/api/v1/groups", tag = "admin", request_body = GroupInput, security(("bearer" = [])),
    responses((status = 201, body = GroupView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_group(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    Json(input): Json<GroupInput>,
) -> AppResult<(StatusCode, Json<GroupView>)> {
    let id = svc::create_group(&state, &admin, &input.name, &input.kind).await?;
    let groups = state.db.read(users::list_groups).await?;
    let g = groups.into_iter().find(|g| g.id == id).ok_or(crate::error::AppError::NotFound)?;
    Ok((StatusCode::CREATED, Json(g.into())))
}

/// Deletes a group or department; its members keep their accounts, without a group.
#[utoipa::path(delete, path = "/api/v1/groups/{id}", tag = "admin", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_group(
    State(state): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    svc::delete_group(&state, &admin, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
