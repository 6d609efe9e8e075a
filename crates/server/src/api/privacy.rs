//! `/api/v1/customers/{id}/personal-data`: a data subject's access request
//! (SPEC S2) — everything stored about the customer, decrypted, as JSON or
//! as readable text. Each export is audited.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::ApiUser;
use crate::error::{AppError, AppResult, Problem};
use crate::service::privacy as svc;
use crate::state::AppState;
use crate::web::ClientIp;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PersonalDataParams {
    /// `json` (default) or `text` (readable, Chinese labels).
    pub format: Option<String>,
}

/// Everything stored about one customer, personal fields in clear: the
/// record, contacts, orders, communication records, action items and
/// tickets. Written to the audit log.
#[utoipa::path(get, path = "/api/v1/customers/{id}/personal-data", tag = "customers",
    params(("id" = i64, Path), PersonalDataParams), security(("bearer" = [])),
    responses(
        (status = 200, description = "the export", content(("application/json"), ("text/plain"))),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn personal_data(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    Query(p): Query<PersonalDataParams>,
) -> AppResult<Response> {
    let text = match p.format.as_deref().map(str::trim) {
        None | Some("" | "json") => false,
        Some("text") => true,
        Some(_) => return Err(AppError::field("format", guanxi_domain::Issue::NotAllowed)),
    };
    let data = svc::export(&state, &user, id, ip).await?;
    let code = data["customer"]["code"].as_str().unwrap_or("customer").to_string();
    let (body, mime, ext) = if text {
        (svc::as_text(&data), "text/plain; charset=utf-8", "txt")
    } else {
        (
            serde_json::to_string_pretty(&data).map_err(|e| AppError::Internal(e.to_string()))?,
            "application/json",
            "json",
        )
    };
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"personal-data-{code}.{ext}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// Erases the customer's personal data by anonymisation (SPEC S2): the
/// record becomes `已匿名客户 KH…` without phone, email or notes, contacts
/// lose every personal field, free text of communication records, tickets,
/// replies, complaints and messages is replaced, attachments are removed;
/// orders, ticket and complaint figures, segments and tags stay for the
/// statistics. Supervisors and admins; audited.
#[utoipa::path(post, path = "/api/v1/customers/{id}/anonymise", tag = "customers",
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204, description = "anonymised"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn anonymise(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
) -> AppResult<axum::http::StatusCode> {
    svc::anonymise(&state, &user, id, ip).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
