//! `/api/v1/audit`: the audit log for admins (SPEC S3), searched and exported.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::ApiUser;
use crate::error::{AppError, AppResult, Problem};
use crate::import::{CSV_MIME, FileFormat, XLSX_MIME};
use crate::service::audit::{self as svc, AuditQuery};
use crate::state::AppState;
use crate::web::ClientIp;

/// The search: every condition optional.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct AuditParams {
    /// Who acted (a user id).
    pub actor_id: Option<String>,
    /// What kind of record: `customer`, `contact`, `ticket`, `user`, `audit_log`, …
    pub entity: Option<String>,
    /// Which record (with `entity`).
    pub entity_id: Option<String>,
    /// `create`, `update`, `delete`, `reveal`, `export`, …
    pub action: Option<String>,
    /// From: `YYYY-MM-DD` (the start of that day, business time zone) or RFC 3339.
    pub from: Option<String>,
    /// Until: `YYYY-MM-DD` (the end of that day) or RFC 3339 (exclusive).
    pub until: Option<String>,
    /// The `next` cursor of the previous page.
    pub before: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<String>,
    /// Export only: `csv` (default; UTF-8 with BOM) or `xlsx`.
    pub format: Option<String>,
}

impl AuditParams {
    fn query(&self) -> AuditQuery {
        AuditQuery {
            actor_id: self.actor_id.clone(),
            entity: self.entity.clone(),
            entity_id: self.entity_id.clone(),
            action: self.action.clone(),
            from: self.from.clone(),
            until: self.until.clone(),
            before: self.before.clone(),
            limit: self.limit.clone(),
        }
    }
}

/// One entry of the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: i64,
    /// When (RFC 3339, UTC).
    pub at: String,
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<i64>,
    /// What changed (before/after), or what was revealed or exported.
    pub detail: String,
    /// The client address.
    pub ip: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditView>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next: Option<String>,
}

/// Searches the audit log, newest first (admins only).
#[utoipa::path(get, path = "/api/v1/audit", tag = "admin", params(AuditParams), security(("bearer" = [])),
    responses((status = 200, body = AuditPage), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn search(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(p): Query<AuditParams>,
) -> AppResult<axum::Json<AuditPage>> {
    let (filter, limit) = svc::parse(&p.query(), &state.config.time_zone)?;
    let (rows, next) = svc::search(&state, &user, filter, limit).await?;
    let items = rows
        .into_iter()
        .map(|r| AuditView {
            id: r.id,
            at: jiff::Timestamp::from_millisecond(r.at).map(|t| t.to_string()).unwrap_or_default(),
            actor_id: r.actor_id,
            actor_name: r.actor_name,
            action: r.action,
            entity: r.entity,
            entity_id: r.entity_id,
            detail: r.detail,
            ip: r.ip,
        })
        .collect();
    Ok(axum::Json(AuditPage { items, next }))
}

/// Exports every entry matching the search (at most 100,000, newest first)
/// as CSV or Excel (admins only). The export is itself logged.
#[utoipa::path(get, path = "/api/v1/audit/export", tag = "admin", params(AuditParams), security(("bearer" = [])),
    responses(
        (status = 200, description = "the file", content(("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn export(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Query(p): Query<AuditParams>,
) -> AppResult<Response> {
    export_response(&state, &user, ip, &p).await
}

/// The export as a download; shared by the API and the page.
pub async fn export_response(
    state: &AppState,
    user: &guanxi_store::users::User,
    ip: Option<String>,
    p: &AuditParams,
) -> AppResult<Response> {
    let format = match p.format.as_deref().map(str::trim) {
        None | Some("") => FileFormat::Csv,
        Some(v) => FileFormat::parse(v).ok_or_else(|| AppError::field("format", guanxi_domain::Issue::NotAllowed))?,
    };
    let (filter, _) = svc::parse(&p.query(), &state.config.time_zone)?;
    let bytes = svc::export(state, user, filter, format, ip).await?;
    let (mime, ext) = match format {
        FileFormat::Csv => (CSV_MIME, "csv"),
        FileFormat::Xlsx => (XLSX_MIME, "xlsx"),
    };
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename=\"audit-{}.{ext}\"", state.today().strftime("%Y%m%d")))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}
