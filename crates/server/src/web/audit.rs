//! 设置 › 审计日志: the audit log for admins (SPEC S3) — search by who,
//! which record, which action and a date range, page back in time, export
//! what is found as CSV or Excel.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use guanxi_domain::Lang;
use guanxi_store::users;
use minijinja::context;

use super::{ClientIp, page_ctx, render};
use crate::api::audit::{AuditParams, export_response};
use crate::auth::PageAdmin;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::audit::{self as svc, AuditQuery};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/audit", get(page)).route("/admin/audit/export", get(export))
}

fn params(raw: Option<&str>) -> AppResult<AuditParams> {
    serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|e| AppError::BadRequest(format!("query string: {e}")))
}

fn field_label(field: &str, lang: Lang) -> &'static str {
    match field {
        "actor_id" => lang.pick("操作人", "Actor"),
        "entity" => lang.pick("对象类型", "Record type"),
        "entity_id" => lang.pick("对象ID", "Record id"),
        "action" => lang.pick("动作", "Action"),
        "from" => lang.pick("开始日期", "From"),
        "until" => lang.pick("结束日期", "Until"),
        "limit" => lang.pick("每页条数", "Per page"),
        _ => lang.pick("翻页位置", "Page cursor"),
    }
}

/// The query string of the search without its cursor, for the next-page
/// and export links.
fn query_without_cursor(p: &AuditParams) -> String {
    let pairs: Vec<(&str, &str)> = [
        ("actor_id", &p.actor_id),
        ("entity", &p.entity),
        ("entity_id", &p.entity_id),
        ("action", &p.action),
        ("from", &p.from),
        ("until", &p.until),
        ("limit", &p.limit),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(|v| (k, v)))
    .collect();
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

async fn page(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    PageAdmin(u): PageAdmin,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let p = params(raw.as_deref())?;
    let q = AuditQuery {
        actor_id: p.actor_id.clone(),
        entity: p.entity.clone(),
        entity_id: p.entity_id.clone(),
        action: p.action.clone(),
        from: p.from.clone(),
        until: p.until.clone(),
        before: p.before.clone(),
        limit: p.limit.clone(),
    };
    let tz = state.config.time_zone.clone();
    let (rows, next, errors) = match svc::parse(&q, &tz) {
        Ok((filter, limit)) => {
            let (rows, next) = svc::search(&state, &u.user, filter, limit).await?;
            (rows, next, None)
        }
        Err(e) => (Vec::new(), None, Some(e)),
    };
    let (entities, actions) = svc::vocabulary(&state, &u.user).await?;
    let staff = state.db.read(users::list).await?;
    let base = query_without_cursor(&p);
    let amp = if base.is_empty() { "" } else { "&" };
    let title = lang.pick("审计日志", "Audit log");
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
    let ctx = context! { ..page_ctx(&u, lang, "settings", title), ..context! {
        tab => "audit",
        f => context! {
            actor_id => p.actor_id, entity => p.entity, entity_id => p.entity_id, action => p.action,
            from => p.from, until => p.until,
        },
        staff => staff.iter().map(|s| context! { value => s.id, label => format!("{} · {}", s.name, s.email) }).collect::<Vec<_>>(),
        entities => entities, actions => actions,
        items => rows.iter().map(|r| context! {
            at => svc::local_time(r.at, &tz), actor => r.actor_name, actor_id => r.actor_id, action => r.action,
            entity => r.entity, entity_id => r.entity_id, detail => r.detail, ip => r.ip,
        }).collect::<Vec<_>>(),
        next => next.map(|n| format!("/admin/audit?{base}{amp}before={n}")),
        export_csv => format!("/admin/audit/export?{base}{amp}format=csv"),
        export_xlsx => format!("/admin/audit/export?{base}{amp}format=xlsx"),
        errors => error_list, err => err,
    }};
    let status = if errors.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let html: Html<String> = render(&state, "admin/audit.html", ctx)?;
    Ok((status, html).into_response())
}

async fn export(
    State(state): State<AppState>,
    PageAdmin(u): PageAdmin,
    ClientIp(ip): ClientIp,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let p = params(raw.as_deref())?;
    export_response(&state, &u.user, ip, &p).await
}
