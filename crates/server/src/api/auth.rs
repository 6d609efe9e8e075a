use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use guanxi_domain::Lang;
use guanxi_store::users;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::json::Json;
use super::users::UserView;
use crate::auth::{ApiUser, bearer, login, random_token, sha256_hex};
use crate::error::{AppError, AppResult, Problem};
use crate::lang::ReqLang;
use crate::state::AppState;
use crate::web::ClientIp;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub email: String,
    pub password: String,
    /// A label for the token (shown to the user later).
    #[serde(default)]
    pub name: Option<String>,
    /// The 6-digit code of the user's authenticator app, or a recovery
    /// code: required when the user has two-factor sign-in on.
    #[serde(default)]
    pub code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// RFC 3339 instant.
    pub expires_at: String,
}

fn problem(status: StatusCode, lang: Lang, detail: &str, field: Option<(&str, &str)>) -> Response {
    let p = Problem {
        kind: "about:blank".into(),
        title: match status {
            StatusCode::UNAUTHORIZED => AppError::Unauthorized.title(lang),
            StatusCode::FORBIDDEN => AppError::Forbidden.title(lang),
            StatusCode::UNPROCESSABLE_ENTITY => AppError::Invalid(Default::default()).title(lang),
            StatusCode::TOO_MANY_REQUESTS => lang.pick("登录尝试过多", "Too many sign-in attempts").into(),
            _ => status.canonical_reason().unwrap_or("error").into(),
        },
        status: status.as_u16(),
        detail: Some(detail.into()),
        errors: field
            .map(|(f, code)| {
                vec![crate::error::FieldProblem { field: f.into(), code: code.into(), message: detail.into() }]
            })
            .unwrap_or_default(),
    };
    let mut r = (status, serde_json::to_vec(&p).unwrap_or_default()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    if status == StatusCode::TOO_MANY_REQUESTS {
        let secs = (login::WINDOW_MINUTES * 60).to_string();
        if let Ok(v) = HeaderValue::from_str(&secs) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"guanxi\""));
    }
    r
}

/// Exchanges an email and password (and, with two-factor on, a code) for
/// an API token. Failed attempts count towards the lockout: 5 for an
/// account or 20 from an address within 15 minutes refuse further attempts
/// for 15 minutes (429).
#[utoipa::path(
    post, path = "/api/v1/auth/token", tag = "auth", request_body = TokenRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "wrong email, password or code", body = crate::error::Problem),
        (status = 403, description = "the role requires two-factor sign-in, not set up yet", body = crate::error::Problem),
        (status = 422, description = "a two-factor code is required", body = crate::error::Problem),
        (status = 429, description = "too many failed attempts", body = crate::error::Problem)
    )
)]
pub async fn create_token(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ClientIp(ip): ClientIp,
    Json(req): Json<TokenRequest>,
) -> AppResult<Response> {
    let email = req.email.trim().to_string();
    let user = match login::check_password(&state, &email, req.password, ip.as_deref(), "api").await? {
        Ok(u) => u,
        Err(r) => return Ok(problem(r.status(), lang, r.message(lang), None)),
    };
    let (has_totp, required) = login::second_factor(&state, &user).await?;
    if has_totp {
        let Some(code) = req.code.as_deref().filter(|c| !c.trim().is_empty()) else {
            let msg = lang.pick(
                "需要两步验证码（身份验证器应用中的 6 位数字或恢复码）",
                "A two-factor code is required (the 6 digits of the authenticator app, or a recovery code)",
            );
            return Ok(problem(StatusCode::UNPROCESSABLE_ENTITY, lang, msg, Some(("code", "required"))));
        };
        if let Err(r) = login::check_code(&state, &user, code, ip.as_deref()).await? {
            return Ok(problem(r.status(), lang, r.message(lang), None));
        }
    } else if required {
        let msg = lang.pick(
            "你的角色要求两步验证：请先在网页上登录并完成设置（账号安全）",
            "Your role requires two-factor sign-in: sign in on the web and set it up first (Account security)",
        );
        login::record(
            &state,
            "login_refused",
            Some(user.id),
            Some(user.email.clone()),
            ip,
            "api: no two-factor".into(),
        )
        .await?;
        return Ok(problem(StatusCode::FORBIDDEN, lang, msg, None));
    }
    login::record(&state, "login_ok", Some(user.id), Some(user.email.clone()), ip, "api".into()).await?;
    let token = random_token();
    let token_hash = sha256_hex(&token);
    let now = state.clock.now();
    let expires = now
        .checked_add(jiff::SignedDuration::from_hours(24 * state.config.token_days))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let name = req.name.unwrap_or_else(|| "api".into()).chars().take(50).collect::<String>();
    state.db.write(move |c| users::create_token(c, user.id, &token_hash, &name, now, expires)).await?;
    Ok(Json(TokenResponse { token, expires_at: expires.to_string() }).into_response())
}

/// The user behind the token.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = crate::error::Problem)))]
pub async fn me(ApiUser(user): ApiUser) -> Json<UserView> {
    Json(user.into())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Names the session to end it.
    pub handle: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub expires_at: String,
    /// True for the token this request was made with.
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MySessions {
    /// Browser sessions, most recently active first.
    pub sessions: Vec<SessionView>,
    pub tokens: Vec<TokenView>,
}

/// The caller's own browser sessions and API tokens.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MySessions), (status = 401, body = crate::error::Problem)))]
pub async fn my_sessions(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    headers: HeaderMap,
) -> AppResult<Json<MySessions>> {
    let now = state.clock.now();
    let idle_since = now
        .checked_sub(jiff::SignedDuration::from_mins(state.config.session_idle_minutes))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let uid = user.id;
    let current = bearer(&headers).map(sha256_hex).unwrap_or_default();
    let (sessions, tokens, current_id) = state
        .db
        .read(move |c| {
            let id: Option<i64> = c
                .query_opt("SELECT id FROM api_tokens WHERE token_hash = $1", guanxi_store::args![current.as_str()])?
                .map(|r| r.get(0))
                .transpose()?;
            Ok((users::list_sessions(c, uid, now, idle_since)?, users::list_tokens(c, uid, now)?, id))
        })
        .await?;
    Ok(Json(MySessions {
        sessions: sessions
            .into_iter()
            .map(|s| SessionView {
                handle: s.handle,
                created_at: s.created_at.to_string(),
                last_seen_at: s.last_seen_at.to_string(),
                expires_at: s.expires_at.to_string(),
                ip: s.ip,
                user_agent: s.user_agent,
            })
            .collect(),
        tokens: tokens
            .into_iter()
            .map(|t| TokenView {
                current: Some(t.id) == current_id,
                id: t.id,
                name: t.name,
                created_at: t.created_at.to_string(),
                expires_at: t.expires_at.to_string(),
            })
            .collect(),
    }))
}

/// Ends one of the caller's browser sessions.
#[utoipa::path(delete, path = "/api/v1/me/sessions/{handle}", tag = "auth", params(("handle" = String, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn end_my_session(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(handle): Path<String>,
) -> AppResult<StatusCode> {
    let uid = user.id;
    if state.db.write(move |c| users::end_session(c, uid, &handle)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound)
    }
}

/// Revokes one of the caller's API tokens (possibly the one in use).
#[utoipa::path(delete, path = "/api/v1/me/tokens/{id}", tag = "auth", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn revoke_my_token(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    let uid = user.id;
    if state.db.write(move |c| users::delete_token(c, uid, id)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SecurityEventView {
    pub id: i64,
    pub at: String,
    /// `login_ok`, `password_ok` (second factor pending), `login_failed`,
    /// `totp_failed`, `login_locked`, `login_refused`, `denied` (a refused
    /// request, 401 or 403), `totp_enabled`, `totp_disabled`, `password_changed`.
    pub kind: String,
    pub user_id: Option<i64>,
    pub email: Option<String>,
    pub ip: Option<String>,
    pub detail: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// Only events of this kind.
    pub kind: Option<String>,
    /// At most this many, newest first (default 200, at most 1000).
    pub limit: Option<i64>,
}

/// Sign-in attempts and refused requests, newest first (admins).
#[utoipa::path(get, path = "/api/v1/security-events", tag = "admin", params(EventQuery), security(("bearer" = [])),
    responses((status = 200, body = [SecurityEventView]), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)))]
pub async fn security_events(
    State(state): State<AppState>,
    _admin: crate::auth::ApiAdmin,
    axum::extract::Query(q): axum::extract::Query<EventQuery>,
) -> AppResult<Json<Vec<SecurityEventView>>> {
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    let kind = q.kind.filter(|k| !k.is_empty());
    let rows = state.db.read(move |c| users::list_events(c, kind.as_deref(), limit)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| SecurityEventView {
                id: r.id,
                at: r.at.to_string(),
                kind: r.kind,
                user_id: r.user_id,
                email: r.email,
                ip: r.ip,
                detail: r.detail,
            })
            .collect(),
    ))
}
