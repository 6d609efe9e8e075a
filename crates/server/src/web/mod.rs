//! Server-rendered pages: login, workbench, customers, segments,
//! administration; the compiled-in assets; and the error renderer shared
//! with the API.

mod account;
mod admin;
mod audit;
mod calendar;
mod complaints;
pub(crate) mod customers;
mod home;
mod import;
mod knowledge;
mod login;
mod maintenance;
mod outreach;
mod relationship;
mod reports;
mod security;
mod segments;
pub mod templates;
mod ticket_settings;
pub(crate) mod tickets;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use guanxi_domain::Lang;
use minijinja::context;

use crate::auth::PageUser;
use crate::error::{AppError, PendingError, Problem};
use crate::lang::request_lang;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home::workbench))
        .route("/notifications/{id}/read", axum::routing::post(home::read_notification))
        .route("/notifications/read-all", axum::routing::post(home::read_all_notifications))
        .route("/login", get(login::form).post(login::submit))
        .route("/login/totp", get(login::totp_form).post(login::totp_submit))
        .route("/logout", axum::routing::post(login::logout))
        .merge(account::router())
        .route("/lang/{code}", get(login::switch_lang))
        .merge(customers::router())
        .merge(relationship::router())
        .merge(admin::router())
        .merge(audit::router())
        .merge(security::router())
        .merge(calendar::router())
        .merge(import::router())
        .merge(segments::router())
        .merge(tickets::router())
        .merge(complaints::router())
        .merge(ticket_settings::router())
        .merge(maintenance::router())
        .merge(knowledge::router())
        .merge(outreach::router())
        .merge(reports::router())
        .route("/assets/{*file}", get(asset))
}

/// The pages that take file uploads: the application gives them the import
/// routes' body limit and timeout (see `app` in lib.rs).
pub fn upload_router() -> Router<AppState> {
    import::upload_router()
}

/// The reply form and the complaint step form with their files: the
/// attachment size limit (see `app`).
pub fn attachment_router() -> Router<AppState> {
    tickets::upload_router().merge(complaints::upload_router())
}

/// The body and time limits of a group of routes, for the error renderer
/// to name in its 413 / 408 answers (see `app` in lib.rs).
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    pub body_bytes: usize,
    pub timeout_secs: u64,
}

impl RequestLimits {
    /// Title and explanation of a refusal by one of the limits.
    fn explain(self, status: StatusCode, lang: Lang) -> (String, String) {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            let mib = self.body_bytes.div_ceil(1024 * 1024);
            (
                lang.pick("请求内容过大", "Request body too large").into(),
                match lang {
                    Lang::Zh => format!("请求内容不能超过 {mib} MiB；文件请拆分或压缩后再提交"),
                    Lang::En => format!("A request body may be at most {mib} MiB; split or compress files and retry"),
                },
            )
        } else {
            let secs = self.timeout_secs;
            (
                lang.pick("请求超时", "Request timed out").into(),
                match lang {
                    Lang::Zh => format!("请求未在 {secs} 秒内完成，已停止处理；请稍后重试或缩小范围"),
                    Lang::En => {
                        format!(
                            "The request did not complete within {secs} seconds and was stopped; retry later or narrow it down"
                        )
                    }
                },
            )
        }
    }
}

/// The caller's address, for the audit log.
#[derive(Debug, Clone)]
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(a)| a.ip().to_string())))
    }
}

/// The navigation of the shell. Areas whose capability has not landed yet
/// are shown but not linked.
fn nav(active: &str, lang: Lang) -> Vec<minijinja::Value> {
    let items: [(&str, &str, &str, Option<&str>); 9] = [
        ("home", "工作台", "Workbench", Some("/")),
        ("customers", "客户", "Customers", Some("/customers")),
        ("segments", "客户分层", "Segments", Some("/segments")),
        ("tickets", "工单", "Tickets", Some("/tickets")),
        ("complaints", "投诉", "Complaints", Some("/complaints")),
        ("tasks", "维护任务", "Maintenance", Some("/maintenance")),
        ("kb", "知识库", "Knowledge base", Some("/kb")),
        ("reports", "报表", "Reports", Some("/reports")),
        ("settings", "设置", "Settings", Some("/admin/users")),
    ];
    items
        .iter()
        .map(|(key, zh, en, href)| {
            context! { key => key, label => lang.pick(zh, en), href => href, active => *key == active }
        })
        .collect()
}

/// The context every logged-in page needs.
pub fn page_ctx(u: &PageUser, lang: Lang, active: &str, title: &str) -> minijinja::Value {
    let mut items = nav(active, lang);
    if !u.user.role.can_administer_users() {
        items.retain(|i| i.get_attr("key").ok().and_then(|k| k.as_str().map(|s| s != "settings")).unwrap_or(true));
    }
    context! {
        lang => lang.code().strip_suffix("-CN").map_or("en", |_| "zh"),
        html_lang => lang.code(),
        title => title,
        nav => items,
        csrf => u.csrf,
        me => context! {
            id => u.user.id,
            name => u.user.name,
            role => u.user.role.label(lang),
            is_admin => u.user.role.can_administer_users(),
        },
    }
}

pub fn render(state: &AppState, name: &str, ctx: minijinja::Value) -> Result<Html<String>, AppError> {
    state.templates.render(name, ctx).map(Html)
}

/// Renders an [`AppError`] left on a response: problem+json for the API, a
/// page (or the login redirect) for the web. API responses that axum made
/// itself (unknown route, bad path parameter) become problem documents too.
pub async fn render_errors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let lang = request_lang(req.headers(), req.uri().query(), state.config.default_lang);
    let path = req.uri().path().to_string();
    let is_api = path.starts_with("/api/") || path == "/healthz";
    // Who asked, for the log of refused requests (SPEC S1).
    let method = req.method().to_string();
    let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(a)| a.ip().to_string());
    let bearer_hash = crate::auth::bearer(req.headers()).map(crate::auth::sha256_hex);
    let session_hash = crate::lang::cookie(req.headers(), crate::auth::SESSION_COOKIE).map(crate::auth::sha256_hex);
    let limits = req.extensions().get::<RequestLimits>().copied();
    let mut res = next.run(req).await;
    let pending = res.extensions_mut().remove::<PendingError>();
    let is_json = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/"));
    let is_html = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    // The body limit's and the time limit's own refusals (plain text or
    // empty): said clearly, with the limit.
    if let (None, Some(limits), false, false) = (&pending, limits, is_json, is_html) {
        let status = res.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE || status == StatusCode::REQUEST_TIMEOUT {
            let (title, detail) = limits.explain(status, lang);
            if is_api {
                let problem = Problem {
                    kind: "about:blank".into(),
                    title,
                    status: status.as_u16(),
                    detail: Some(detail),
                    errors: Vec::new(),
                };
                return problem_response(status, &problem);
            }
            if status == StatusCode::PAYLOAD_TOO_LARGE && limits.body_bytes == crate::import::MAX_UPLOAD_BYTES {
                return error_page(&state, lang, status, import::too_large(lang));
            }
            return error_page(&state, lang, status, detail);
        }
    }
    let err = match pending {
        Some(PendingError(e)) => e,
        None if is_api && (res.status().is_client_error() || res.status().is_server_error()) => {
            if is_json {
                return res;
            }
            let status = res.status();
            let body = axum::body::to_bytes(std::mem::take(res.body_mut()), 64 * 1024).await.unwrap_or_default();
            let detail = String::from_utf8_lossy(&body).trim().to_string();
            let problem = Problem {
                kind: "about:blank".into(),
                title: status.canonical_reason().unwrap_or("error").into(),
                status: status.as_u16(),
                detail: (!detail.is_empty()).then_some(detail),
                errors: Vec::new(),
            };
            return problem_response(status, &problem);
        }
        // Only the upload routes let this middleware see their body limit's
        // refusal (see `app` in lib.rs).
        None if !is_api && res.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error_page(&state, lang, StatusCode::PAYLOAD_TOO_LARGE, import::too_large(lang));
        }
        None => return res,
    };
    let status = err.status();
    if matches!(*err, AppError::Unauthorized | AppError::Forbidden) {
        crate::auth::login::log_refusal(&state, status, &method, &path, ip, bearer_hash, session_hash).await;
    }
    if is_api {
        let mut r = problem_response(status, &err.problem(lang));
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"guanxi\""));
        }
        return r;
    }
    if matches!(*err, AppError::Unauthorized) {
        return Redirect::to("/login").into_response();
    }
    error_page(&state, lang, status, err.title(lang))
}

fn error_page(state: &AppState, lang: Lang, status: StatusCode, title: String) -> Response {
    let html = state.templates.render(
        "error.html",
        context! {
            lang => if lang == Lang::En { "en" } else { "zh" },
            html_lang => lang.code(),
            status => status.as_u16(),
            title => title,
        },
    );
    match html {
        Ok(h) => (status, Html(h)).into_response(),
        Err(_) => (status, title).into_response(),
    }
}

fn problem_response(status: StatusCode, p: &Problem) -> Response {
    let body = serde_json::to_vec(p).unwrap_or_default();
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    r
}

/// Static files compiled into the binary.
async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (body, ctype): (&'static [u8], &str) = match file.as_str() {
        "app.css" => (include_bytes!("../../../../assets/app.css"), "text/css; charset=utf-8"),
        "app.js" => (include_bytes!("../../../../assets/app.js"), "text/javascript; charset=utf-8"),
        "outreach.css" => (include_bytes!("../../../../assets/outreach.css"), "text/css; charset=utf-8"),
        "logo.svg" => (include_bytes!("../../../../assets/logo.svg"), "image/svg+xml"),
        "echarts.min.js" => (include_bytes!("../../../../assets/echarts.min.js"), "text/javascript; charset=utf-8"),
        "knowledge.js" => (include_bytes!("../../../../assets/knowledge.js"), "text/javascript; charset=utf-8"),
        "reports.js" => (include_bytes!("../../../../assets/reports.js"), "text/javascript; charset=utf-8"),
        "reports.css" => (include_bytes!("../../../../assets/reports.css"), "text/css; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(ctype).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

/// Reads an url-encoded form into name/value pairs; repeated names keep
/// every value.
pub fn form_pairs(body: &[u8]) -> Result<Vec<(String, String)>, AppError> {
    serde_urlencoded::from_bytes(body).map_err(|e| AppError::BadRequest(format!("form: {e}")))
}

/// A refused form's errors as the page templates take them: the summary
/// (`errors`, for `m.error_summary`: each field, its label, the message)
/// and the field → message map the field macros read (`err`); both empty
/// when the form was not refused.
pub fn form_errors<L: Into<minijinja::Value>>(
    errors: Option<&guanxi_domain::ValidationErrors>,
    lang: Lang,
    label: impl Fn(&str) -> L,
) -> (Vec<minijinja::Value>, std::collections::BTreeMap<String, String>) {
    let Some(e) = errors else { return Default::default() };
    let summary =
        e.0.iter()
            .map(|f| {
                let label: minijinja::Value = label(&f.field).into();
                context! { field => f.field, label => label, message => f.issue.message(lang) }
            })
            .collect();
    (summary, e.0.iter().map(|f| (f.field.clone(), f.issue.message(lang))).collect())
}

pub fn form_get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}
