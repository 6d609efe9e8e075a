//! Login, logout and the language switch.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use guanxi_domain::Lang;
use guanxi_store::users;
use minijinja::context;
use serde::Deserialize;

use super::{form_get, form_pairs, render};
use crate::auth::{PageUser, password, random_token, session_cookie, sha256_hex};
use crate::error::AppResult;
use crate::lang::ReqLang;
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

pub async fn submit(State(state): State<AppState>, ReqLang(lang): ReqLang, body: Bytes) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    let email = form_get(&pairs, "email").unwrap_or("").trim().to_string();
    let pw = form_get(&pairs, "password").unwrap_or("").to_string();
    let next = safe_next(form_get(&pairs, "next"));
    if email.is_empty() || pw.is_empty() {
        let msg = lang.pick("请输入邮箱和密码", "Enter your email and password");
        return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, login_page(&state, lang, &next, &email, Some(msg))?)
            .into_response());
    }
    let e = email.clone();
    let found = state.db.read(move |c| users::find_for_login(c, &e)).await?;
    let (user, hash) = match found {
        Some((u, h)) if u.active => (Some(u), h),
        _ => (None, password::dummy_hash().to_string()),
    };
    let ok = password::verify(hash, pw).await;
    let Some(user) = user.filter(|_| ok) else {
        let msg = lang.pick("邮箱或密码不正确", "Wrong email or password");
        return Ok(
            (axum::http::StatusCode::UNAUTHORIZED, login_page(&state, lang, &next, &email, Some(msg))?).into_response()
        );
    };
    let sid = random_token();
    let sid_hash = sha256_hex(&sid);
    let csrf = random_token();
    let now = state.clock.now();
    let hours = state.config.session_hours;
    let expires = now
        .checked_add(jiff::SignedDuration::from_hours(hours))
        .map_err(|e| crate::error::AppError::Internal(e.to_string()))?;
    state.db.write(move |c| users::create_session(c, &sid_hash, user.id, &csrf, now, expires)).await?;
    let mut res = Redirect::to(&next).into_response();
    if let Ok(v) = HeaderValue::from_str(&session_cookie(&sid, hours * 3600, state.config.cookie_secure)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

pub async fn logout(State(state): State<AppState>, u: PageUser, body: Bytes) -> AppResult<Response> {
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
