//! Rule tags over the API (SPEC G6): a tag name and a segment condition
//! over tier, activity, RFM, churn signals, tags and fields. Anyone signed
//! in reads them; administrators create, change, disable and delete them. The next
//! recomputation applies the change to every customer.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use guanxi_domain::customer::Tag;
use guanxi_domain::{Lang, ValidationErrors};
use guanxi_store::rule_tags::RuleTag;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::ApiUser;
use crate::error::{AppError, AppResult, Problem};
use crate::lang::ReqLang;
use crate::service::rule_tags::{self as svc, RuleTagChange};
use crate::service::segments::parse_segment;
use crate::state::AppState;

/// A rule tag.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleTagView {
    pub id: i64,
    pub name: String,
    /// The condition, e.g. `{"all": [{"has_tag": "高价值"}, {"activity": "active"}]}`.
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
    /// The condition in words, in the caller's language.
    pub description: String,
    /// A disabled rule tag is given to nobody (the next recomputation
    /// removes it from the customers who had it).
    pub enabled: bool,
    /// One of the rule tags the system starts with (editable like the others).
    pub builtin: bool,
    pub updated_at: String,
}

impl RuleTagView {
    pub fn new(r: &RuleTag, lang: Lang) -> Self {
        Self {
            id: r.id,
            name: r.name.clone(),
            definition: serde_json::from_str(&r.definition).unwrap_or_default(),
            description: parse_segment(&r.definition).map(|s| s.describe(lang)).unwrap_or_default(),
            enabled: r.enabled,
            builtin: r.builtin,
            updated_at: r.updated_at.to_string(),
        }
    }
}

/// Every rule tag, in the order results list them.
#[utoipa::path(get, path = "/api/v1/rule-tags", tag = "segments", security(("bearer" = [])),
    responses((status = 200, body = Vec<RuleTagView>), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    ApiUser(_user): ApiUser,
    ReqLang(lang): ReqLang,
) -> AppResult<Json<Vec<RuleTagView>>> {
    Ok(Json(svc::list(&state).await?.iter().map(|r| RuleTagView::new(r, lang)).collect()))
}

/// One rule tag.
#[utoipa::path(get, path = "/api/v1/rule-tags/{id}", tag = "segments", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = RuleTagView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    ApiUser(_user): ApiUser,
    ReqLang(lang): ReqLang,
    Path(id): Path<i64>,
) -> AppResult<Json<RuleTagView>> {
    Ok(Json(RuleTagView::new(&svc::get(&state, id).await?, lang)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRuleTag {
    /// A tag name (up to 20 characters, no commas or semicolons), unique
    /// among rule tags.
    pub name: String,
    /// At least one condition; a rule may test other rule tags with
    /// `has_tag` but not itself, directly or through others.
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
    /// Default true.
    pub enabled: Option<bool>,
}

/// The definition as a segment; when it is not one, the name's own error
/// is reported with it.
fn definition(v: &serde_json::Value, name: Option<&str>) -> Result<guanxi_domain::segment::Segment, AppError> {
    svc::definition_from_json(v).map_err(|e| {
        let mut all = ValidationErrors::new();
        if let Some(Err(issue)) = name.map(Tag::parse) {
            all.add("name", issue);
        }
        all.0.extend(e.0);
        AppError::Invalid(all)
    })
}

fn admin_only(user: &guanxi_store::users::User) -> AppResult<()> {
    if user.role.can_administer_users() { Ok(()) } else { Err(AppError::Forbidden) }
}

/// Adds a rule tag (administrators). Refused input is answered with each
/// field's error (`name`, `definition`, `all[0]`…) and changes nothing.
#[utoipa::path(post, path = "/api/v1/rule-tags", tag = "segments", request_body = NewRuleTag,
    security(("bearer" = [])),
    responses((status = 201, body = RuleTagView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
    crate::api::json::Json(q): crate::api::json::Json<NewRuleTag>,
) -> AppResult<(StatusCode, Json<RuleTagView>)> {
    admin_only(&user)?;
    let seg = definition(&q.definition, Some(&q.name))?;
    let change = RuleTagChange { name: Some(q.name), definition: Some(seg), enabled: Some(q.enabled.unwrap_or(true)) };
    let id = svc::create(&state, &user, change).await?;
    Ok((StatusCode::CREATED, Json(RuleTagView::new(&svc::get(&state, id).await?, lang))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleTagPatch {
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub definition: Option<serde_json::Value>,
    /// `false` disables the rule tag.
    pub enabled: Option<bool>,
}

/// Changes a rule tag's name, condition or switch (administrators); fields
/// left out keep their value. A renamed rule tag is a new tag for the
/// customers: the next recomputation takes the old name away.
#[utoipa::path(patch, path = "/api/v1/rule-tags/{id}", tag = "segments", params(("id" = i64, Path)),
    request_body = RuleTagPatch, security(("bearer" = [])),
    responses((status = 200, body = RuleTagView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
    Path(id): Path<i64>,
    crate::api::json::Json(q): crate::api::json::Json<RuleTagPatch>,
) -> AppResult<Json<RuleTagView>> {
    admin_only(&user)?;
    let seg = q.definition.as_ref().map(|d| definition(d, q.name.as_deref())).transpose()?;
    svc::update(&state, &user, id, RuleTagChange { name: q.name, definition: seg, enabled: q.enabled }).await?;
    Ok(Json(RuleTagView::new(&svc::get(&state, id).await?, lang)))
}

/// Deletes a rule tag (administrators). The next recomputation takes the
/// tag from the customers who had it (on their timelines). Refused with 409
/// `rule_tag_in_use`, nothing changed, while another rule tag tests it
/// with `has_tag`; the message names them.
#[utoipa::path(delete, path = "/api/v1/rule-tags/{id}", tag = "segments", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    admin_only(&user)?;
    svc::delete(&state, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
