use axum::extract::State;
use guanxi_store::users;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::json::Json;
use super::users::UserView;
use crate::auth::{ApiUser, password, random_token, sha256_hex};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub email: String,
    pub password: String,
    /// A label for the token (shown to the user later).
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// RFC 3339 instant.
    pub expires_at: String,
}

/// Exchanges an email and password for an API token.
#[utoipa::path(
    post, path = "/api/v1/auth/token", tag = "auth", request_body = TokenRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "wrong email or password", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)
    )
)]
pub async fn create_token(
    State(state): State<AppState>,
    Json(req): Json<TokenRequest>,
) -> AppResult<Json<TokenResponse>> {
    let email = req.email.trim().to_string();
    let found = state.db.read(move |c| users::find_for_login(c, &email)).await?;
    let (user, hash) = match found {
        Some((u, h)) if u.active => (Some(u), h),
        _ => (None, password::dummy_hash().to_string()),
    };
    let ok = password::verify(hash, req.password).await;
    let user = match (user, ok) {
        (Some(u), true) => u,
        _ => return Err(AppError::Unauthorized),
    };
    let token = random_token();
    let token_hash = sha256_hex(&token);
    let now = state.clock.now();
    let expires = now
        .checked_add(jiff::SignedDuration::from_hours(24 * state.config.token_days))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let name = req.name.unwrap_or_else(|| "api".into()).chars().take(50).collect::<String>();
    state.db.write(move |c| users::create_token(c, user.id, &token_hash, &name, now, expires)).await?;
    Ok(Json(TokenResponse { token, expires_at: expires.to_string() }))
}

/// The user behind the token.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = crate::error::Problem)))]
pub async fn me(ApiUser(user): ApiUser) -> Json<UserView> {
    Json(user.into())
}
