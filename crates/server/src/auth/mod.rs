//! Who is asking. Pages use a session cookie (with a CSRF token for every
//! form); the API uses bearer tokens from `POST /api/v1/auth/token`.
//! Session ids and tokens are random; only their SHA-256 is stored.

pub mod login;
pub mod password;
pub mod token_cache;
pub mod totp;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use guanxi_store::users::{self, SessionStage, User};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::lang::cookie;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "guanxi_session";

/// 32 random bytes, URL-safe base64.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

pub fn sha256_hex(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(s.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// The user behind an API request's bearer token.
#[derive(Debug, Clone)]
pub struct ApiUser(pub User);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // Already resolved by the authorisation middleware for this request.
        if let Some(u) = parts.extensions.get::<ApiUser>() {
            return Ok(u.clone());
        }
        let token = bearer(&parts.headers).ok_or(AppError::Unauthorized)?;
        let hash = sha256_hex(token);
        let now = state.clock.now();
        // Noted before the read: a change committed after it makes the entry stale.
        let epoch = state.db.users_epoch();
        if let Some(user) = state.api_tokens.get(&hash, now, epoch) {
            return Ok(ApiUser(user));
        }
        let key = hash.clone();
        let (user, expires_at) =
            state.db.read(move |c| users::find_token_user_until(c, &hash, now)).await?.ok_or(AppError::Unauthorized)?;
        state.api_tokens.put(key, user.clone(), expires_at, epoch);
        Ok(ApiUser(user))
    }
}

/// An API caller who is an administrator.
#[derive(Debug, Clone)]
pub struct ApiAdmin(pub User);

impl FromRequestParts<AppState> for ApiAdmin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ApiUser(user) = ApiUser::from_request_parts(parts, state).await?;
        if user.role.can_administer_users() { Ok(ApiAdmin(user)) } else { Err(AppError::Forbidden) }
    }
}

/// The logged-in user of a page request, with the session's CSRF token.
#[derive(Debug, Clone)]
pub struct PageUser {
    pub user: User,
    pub csrf: String,
    pub session_hash: String,
}

impl PageUser {
    /// Checks the CSRF token a form sent back.
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), AppError> {
        match sent {
            Some(t) if constant_time_eq(t.as_bytes(), self.csrf.as_bytes()) => Ok(()),
            _ => Err(AppError::Forbidden),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Not logged in: go to the login page and come back afterwards; or
/// signed in with the password only: give the second factor, or set it up.
#[derive(Debug)]
pub enum PageRejection {
    Login(String),
    Error(AppError),
    SecondFactor(String),
    Enrol,
}

impl IntoResponse for PageRejection {
    fn into_response(self) -> Response {
        match self {
            PageRejection::Login(next) => {
                let q = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
                Redirect::to(&format!("/login?{q}")).into_response()
            }
            PageRejection::Error(e) => e.into_response(),
            PageRejection::SecondFactor(next) => {
                let q = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
                Redirect::to(&format!("/login/totp?{q}")).into_response()
            }
            PageRejection::Enrol => Redirect::to(ENROL_PATH).into_response(),
        }
    }
}

/// Where a user whose role requires two-factor sets it up.
pub const ENROL_PATH: &str = "/account/security";

/// The session of a request's cookie, at whatever stage, with its id hash.
/// Activity is recorded (at most once a minute) for the idle timeout.
pub async fn current_session(parts: &Parts, state: &AppState) -> Result<Option<(users::Session, String)>, AppError> {
    let Some(sid) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let hash = sha256_hex(sid);
    let now = state.clock.now();
    let idle_since = now
        .checked_sub(jiff::SignedDuration::from_mins(state.config.session_idle_minutes))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let h = hash.clone();
    let Some(session) = state.db.read(move |c| users::find_session(c, &h, now, idle_since)).await? else {
        return Ok(None);
    };
    if now.duration_since(session.last_seen_at) >= jiff::SignedDuration::from_mins(1) {
        let h = hash.clone();
        state.db.write(move |c| users::touch_session(c, &h, now)).await?;
    }
    Ok(Some((session, hash)))
}

/// A session at any stage: the second-factor and set-up pages use it.
#[derive(Debug, Clone)]
pub struct AnySession {
    pub user: User,
    pub csrf: String,
    pub session_hash: String,
    pub stage: SessionStage,
}

impl AnySession {
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), AppError> {
        match sent {
            Some(t) if constant_time_eq(t.as_bytes(), self.csrf.as_bytes()) => Ok(()),
            _ => Err(AppError::Forbidden),
        }
    }
}

impl FromRequestParts<AppState> for AnySession {
    type Rejection = PageRejection;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let next = parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into());
        match current_session(parts, state).await.map_err(PageRejection::Error)? {
            Some((s, hash)) => Ok(AnySession { user: s.user, csrf: s.csrf_token, session_hash: hash, stage: s.stage }),
            None => Err(PageRejection::Login(next)),
        }
    }
}

impl FromRequestParts<AppState> for PageUser {
    type Rejection = PageRejection;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // Already resolved by the authorisation middleware for this request.
        if let Some(u) = parts.extensions.get::<PageUser>() {
            return Ok(u.clone());
        }
        let next = parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into());
        match current_session(parts, state).await.map_err(PageRejection::Error)? {
            Some((s, hash)) => match s.stage {
                SessionStage::Full => Ok(PageUser { user: s.user, csrf: s.csrf_token, session_hash: hash }),
                SessionStage::Totp => Err(PageRejection::SecondFactor(next)),
                SessionStage::Enrol => Err(PageRejection::Enrol),
            },
            None => Err(PageRejection::Login(next)),
        }
    }
}

/// A page caller who is an administrator.
#[derive(Debug, Clone)]
pub struct PageAdmin(pub PageUser);

impl FromRequestParts<AppState> for PageAdmin {
    type Rejection = PageRejection;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let u = PageUser::from_request_parts(parts, state).await?;
        if u.user.role.can_administer_users() {
            Ok(PageAdmin(u))
        } else {
            Err(PageRejection::Error(AppError::Forbidden))
        }
    }
}

/// The session cookie header value.
pub fn session_cookie(value: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}
