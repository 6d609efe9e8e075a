//! Which language a request speaks: the `lang` cookie set by the language
//! switch, else `?lang=`, else `Accept-Language`, else the configured default.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use guanxi_domain::Lang;

use crate::state::AppState;

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub fn request_lang(headers: &HeaderMap, query: Option<&str>, default: Lang) -> Lang {
    if let Some(c) = cookie(headers, "lang") {
        return Lang::from_tag(c);
    }
    if let Some(q) = query
        && let Some(v) = q.split('&').find_map(|kv| kv.strip_prefix("lang="))
    {
        return Lang::from_tag(v);
    }
    headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_accept_language)
        .unwrap_or(default)
}

/// The language of this request.
#[derive(Debug, Clone, Copy)]
pub struct ReqLang(pub Lang);

impl FromRequestParts<AppState> for ReqLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ReqLang(request_lang(&parts.headers, parts.uri.query(), state.config.default_lang)))
    }
}
