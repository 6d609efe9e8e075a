//! Signing in (SPEC S1, S4), shared by the login page and the token API:
//! rate limiting and lockout, the password, the second factor, and the new
//! session. Every attempt is recorded in `security_events`, and the limits
//! are counted from there, on the application clock.

use axum::http::StatusCode;
use guanxi_domain::Lang;
use guanxi_store::users::{self, NewSession, SecurityEvent, SessionStage, User};
use jiff::{SignedDuration, Timestamp};

use super::{password, random_token, sha256_hex, totp};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The window in which failures count, and so how long a lockout lasts.
pub const WINDOW_MINUTES: i64 = 15;
/// Failed sign-ins (password or code) after which an account is locked.
pub const MAX_ACCOUNT_FAILURES: i64 = 5;
/// Failed sign-ins from one address after which it is refused.
pub const MAX_ADDRESS_FAILURES: i64 = 20;

/// Why a sign-in was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Wrong,
    WrongCode,
    AccountLocked,
    AddressLocked,
}

impl Refusal {
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::Wrong | Refusal::WrongCode => StatusCode::UNAUTHORIZED,
            Refusal::AccountLocked | Refusal::AddressLocked => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    pub fn message(self, lang: Lang) -> &'static str {
        match self {
            Refusal::Wrong => lang.pick("邮箱或密码不正确", "Wrong email or password"),
            Refusal::WrongCode => lang.pick("验证码不正确或已使用", "Wrong or already used code"),
            Refusal::AccountLocked => lang.pick(
                "登录失败次数过多，该账号已暂时锁定，请 15 分钟后再试",
                "Too many failed sign-ins: this account is locked, try again in 15 minutes",
            ),
            Refusal::AddressLocked => lang.pick(
                "来自该地址的登录失败次数过多，请 15 分钟后再试",
                "Too many failed sign-ins from this address: try again in 15 minutes",
            ),
        }
    }
}

fn window_start(now: Timestamp) -> AppResult<Timestamp> {
    now.checked_sub(SignedDuration::from_mins(WINDOW_MINUTES)).map_err(|e| AppError::Internal(e.to_string()))
}

pub async fn record(
    state: &AppState,
    kind: &'static str,
    user_id: Option<i64>,
    email: Option<String>,
    ip: Option<String>,
    detail: String,
) -> AppResult<()> {
    let now = state.clock.now();
    state
        .db
        .write(move |c| {
            users::record_event(
                c,
                now,
                &SecurityEvent { kind, user_id, email: email.as_deref(), ip: ip.as_deref(), detail },
            )
        })
        .await?;
    Ok(())
}

/// The lockout in force for an account or address, if any.
pub async fn locked(state: &AppState, email: &str, ip: Option<&str>) -> AppResult<Option<Refusal>> {
    let since = window_start(state.clock.now())?;
    let (e, i) = (email.to_string(), ip.map(str::to_string));
    let (by_account, by_address) = state
        .db
        .read(move |c| {
            let a = users::failures_for_email(c, &e, since)?;
            let b = match &i {
                Some(ip) => users::failures_for_ip(c, ip, since)?,
                None => 0,
            };
            Ok((a, b))
        })
        .await?;
    Ok(if by_address >= MAX_ADDRESS_FAILURES {
        Some(Refusal::AddressLocked)
    } else if by_account >= MAX_ACCOUNT_FAILURES {
        Some(Refusal::AccountLocked)
    } else {
        None
    })
}

/// Checks the limits and the password; records the attempt. `channel` is
/// `web` or `api`. An unknown email costs the same time as a known one.
pub async fn check_password(
    state: &AppState,
    email: &str,
    pw: String,
    ip: Option<&str>,
    channel: &str,
) -> AppResult<Result<User, Refusal>> {
    let email = email.trim().to_string();
    if let Some(r) = locked(state, &email, ip).await? {
        record(state, "login_locked", None, Some(email), ip.map(str::to_string), channel.into()).await?;
        return Ok(Err(r));
    }
    let e = email.clone();
    let found = state.db.read(move |c| users::find_for_login(c, &e)).await?;
    let (user, hash) = match found {
        Some((u, h)) if u.active => (Some(u), h),
        _ => (None, password::dummy_hash().to_string()),
    };
    let ok = password::verify(hash, pw).await;
    match user.filter(|_| ok) {
        Some(u) => Ok(Ok(u)),
        None => {
            record(state, "login_failed", None, Some(email.clone()), ip.map(str::to_string), channel.into()).await?;
            // The attempt that reaches the limit already says so.
            Ok(Err(locked(state, &email, ip).await?.unwrap_or(Refusal::Wrong)))
        }
    }
}

/// Whether the user has two-factor set up, and whether their role requires it.
pub async fn second_factor(state: &AppState, user: &User) -> AppResult<(bool, bool)> {
    let id = user.id;
    let st = state.db.read(move |c| users::totp_state(c, id)).await?;
    Ok((st.secret.is_some(), state.config.totp_required_roles.contains(&user.role)))
}

/// Checks a second-factor code: six digits from the authenticator (each
/// time step good once), or an unused recovery code. Records a failure.
pub async fn check_code(state: &AppState, user: &User, code: &str, ip: Option<&str>) -> AppResult<Result<(), Refusal>> {
    if let Some(r) = locked(state, &user.email, ip).await? {
        record(state, "login_locked", Some(user.id), Some(user.email.clone()), ip.map(str::to_string), "code".into())
            .await?;
        return Ok(Err(r));
    }
    let id = user.id;
    let st = state.db.read(move |c| users::totp_state(c, id)).await?;
    let secret = st.secret.as_deref().and_then(|s| state.cipher.decrypt(s).ok());
    let now = state.clock.now();
    let trimmed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let ok = if trimmed.len() == totp::DIGITS as usize && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        match secret.as_deref().and_then(|s| totp::verify(s, &trimmed, now.as_second())) {
            Some(step) => state.db.write(move |c| users::claim_totp_step(c, id, step)).await?,
            None => false,
        }
    } else {
        let h = sha256_hex(&totp::normalise_recovery(code));
        !trimmed.is_empty() && state.db.write(move |c| users::use_recovery_code(c, id, &h, now)).await?
    };
    if ok {
        return Ok(Ok(()));
    }
    record(state, "totp_failed", Some(user.id), Some(user.email.clone()), ip.map(str::to_string), String::new())
        .await?;
    Ok(Err(locked(state, &user.email, ip).await?.unwrap_or(Refusal::WrongCode)))
}

/// A new browser session; the one the request came with (if any) ends, so
/// a session id is never carried across a sign-in. Returns the cookie value.
pub async fn start_session(
    state: &AppState,
    user_id: i64,
    stage: SessionStage,
    previous_hash: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
) -> AppResult<String> {
    let sid = random_token();
    let sid_hash = sha256_hex(&sid);
    let handle: String = random_token().chars().take(16).collect();
    let csrf = random_token();
    let now = state.clock.now();
    let expires = now
        .checked_add(SignedDuration::from_hours(state.config.session_hours))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let ua: Option<String> = user_agent.map(|u| u.chars().take(300).collect());
    state
        .db
        .write(move |c| {
            if let Some(h) = &previous_hash {
                users::delete_session(c, h)?;
            }
            users::create_session(
                c,
                &NewSession {
                    id_hash: &sid_hash,
                    handle: &handle,
                    user_id,
                    csrf_token: &csrf,
                    now,
                    expires_at: expires,
                    ip: ip.as_deref(),
                    user_agent: ua.as_deref(),
                    stage,
                },
            )
        })
        .await?;
    Ok(sid)
}

/// Moves a session to `stage` under a new id; returns the new cookie value.
pub async fn advance_session(state: &AppState, old_hash: String, stage: SessionStage) -> AppResult<String> {
    let sid = random_token();
    let new_hash = sha256_hex(&sid);
    let csrf = random_token();
    let now = state.clock.now();
    let moved = state.db.write(move |c| users::rotate_session(c, &old_hash, &new_hash, &csrf, stage, now)).await?;
    if moved { Ok(sid) } else { Err(AppError::Unauthorized) }
}

/// Logs a refused request (401 or 403) with whoever made it, if known.
pub async fn log_refusal(
    state: &AppState,
    status: StatusCode,
    method: &str,
    path: &str,
    ip: Option<String>,
    bearer_hash: Option<String>,
    session_hash: Option<String>,
) {
    let now = state.clock.now();
    let detail = format!("{} {method} {}", status.as_u16(), path.chars().take(300).collect::<String>());
    let res = state
        .db
        .write(move |c| {
            let user = match (&bearer_hash, &session_hash) {
                (Some(h), _) => users::find_token_user(c, h, now)?,
                (None, Some(h)) => users::find_session(c, h, now, Timestamp::MIN)?.map(|s| s.user),
                _ => None,
            };
            users::record_event(
                c,
                now,
                &SecurityEvent {
                    kind: "denied",
                    user_id: user.as_ref().map(|u| u.id),
                    email: user.as_ref().map(|u| u.email.as_str()),
                    ip: ip.as_deref(),
                    detail,
                },
            )
        })
        .await;
    if let Err(e) = res {
        tracing::warn!(error = %e, "could not log a refused request");
    }
}
