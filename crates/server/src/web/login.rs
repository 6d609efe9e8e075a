//! Login, logout and the language switch.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use guanxi_domain::Lang;
use guanxi_store::users;
use minijinja::context;
use serde::Deserialize;

use guanxi_store::users::SessionStage;

use super::{ClientIp, form_get, form_pairs, render};
use crate::auth::{AnySession, ENROL_PATH, SESSION_COOKIE, login, session_cookie, sha256_hex};
use crate::error::AppResult;
use crate::lang::ReqLang;
use crate::lang::cookie;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    back: Option<String>,
}

/// Only local paths, so the login cannot be used to send people elsewhere.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => n.to_string(),
        _ => "/".into(),
    }
}

fn login_page(state: &AppState, lang: Lang, next: &str, email: &str, error: Option<&str>) -> AppResult<Html<String>> {
    render(
        state,
        "login.html",
        context! {
            lang => if lang == Lang::En { "en" } else { "zh" },
            html_lang => lang.code(),
            next => next,
            email => email,
            error => error,
        },
    )
}

pub async fn form(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    Query(q): Query<NextQuery>,
) -> AppResult<Html<String>> {
    login_page(&state, lang, &safe_next(q.next.as_deref()), "", None)
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn with_cookie(mut res: Response, state: &AppState, sid: &str) -> Response {
    let max_age = state.config.session_hours * 3600;
    if let Ok(v) = HeaderValue::from_str(&session_cookie(sid, max_age, state.config.cookie_secure)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

pub async fn submit(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    let email = form_get(&pairs, "email").unwrap_or("").trim().to_string();
    let pw = form_get(&pairs, "password").unwrap_or("").to_string();
    let next = safe_next(form_get(&pairs, "next"));
    if email.is_empty() || pw.is_empty() {
        let msg = lang.pick("请输入邮箱和密码", "Enter your email and password");
        return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, login_page(&state, lang, &next, &email, Some(msg))?)
            .into_response());
    }
    let user = match login::check_password(&state, &email, pw, ip.as_deref(), "web").await? {
        Ok(u) => u,
        Err(r) => {
            return Ok((r.status(), login_page(&state, lang, &next, &email, Some(r.message(lang)))?).into_response());
        }
    };
    let (has_totp, required) = login::second_factor(&state, &user).await?;
    let stage = if has_totp {
        SessionStage::Totp
    } else if required {
        SessionStage::Enrol
    } else {
        SessionStage::Full
    };
    let kind = if stage == SessionStage::Totp { "password_ok" } else { "login_ok" };
    login::record(&state, kind, Some(user.id), Some(user.email.clone()), ip.clone(), "web".into()).await?;
    let previous = cookie(&headers, SESSION_COOKIE).map(sha256_hex);
    let sid = login::start_session(&state, user.id, stage, previous, ip, user_agent(&headers)).await?;
    let to = match stage {
        SessionStage::Full => next,
        SessionStage::Totp => {
            format!("/login/totp?{}", serde_urlencoded::to_string([("next", next)]).unwrap_or_default())
        }
        SessionStage::Enrol => ENROL_PATH.to_string(),
    };
    Ok(with_cookie(Redirect::to(&to).into_response(), &state, &sid))
}

fn totp_page(state: &AppState, lang: Lang, s: &AnySession, next: &str, error: Option<&str>) -> AppResult<Html<String>> {
    render(
        state,
        "login_totp.html",
        context! {
            lang => if lang == Lang::En { "en" } else { "zh" },
            html_lang => lang.code(),
            next => next,
            csrf => s.csrf,
            email => s.user.email,
            error => error,
        },
    )
}

/// The second step of signing in: the authenticator's code.
pub async fn totp_form(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    s: AnySession,
    Query(q): Query<NextQuery>,
) -> AppResult<Response> {
    let next = safe_next(q.next.as_deref());
    if s.stage != SessionStage::Totp {
        return Ok(Redirect::to(&next).into_response());
    }
    Ok(totp_page(&state, lang, &s, &next, None)?.into_response())
}

pub async fn totp_submit(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ClientIp(ip): ClientIp,
    s: AnySession,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    s.check_csrf(form_get(&pairs, "_csrf"))?;
    let next = safe_next(form_get(&pairs, "next"));
    if s.stage != SessionStage::Totp {
        return Ok(Redirect::to(&next).into_response());
    }
    let code = form_get(&pairs, "code").unwrap_or("").trim().to_string();
    match login::check_code(&state, &s.user, &code, ip.as_deref()).await? {
        Ok(()) => {
            login::record(&state, "login_ok", Some(s.user.id), Some(s.user.email.clone()), ip, "web totp".into())
                .await?;
            let sid = login::advance_session(&state, s.session_hash.clone(), SessionStage::Full).await?;
            Ok(with_cookie(Redirect::to(&next).into_response(), &state, &sid))
        }
        Err(r) => {
            if r == login::Refusal::AccountLocked || r == login::Refusal::AddressLocked {
                // Locked: this half-signed-in session ends too.
                let h = s.session_hash.clone();
                state.db.write(move |c| users::delete_session(c, &h)).await?;
                let res = (r.status(), login_page(&state, lang, &next, &s.user.email, Some(r.message(lang)))?);
                let mut res = res.into_response();
                if let Ok(v) = HeaderValue::from_str(&session_cookie("", 0, state.config.cookie_secure)) {
                    res.headers_mut().append(header::SET_COOKIE, v);
                }
                return Ok(res);
            }
            Ok((r.status(), totp_page(&state, lang, &s, &next, Some(r.message(lang)))?).into_response())
        }
    }
}

pub async fn logout(State(state): State<AppState>, u: AnySession, body: Bytes) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let h = u.session_hash.clone();
    state.db.write(move |c| users::delete_session(c, &h)).await?;
    let mut res = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&session_cookie("", 0, state.config.cookie_secure)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// `/lang/en` or `/lang/zh-CN`: remembers the choice in a cookie.
pub async fn switch_lang(Path(code): Path<String>, Query(q): Query<NextQuery>, headers: HeaderMap) -> Response {
    let lang = Lang::from_tag(&code);
    let back = q.back.as_deref().or_else(|| {
        headers
            .get(header::REFERER)
            .and_then(|r| r.to_str().ok())
            .and_then(|r| r.find("://").and_then(|i| r[i + 3..].find('/').map(|j| &r[i + 3 + j..])))
    });
    let mut res = Redirect::to(&safe_next(back)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("lang={}; Path=/; Max-Age=31536000; SameSite=Lax", lang.code())) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}
