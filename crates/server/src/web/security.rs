//! 设置 › 安全事件: sign-in attempts and refused requests for admins (SPEC
//! S3) — search by account, kind and a date range, page back in time.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use guanxi_domain::{Issue, Lang, ValidationErrors};
use guanxi_store::users::{self, EventFilter};
use minijinja::context;

use super::{page_ctx, render};
use crate::auth::PageAdmin;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::audit::{instant, local_time};
use crate::state::AppState;

/// Events per page.
pub const PAGE: i64 = 50;

/// The kinds of event, with their labels (zh-CN, en).
const KINDS: &[(&str, &str, &str)] = &[
    ("login_ok", "登录成功", "Signed in"),
    ("password_ok", "密码正确，待二次验证", "Password accepted, second factor pending"),
    ("login_failed", "登录失败", "Sign-in failed"),
    ("totp_failed", "动态码错误", "Wrong one-time code"),
    ("login_locked", "已锁定，拒绝登录", "Locked out"),
    ("login_refused", "未设置二次验证，拒绝登录", "Sign-in refused (no second factor)"),
    ("denied", "请求被拒绝", "Request refused"),
    ("password_changed", "修改密码", "Password changed"),
    ("totp_enabled", "启用二次验证", "Second factor enabled"),
    ("totp_disabled", "停用二次验证", "Second factor disabled"),
];

fn kind_label(kind: &str, lang: Lang) -> String {
    KINDS.iter().find(|(k, _, _)| *k == kind).map_or_else(|| kind.to_string(), |(_, zh, en)| lang.pick(zh, en).into())
}

/// The search as the query string gives it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
struct Params {
    email: Option<String>,
    kind: Option<String>,
    from: Option<String>,
    until: Option<String>,
    before: Option<String>,
}

fn present(v: Option<&String>) -> Option<&str> {
    v.map(|s| s.trim()).filter(|s| !s.is_empty())
}

fn parse(p: &Params, tz: &jiff::tz::TimeZone) -> Result<EventFilter, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let mut f = EventFilter::default();
    if let Some(e) = present(p.email.as_ref()) {
        if e.chars().count() > 254 {
            errors.add("email", Issue::TooLong { max: 254 });
        } else {
            f.email = Some(e.to_lowercase());
        }
    }
    if let Some(k) = present(p.kind.as_ref()) {
        if KINDS.iter().any(|(code, _, _)| *code == k) {
            f.kind = Some(k.to_string());
        } else {
            errors.add("kind", Issue::Unknown);
        }
    }
    if let Some(s) = present(p.from.as_ref()) {
        match instant(s, tz, false) {
            Ok(t) => f.from = Some(t),
            Err(i) => errors.add("from", i),
        }
    }
    if let Some(s) = present(p.until.as_ref()) {
        match instant(s, tz, true) {
            Ok(t) if f.from.is_some_and(|from| t <= from) => errors.add("until", Issue::BeforeStart),
            Ok(t) => f.until = Some(t),
            Err(i) => errors.add("until", i),
        }
    }
    if let Some(s) = present(p.before.as_ref()) {
        let cursor = s.split_once('.').and_then(|(a, b)| {
            Some((jiff::Timestamp::from_millisecond(a.parse().ok()?).ok()?, b.parse::<i64>().ok()?))
        });
        match cursor {
            Some(c) => f.before = Some(c),
            None => errors.add("before", Issue::Unknown),
        }
    }
    if errors.is_empty() { Ok(f) } else { Err(errors) }
}

fn field_label(field: &str, lang: Lang) -> &'static str {
    match field {
        "email" => lang.pick("账号（邮箱）", "Account (e-mail)"),
        "kind" => lang.pick("事件类型", "Kind"),
        "from" => lang.pick("开始日期", "From"),
        "until" => lang.pick("结束日期", "Until"),
        _ => lang.pick("翻页位置", "Page cursor"),
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/security", get(page))
}

async fn page(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    PageAdmin(u): PageAdmin,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let p: Params = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("query string: {e}")))?;
    let tz = state.config.time_zone.clone();
    let (rows, next, errors) = match parse(&p, &tz) {
        Ok(filter) => {
            let mut rows = state.db.read(move |c| users::search_events(c, &filter, PAGE + 1)).await?;
            let next = if rows.len() > PAGE as usize {
                rows.truncate(PAGE as usize);
                rows.last().map(|r| format!("{}.{}", r.at.as_millisecond(), r.id))
            } else {
                None
            };
            (rows, next, None)
        }
        Err(e) => (Vec::new(), None, Some(e)),
    };
    let pairs: Vec<(&str, &str)> = [("email", &p.email), ("kind", &p.kind), ("from", &p.from), ("until", &p.until)]
        .into_iter()
        .filter_map(|(k, v)| present(v.as_ref()).map(|v| (k, v)))
        .collect();
    let base = serde_urlencoded::to_string(pairs).unwrap_or_default();
    let amp = if base.is_empty() { "" } else { "&" };
    let error_list: Vec<minijinja::Value> = errors
        .as_ref()
        .map(|e| {
            e.0.iter()
                .map(|f| context! { field => f.field, label => field_label(&f.field, lang), message => f.issue.message(lang) })
                .collect()
        })
        .unwrap_or_default();
    let err: std::collections::BTreeMap<String, String> = errors
        .as_ref()
        .map(|e| e.0.iter().map(|f| (f.field.clone(), f.issue.message(lang))).collect())
        .unwrap_or_default();
    let title = lang.pick("安全事件", "Security events");
    let ctx = context! { ..page_ctx(&u, lang, "settings", title), ..context! {
        f => context! { email => p.email, kind => p.kind, from => p.from, until => p.until },
        kinds => KINDS.iter().map(|(k, zh, en)| context! { value => k, label => lang.pick(zh, en) }).collect::<Vec<_>>(),
        items => rows.iter().map(|r| context! {
            at => local_time(r.at.as_millisecond(), &tz), kind => r.kind, label => kind_label(&r.kind, lang),
            bad => matches!(r.kind.as_str(), "login_failed" | "totp_failed" | "login_locked" | "denied"),
            user_id => r.user_id, email => r.email, ip => r.ip, detail => r.detail,
        }).collect::<Vec<_>>(),
        next => next.map(|n| format!("/admin/security?{base}{amp}before={n}")),
        errors => error_list, err => err,
    }};
    let status = if errors.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let html: Html<String> = render(&state, "admin/security.html", ctx)?;
    Ok((status, html).into_response())
}
