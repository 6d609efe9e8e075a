//! One application error. Handlers return it; a middleware that knows the
//! request's language turns it into an RFC 9457 problem+json body (API) or an
//! error page (web). Internal details are logged, never sent.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use guanxi_domain::{Issue, Lang, ValidationErrors};
use guanxi_store::StoreError;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 422: one or more fields were refused.
    #[error("invalid input")]
    Invalid(ValidationErrors),
    /// 400: the request could not be read at all.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 401: not logged in, or a missing/expired token.
    #[error("unauthorized")]
    Unauthorized,
    /// 403: logged in, but not allowed.
    #[error("forbidden")]
    Forbidden,
    /// 404: missing, or outside the caller's data scope.
    #[error("not found")]
    NotFound,
    /// 409: an action the record's state does not allow now (a ticket's
    /// status flow); the reason is told in both languages, nothing changed.
    #[error("refused: {code}")]
    Refused { code: &'static str, zh: String, en: String },
    /// 500: logged with its detail; the client sees a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Refused { .. } => StatusCode::CONFLICT,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn field(field: &str, issue: Issue) -> Self {
        AppError::Invalid(ValidationErrors::single(field, issue))
    }

    pub fn title(&self, lang: Lang) -> String {
        match self {
            AppError::Invalid(_) => lang.pick("提交的内容有误", "Some fields are invalid").into(),
            AppError::BadRequest(_) => lang.pick("请求无法处理", "The request could not be read").into(),
            AppError::Unauthorized => lang.pick("请先登录", "Authentication required").into(),
            AppError::Forbidden => lang.pick("没有权限执行此操作", "You are not allowed to do this").into(),
            AppError::NotFound => lang.pick("找不到该记录", "Not found").into(),
            AppError::Refused { .. } => lang.pick("当前无法执行该操作", "This cannot be done now").into(),
            AppError::Internal(_) => {
                lang.pick("服务器内部错误，请稍后重试", "Internal error, please retry later").into()
            }
        }
    }

    pub fn problem(&self, lang: Lang) -> Problem {
        let errors = match self {
            AppError::Invalid(e) => {
                e.0.iter()
                    .map(|f| FieldProblem {
                        field: f.field.clone(),
                        code: f.issue.code().into(),
                        message: f.issue.message(lang),
                    })
                    .collect()
            }
            AppError::Refused { code, zh, en } => vec![FieldProblem {
                field: "action".into(),
                code: (*code).into(),
                message: lang.pick(zh, en).to_string(),
            }],
            _ => Vec::new(),
        };
        let detail = match self {
            AppError::Invalid(e) => Some(
                e.0.iter().map(|f| format!("{}: {}", f.field, f.issue.message(lang))).collect::<Vec<_>>().join("; "),
            ),
            AppError::BadRequest(d) => Some(d.clone()),
            AppError::Refused { zh, en, .. } => Some(lang.pick(zh, en).to_string()),
            _ => None,
        };
        Problem { kind: "about:blank".into(), title: self.title(lang), status: self.status().as_u16(), detail, errors }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// One entry per refused field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    /// The field's name as in the request body, e.g. `phone`.
    pub field: String,
    /// A stable code, e.g. `invalid_phone`.
    pub code: String,
    /// The reason in the request's language.
    pub message: String,
}

/// Carried on the response until the error middleware renders it.
#[derive(Debug, Clone)]
pub struct PendingError(pub Arc<AppError>);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let mut res = self.status().into_response();
        res.extensions_mut().insert(PendingError(Arc::new(self)));
        res
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Invalid(v) => AppError::Invalid(v),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<guanxi_domain::ticket::lifecycle::TransitionError> for AppError {
    fn from(e: guanxi_domain::ticket::lifecycle::TransitionError) -> Self {
        AppError::Refused { code: e.code(), zh: e.message(Lang::Zh), en: e.message(Lang::En) }
    }
}

impl From<ValidationErrors> for AppError {
    fn from(e: ValidationErrors) -> Self {
        AppError::Invalid(e)
    }
}

pub type AppResult<T> = Result<T, AppError>;
