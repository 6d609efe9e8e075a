//! `/account/security`: the signed-in user's own two-factor set-up, their
//! sessions and API tokens (see and end them), and password change.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use guanxi_domain::user::Password;
use guanxi_domain::{Issue, Lang};
use guanxi_store::users::{self, SessionStage};
use minijinja::context;

use super::{ClientIp, form_get, form_pairs, page_ctx, render};
use crate::auth::{AnySession, ENROL_PATH, PageUser, login, password, session_cookie, sha256_hex, totp};
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(ENROL_PATH, get(page))
        .route("/account/totp/start", post(totp_start))
        .route("/account/totp/confirm", post(totp_confirm))
        .route("/account/totp/disable", post(totp_disable))
        .route("/account/sessions/{handle}/end", post(end_session))
        .route("/account/sessions/end-others", post(end_others))
        .route("/account/tokens/{id}/revoke", post(revoke_token))
        .route("/account/password", post(change_password))
}

/// The issuer shown in authenticator apps.
const ISSUER: &str = "Guanxi";

fn fmt_time(state: &AppState, t: jiff::Timestamp) -> String {
    t.to_zoned(state.config.time_zone.clone()).strftime("%Y-%m-%d %H:%M").to_string()
}

#[derive(Default)]
struct Extra<'a> {
    recovery_codes: Option<Vec<String>>,
    error: Option<&'a str>,
    notice: Option<&'a str>,
    status: Option<StatusCode>,
}

async fn render_page(state: &AppState, lang: Lang, s: &AnySession, extra: Extra<'_>) -> AppResult<Response> {
    let uid = s.user.id;
    let now = state.clock.now();
    let idle_since = now
        .checked_sub(jiff::SignedDuration::from_mins(state.config.session_idle_minutes))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let (st, sessions, tokens) = state
        .db
        .read(move |c| {
            Ok((
                users::totp_state(c, uid)?,
                users::list_sessions(c, uid, now, idle_since)?,
                users::list_tokens(c, uid, now)?,
            ))
        })
        .await?;
    let mine = s.session_hash.clone();
    let my_handle = state
        .db
        .read(move |c| {
            c.query_opt("SELECT handle FROM sessions WHERE id_hash = $1", guanxi_store::args![mine.as_str()])
        })
        .await?
        .map(|r| r.get::<String>(0))
        .transpose()?
        .unwrap_or_default();
    let pending = st.pending.as_deref().and_then(|p| state.cipher.decrypt(p).ok());
    let required = state.config.totp_required_roles.contains(&s.user.role);
    let sessions: Vec<_> = sessions
        .iter()
        .map(|x| {
            context! {
                handle => x.handle,
                created => fmt_time(state, x.created_at),
                last_seen => fmt_time(state, x.last_seen_at),
                expires => fmt_time(state, x.expires_at),
                ip => x.ip,
                user_agent => x.user_agent,
                current => x.handle == my_handle,
            }
        })
        .collect();
    let tokens: Vec<_> = tokens
        .iter()
        .map(|t| {
            context! {
                id => t.id,
                name => t.name,
                created => fmt_time(state, t.created_at),
                expires => fmt_time(state, t.expires_at),
                last_used => t.last_used_at.map(|x| fmt_time(state, x)),
            }
        })
        .collect();
    let title = lang.pick("账号安全", "Account security");
    let u = PageUser { user: s.user.clone(), csrf: s.csrf.clone(), session_hash: s.session_hash.clone() };
    let base = page_ctx(&u, lang, "", title);
    let ctx = context! {
        ..base,
        ..context! {
            enrolling => s.stage == SessionStage::Enrol,
            totp_enabled => st.secret.is_some(),
            totp_since => st.enabled_at.map(|t| fmt_time(state, t)),
            recovery_left => st.recovery_left,
            required => required,
            pending_secret => pending,
            otpauth => pending.as_deref().map(|p| totp::otpauth_uri(ISSUER, &s.user.email, p)),
            recovery_codes => extra.recovery_codes,
            error => extra.error,
            notice => extra.notice,
            sessions => sessions,
            tokens => tokens,
        }
    };
    let html: Html<String> = render(state, "account/security.html", ctx)?;
    Ok((extra.status.unwrap_or(StatusCode::OK), html).into_response())
}

fn with_cookie(mut res: Response, state: &AppState, sid: &str) -> Response {
    let max_age = state.config.session_hours * 3600;
    if let Ok(v) = HeaderValue::from_str(&session_cookie(sid, max_age, state.config.cookie_secure)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// The second-factor step of a sign-in is not done yet: go there.
fn not_totp_stage(s: &AnySession) -> Option<Response> {
    (s.stage == SessionStage::Totp).then(|| Redirect::to("/login/totp").into_response())
}

/// Full sessions only (not while setting up the second factor).
fn full_only(s: &AnySession) -> Option<Response> {
    (s.stage != SessionStage::Full).then(|| Redirect::to(ENROL_PATH).into_response())
}

async fn page(State(state): State<AppState>, ReqLang(lang): ReqLang, s: AnySession) -> AppResult<Response> {
    if let Some(r) = not_totp_stage(&s) {
        return Ok(r);
    }
    render_page(&state, lang, &s, Extra::default()).await
}

async fn totp_start(State(state): State<AppState>, s: AnySession, body: Bytes) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    s.check_csrf(form_get(&pairs, "_csrf"))?;
    if let Some(r) = not_totp_stage(&s) {
        return Ok(r);
    }
    let sealed = state.cipher.encrypt(&totp::new_secret());
    let uid = s.user.id;
    state.db.write(move |c| users::set_totp_pending(c, uid, Some(&sealed))).await?;
    Ok(Redirect::to(&format!("{ENROL_PATH}#totp")).into_response())
}

async fn totp_confirm(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ClientIp(ip): ClientIp,
    s: AnySession,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    s.check_csrf(form_get(&pairs, "_csrf"))?;
    if let Some(r) = not_totp_stage(&s) {
        return Ok(r);
    }
    let code = form_get(&pairs, "code").unwrap_or("").to_string();
    let uid = s.user.id;
    let st = state.db.read(move |c| users::totp_state(c, uid)).await?;
    let pending = st.pending.as_deref().and_then(|p| state.cipher.decrypt(p).ok());
    let now = state.clock.now();
    let step = pending.as_deref().and_then(|p| totp::verify(p, &code, now.as_second()));
    let Some(step) = step else {
        let msg = lang
            .pick("验证码不正确，请输入应用中当前显示的 6 位数字", "Wrong code: enter the 6 digits the app shows now");
        return render_page(
            &state,
            lang,
            &s,
            Extra { error: Some(msg), status: Some(StatusCode::UNPROCESSABLE_ENTITY), ..Default::default() },
        )
        .await;
    };
    let codes = totp::new_recovery_codes();
    let hashes: Vec<String> = codes.iter().map(|c| sha256_hex(&totp::normalise_recovery(c))).collect();
    state.db.write(move |c| users::enable_totp(c, uid, step, &hashes, now)).await?;
    login::record(&state, "totp_enabled", Some(uid), Some(s.user.email.clone()), ip.clone(), String::new()).await?;
    // Setting up completes a sign-in that was waiting for it: a new session id.
    let mut s2 = s.clone();
    let new_sid = if s.stage == SessionStage::Enrol {
        login::record(&state, "login_ok", Some(uid), Some(s.user.email.clone()), ip, "web enrol".into()).await?;
        let sid = login::advance_session(&state, s.session_hash.clone(), SessionStage::Full).await?;
        let h = sha256_hex(&sid);
        let fresh = state
            .db
            .read(move |c| users::find_session(c, &h, now, jiff::Timestamp::MIN))
            .await?
            .ok_or(AppError::Unauthorized)?;
        s2 =
            AnySession { user: fresh.user, csrf: fresh.csrf_token, session_hash: sha256_hex(&sid), stage: fresh.stage };
        Some(sid)
    } else {
        None
    };
    let notice = lang.pick(
        "两步验证已开启。请把下面的恢复码保存在安全的地方，它们只显示这一次。",
        "Two-factor sign-in is on. Keep the recovery codes below somewhere safe: they are shown only this once.",
    );
    let res = render_page(
        &state,
        lang,
        &s2,
        Extra { recovery_codes: Some(codes), notice: Some(notice), ..Default::default() },
    )
    .await?;
    Ok(match new_sid {
        Some(sid) => with_cookie(res, &state, &sid),
        None => res,
    })
}

async fn totp_disable(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ClientIp(ip): ClientIp,
    s: AnySession,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    s.check_csrf(form_get(&pairs, "_csrf"))?;
    if let Some(r) = full_only(&s) {
        return Ok(r);
    }
    if state.config.totp_required_roles.contains(&s.user.role) {
        let msg = lang.pick(
            "你的角色必须使用两步验证，不能关闭",
            "Your role requires two-factor sign-in: it cannot be turned off",
        );
        return render_page(
            &state,
            lang,
            &s,
            Extra { error: Some(msg), status: Some(StatusCode::FORBIDDEN), ..Default::default() },
        )
        .await;
    }
    if !confirm_password(&state, s.user.id, form_get(&pairs, "password").unwrap_or("")).await? {
        let msg = lang.pick("当前密码不正确", "The current password is wrong");
        return render_page(
            &state,
            lang,
            &s,
            Extra { error: Some(msg), status: Some(StatusCode::UNPROCESSABLE_ENTITY), ..Default::default() },
        )
        .await;
    }
    let uid = s.user.id;
    state.db.write(move |c| users::disable_totp(c, uid)).await?;
    login::record(&state, "totp_disabled", Some(uid), Some(s.user.email.clone()), ip, String::new()).await?;
    Ok(Redirect::to(ENROL_PATH).into_response())
}

async fn confirm_password(state: &AppState, uid: i64, pw: &str) -> AppResult<bool> {
    let hash = state.db.read(move |c| users::password_hash(c, uid)).await?;
    Ok(!pw.is_empty() && password::verify(hash, pw.to_string()).await)
}

async fn end_session(
    State(state): State<AppState>,
    s: AnySession,
    Path(handle): Path<String>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    s.check_csrf(form_get(&pairs, "_csrf"))?;
    if let Some(r) = full_only(&s) {
        return Ok(r);
    }
    let uid = s.user.id;
    if !state.db.write(move |c| users::end_session(c, uid, &handle)).await? {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to(&format!("{ENROL_PATH}#sessions")).into_response())
}

async fn end_others(State(state): State<AppState>, s: AnySession, body: Bytes) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    s.check_csrf(form_get(&pairs, "_csrf"))?;
    if let Some(r) = full_only(&s) {
        return Ok(r);
    }
    let uid = s.user.id;
    let keep = s.session_hash.clone();
    state
        .db
        .write(move |c| {
            c.execute(
                "DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2",
                guanxi_store::args![uid, keep.as_str()],
            )
        })
        .await?;
    Ok(Redirect::to(&format!("{ENROL_PATH}#sessions")).into_response())
}

async fn revoke_token(
    State(state): State<AppState>,
    s: AnySession,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    s.check_csrf(form_get(&pairs, "_csrf"))?;
    if let Some(r) = full_only(&s) {
        return Ok(r);
    }
    let uid = s.user.id;
    if !state.db.write(move |c| users::delete_token(c, uid, id)).await? {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to(&format!("{ENROL_PATH}#tokens")).into_response())
}

/// A new password: the current one confirms it; every other session and
/// every API token of the user ends.
async fn change_password(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ClientIp(ip): ClientIp,
    s: AnySession,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    s.check_csrf(form_get(&pairs, "_csrf"))?;
    if let Some(r) = full_only(&s) {
        return Ok(r);
    }
    if !confirm_password(&state, s.user.id, form_get(&pairs, "current_password").unwrap_or("")).await? {
        let msg = lang.pick("当前密码不正确", "The current password is wrong");
        return render_page(
            &state,
            lang,
            &s,
            Extra { error: Some(msg), status: Some(StatusCode::UNPROCESSABLE_ENTITY), ..Default::default() },
        )
        .await;
    }
    let new = match Password::parse(form_get(&pairs, "new_password").unwrap_or("")) {
        Ok(p) => p,
        Err(issue) => {
            let msg = format!("{}: {}", lang.pick("新密码", "New password"), issue_message(&issue, lang));
            return render_page(
                &state,
                lang,
                &s,
                Extra { error: Some(&msg), status: Some(StatusCode::UNPROCESSABLE_ENTITY), ..Default::default() },
            )
            .await;
        }
    };
    let hash = password::hash(new.expose().to_string()).await?;
    let uid = s.user.id;
    let keep = s.session_hash.clone();
    let now = state.clock.now();
    state
        .db
        .write(move |c| {
            users::set_password(c, uid, &hash, now)?;
            users::end_all_sessions(c, uid, Some(&keep))
        })
        .await?;
    login::record(&state, "password_changed", Some(uid), Some(s.user.email.clone()), ip, String::new()).await?;
    let notice = lang.pick(
        "密码已修改，其他会话和 API 令牌均已结束",
        "Password changed: every other session and API token has ended",
    );
    render_page(&state, lang, &s, Extra { notice: Some(notice), ..Default::default() }).await
}

fn issue_message(issue: &Issue, lang: Lang) -> String {
    issue.message(lang)
}
