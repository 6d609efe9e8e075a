//! The JSON body extractor of the API. Its rejection is our own error, so a
//! malformed body gets a problem+json answer that names the offending field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use guanxi_domain::{Issue, ValidationErrors};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::AppError;

#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json") || ct.contains("+json"));
        if !is_json {
            return Err(AppError::BadRequest("Content-Type must be application/json".into()).into_response());
        }
        let bytes = match Bytes::from_request(req, state).await {
            Ok(b) => b,
            // Over the body limit without a Content-Length (a chunked body):
            // the limit's own 413, which the error renderer words with the limit.
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response());
            }
            Err(e) => return Err(AppError::BadRequest(e.body_text()).into_response()),
        };
        parse(&bytes).map(Json).map_err(IntoResponse::into_response)
    }
}

/// Deserialises a body; a wrong type or unknown field becomes a field error.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return AppError::BadRequest(format!("invalid JSON: {msg}"));
        }
        let field = if path == "." {
            // Unknown fields are reported at the struct: take the name from the message.
            msg.split('`').nth(1).unwrap_or("body").to_string()
        } else {
            path
        };
        let detail = msg.split(" at line").next().unwrap_or(&msg).to_string();
        AppError::Invalid(ValidationErrors::single(&field, Issue::Malformed(detail)))
    })
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
