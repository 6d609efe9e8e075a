//! File import (`POST /api/v1/import/{kind}`) and the customer export
//! (`GET /api/v1/customers/export`), SPEC C9.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::customers::{ListQuery, parse_filter};
use crate::auth::ApiUser;
use crate::error::{AppError, AppResult, Problem};
use crate::export;
use crate::import::{self, FileFormat, ImportKind, ImportOptions, ImportReport, RowError};
use crate::lang::request_lang;
use crate::state::AppState;
use crate::web::ClientIp;

/// Query parameters of an import.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// `true`: check every row and report, write nothing.
    pub dry_run: Option<bool>,
    /// A column mapping `column=field` (repeat for several); `column=-` ignores a column.
    pub map: Option<Vec<String>>,
    /// The language of the row messages (else `Accept-Language`).
    pub lang: Option<String>,
}

/// A refused import: nothing was written; `errors` lists each bad cell.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportProblem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Data rows in the file.
    pub rows: usize,
    /// Rows (or the header) with at least one error.
    pub bad_rows: usize,
    /// At most 1000, in row order.
    pub errors: Vec<RowError>,
}

fn problem_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let mut r = (status, serde_json::to_vec(body).unwrap_or_default()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    r
}

/// Imports customers, contacts or orders from a CSV or Excel file sent as
/// the raw body (supervisors and administrators). Every row is checked
/// first; one bad row and nothing is written (422 lists them all). Headers
/// are field names or their Chinese names (客户名称, 联系电话, 金额 …).
/// Importing the same file again changes nothing. The body may be up to
/// 20 MiB and 50,000 rows (`guanxi import` takes files of any size and up to
/// 1,000,000 rows).
#[utoipa::path(post, path = "/api/v1/import/{kind}", tag = "import",
    params(("kind" = ImportKind, Path, description = "`customers`, `contacts` or `orders`"), ImportParams),
    request_body(description = "The file", content(
        ("text/csv"),
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    )),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "imported (or checked, for a dry run)", body = ImportReport),
        (status = 400, description = "the file could not be read", body = Problem),
        (status = 401, body = Problem),
        (status = 403, body = Problem),
        (status = 404, description = "unknown kind", body = Problem),
        (status = 413, description = "larger than 20 MiB"),
        (status = 415, description = "neither CSV nor .xlsx", body = Problem),
        (status = 422, description = "rows were refused; nothing was written", body = ImportProblem,
            content_type = "application/problem+json")
    ))]
pub async fn import_file(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(kind): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let lang = request_lang(&headers, raw.as_deref(), state.config.default_lang);
    let kind = ImportKind::parse(&kind).ok_or(AppError::NotFound)?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("query string: {e}")))?;
    let mut opts = ImportOptions { lang, ip, ..ImportOptions::default() };
    for (k, v) in pairs {
        match k.as_str() {
            "dry_run" => opts.dry_run = matches!(v.as_str(), "true" | "1" | "yes"),
            "map" => match import::mapping_entry(&v) {
                Some(entry) => opts.mapping.push(entry),
                None => return Err(AppError::BadRequest(format!("map={v}: expected column=field"))),
            },
            _ => {}
        }
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let Some(format) = FileFormat::detect(content_type, &body) else {
        let p = Problem {
            kind: "about:blank".into(),
            title: lang.pick("不支持的文件类型", "Unsupported file type").into(),
            status: 415,
            detail: Some(format!("Content-Type: text/csv or {}", import::XLSX_MIME)),
            errors: Vec::new(),
        };
        return Ok(problem_response(StatusCode::UNSUPPORTED_MEDIA_TYPE, &p));
    };
    let report = import::import_upload(&state, user, kind, format, body.to_vec(), opts).await?;
    if report.is_ok() {
        return Ok(axum::Json(report).into_response());
    }
    let p = ImportProblem {
        kind: "about:blank".into(),
        title: lang.pick("导入的文件有误，未写入任何数据", "The file has errors; nothing was imported").into(),
        status: 422,
        detail: match lang {
            guanxi_domain::Lang::Zh => format!("{} 行有误", report.bad_rows),
            guanxi_domain::Lang::En => format!("{} rows with errors", report.bad_rows),
        },
        rows: report.rows,
        bad_rows: report.bad_rows,
        errors: report.errors,
    };
    Ok(problem_response(StatusCode::UNPROCESSABLE_ENTITY, &p))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `csv` (default; UTF-8 with BOM) or `xlsx`.
    pub format: Option<String>,
}

/// Exports every customer in the caller's scope that matches the list's
/// filters (paging is ignored), ordered by code, with Chinese headers and
/// masked personal data. Each export is written to the audit log.
#[utoipa::path(get, path = "/api/v1/customers/export", tag = "customers", params(ExportParams, ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the file", content(
            ("text/csv"),
            ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )),
        (status = 401, body = Problem),
        (status = 422, body = Problem)
    ))]
pub async fn export_customers(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    export_response(&state, &user, ip, raw.as_deref()).await
}

/// The export file as a download: the list's filters from the query string,
/// `format=csv|xlsx`. Shared by the API and the customer list page.
pub async fn export_response(
    state: &AppState,
    user: &guanxi_store::users::User,
    ip: Option<String>,
    raw: Option<&str>,
) -> AppResult<Response> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("query string: {e}")))?;
    let format = match pairs.iter().find(|(k, _)| k == "format").map(|(_, v)| v.as_str()) {
        None | Some("") => FileFormat::Csv,
        Some(v) => FileFormat::parse(v).ok_or_else(|| AppError::field("format", guanxi_domain::Issue::NotAllowed))?,
    };
    let (_, filter) = parse_filter(raw, state)?;
    let bytes = export::export_customers(state, user, filter, format, ip).await?;
    let (mime, ext) = match format {
        FileFormat::Csv => (import::CSV_MIME, "csv"),
        FileFormat::Xlsx => (import::XLSX_MIME, "xlsx"),
    };
    let name = format!("customers-{}.{ext}", state.today().strftime("%Y%m%d"));
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}
