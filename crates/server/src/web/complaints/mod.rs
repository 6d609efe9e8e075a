//! The complaint pages (SPEC P1–P7): the tracking table (投诉处理跟踪表)
//! with its urgency filter, keyset pages and the Excel export link (here);
//! the register form and the complaint page with its workflow in [`view`];
//! the monthly review in [`review`].

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{Html, Response};
use axum::routing::{get, post};
use guanxi_domain::complaint::Urgency;
use minijinja::context;

use super::{page_ctx, render};
use crate::auth::PageUser;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::complaints::review as review_svc;
use crate::service::complaints::table::{self, HEADERS, HEADERS_EN, TableParams};
use crate::state::AppState;
use crate::web::ClientIp;

mod report;
mod review;
mod view;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/complaints", get(table_page))
        .route("/complaints/export", get(export))
        .route("/complaints/review", get(review::page))
        .route("/complaints/review.xlsx", get(review::xlsx))
        .route("/complaints/new", get(view::new_form).post(view::create))
        .route("/complaints/{id}", get(view::view))
        .route("/complaints/{id}/urgency", post(view::urgency))
        .route("/complaints/{id}/report", get(report::page))
        .route("/complaints/{id}/report.xlsx", get(report::xlsx))
        .route("/admin/complaints", get(view::settings_page).post(view::save_settings))
        .route("/admin/complaints/compensation", post(view::save_compensation))
}

/// The step form, which may carry evidence files: `app` in lib.rs gives it
/// the attachment size limit (through `web::attachment_router`).
pub fn upload_router() -> Router<AppState> {
    Router::new().route("/complaints/{id}/step", post(view::step))
}

fn href(urgency: Option<&str>, before: Option<&str>) -> String {
    let mut q = Vec::new();
    if let Some(u) = urgency {
        q.push(format!("urgency={u}"));
    }
    if let Some(b) = before {
        q.push(format!("before={b}"));
    }
    if q.is_empty() { "/complaints".into() } else { format!("/complaints?{}", q.join("&")) }
}

async fn table_page(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let p: TableParams = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("query string: {e}")))?;
    let q = table::parse(&p, &state.config.time_zone)?;
    let urgency = q.urgency.map(Urgency::code);
    let page = table::list(&state, &u.user, q).await?;
    let tz = state.config.time_zone.clone();
    let items: Vec<_> = page
        .items
        .iter()
        .map(|p| context! { id => p.id, ticket_id => p.ticket_id, cells => table::row(p, &tz, lang) })
        .collect();
    let urgencies: Vec<_> = std::iter::once((None, lang.pick("全部", "All")))
        .chain(Urgency::ALL.iter().map(|x| (Some(x.code()), x.label(lang))))
        .map(|(code, label)| context! { label => label, href => href(code, None), active => code == urgency })
        .collect();
    let headers = if lang == guanxi_domain::Lang::Zh { HEADERS } else { HEADERS_EN };
    let title = lang.pick("投诉处理跟踪表", "Complaint tracking table");
    let ctx = context! { ..page_ctx(&u, lang, "complaints", title), ..context! {
        headers => headers,
        items => items,
        urgencies => urgencies,
        next => page.next.as_deref().map(|n| href(urgency, Some(n))),
        can_export => review_svc::may_review(&u.user),
        export_href => match urgency { Some(x) => format!("/complaints/export?urgency={x}"), None => "/complaints/export".into() },
    }};
    render(&state, "complaints/table.html", ctx)
}

/// The tracking table as .xlsx (supervisors and administrators), with the page's filters.
async fn export(
    State(state): State<AppState>,
    u: PageUser,
    ClientIp(ip): ClientIp,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    if !review_svc::may_review(&u.user) {
        return Err(AppError::Forbidden);
    }
    let p: TableParams = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("query string: {e}")))?;
    let q = table::parse(&p, &state.config.time_zone)?;
    let bytes = table::export(&state, &u.user, q, ip).await?;
    Ok(crate::api::complaints::xlsx_response(bytes))
}
