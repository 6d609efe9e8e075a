//! `/api/v1/kb` and `/api/v1/scripts`: the knowledge base (SPEC K1) —
//! articles with versions, ranked Chinese search, suggestions for a
//! ticket — and the script library (K2) with the record of use (K3).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use guanxi_domain::knowledge::ArticleCategory;
use guanxi_domain::{Issue, Lang, ValidationErrors};
use guanxi_store::knowledge::{Article, ArticleVersion, Hit, Script};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::json::Json;
use crate::auth::ApiUser;
use crate::error::{AppError, AppResult, Problem};
use crate::lang::ReqLang;
use crate::service::knowledge::scripts::{self, RenderedScript, ScriptForm, UsedOn};
use crate::service::knowledge::{self as svc, ArticleForm};
use crate::state::AppState;
use crate::web::ClientIp;

/// A knowledge-base article.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ArticleView {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub category: String,
    pub category_label: String,
    pub tags: Vec<String>,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub version: i64,
    /// YYYY-MM-DD.
    pub review_on: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl ArticleView {
    pub fn new(a: &Article, lang: Lang) -> Self {
        ArticleView {
            id: a.id,
            title: a.title.clone(),
            body: a.body.clone(),
            category: a.category.clone(),
            category_label: ArticleCategory::parse(&a.category)
                .map_or_else(|_| a.category.clone(), |c| c.label(lang).to_string()),
            tags: a.tags.clone(),
            owner_id: a.owner_id,
            owner_name: a.owner_name.clone(),
            version: a.version,
            review_on: a.review_on.map(|d| d.to_string()),
            created_at: a.created_at.to_string(),
            updated_at: a.updated_at.to_string(),
        }
    }
}

/// An article with its versions, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ArticleDetail {
    pub article: ArticleView,
    pub versions: Vec<VersionView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionView {
    pub version: i64,
    pub title: String,
    pub editor_name: Option<String>,
    pub created_at: String,
}

fn version_view(v: &ArticleVersion) -> VersionView {
    VersionView {
        version: v.version,
        title: v.title.clone(),
        editor_name: v.editor_name.clone(),
        created_at: v.created_at.to_string(),
    }
}

/// A page of articles.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ArticlePage {
    pub items: Vec<ArticleView>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next: Option<i64>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only this category.
    pub category: Option<String>,
    /// Only articles whose review date has come (`true`).
    pub stale: Option<bool>,
    /// The `next` of the previous page.
    pub before: Option<i64>,
    /// 1–100, default 25.
    pub limit: Option<i64>,
}

fn query<T: serde::de::DeserializeOwned>(raw: Option<String>) -> AppResult<T> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| AppError::field("query", Issue::Malformed(e.to_string())))
}

fn limit_of(raw: Option<i64>, default: i64, max: i64) -> AppResult<i64> {
    let n = raw.unwrap_or(default);
    if (1..=max).contains(&n) { Ok(n) } else { Err(AppError::field("limit", Issue::OutOfRange)) }
}

/// Articles, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/kb/articles", tag = "knowledge", params(ListParams), security(("bearer" = [])),
    responses((status = 200, body = ArticlePage), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(_user): ApiUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Json<ArticlePage>> {
    let q: ListParams = query(raw)?;
    let limit = limit_of(q.limit, 25, 100)?;
    let category = match q.category.as_deref() {
        Some(c) => Some(ArticleCategory::parse(c).map_err(|i| AppError::field("category", i))?.code().to_string()),
        None => None,
    };
    let items = svc::list(&state, category, q.stale.unwrap_or(false), q.before, limit + 1).await?;
    let more = items.len() as i64 > limit;
    let items: Vec<ArticleView> = items.iter().take(limit as usize).map(|a| ArticleView::new(a, lang)).collect();
    let next = if more { items.last().map(|a| a.id) } else { None };
    Ok(Json(ArticlePage { items, next }))
}

/// Writes a new article (version 1). Its owner defaults to the caller.
#[utoipa::path(post, path = "/api/v1/kb/articles", tag = "knowledge", request_body = ArticleForm, security(("bearer" = [])),
    responses((status = 201, body = ArticleView), (status = 403, body = Problem), (status = 422, description = "a refused field", body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Json(form): Json<ArticleForm>,
) -> AppResult<(StatusCode, Json<ArticleView>)> {
    let a = svc::create(&state, &user, &form, ip).await?;
    Ok((StatusCode::CREATED, Json(ArticleView::new(&a, lang))))
}

/// One article with its versions.
#[utoipa::path(get, path = "/api/v1/kb/articles/{id}", tag = "knowledge", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = ArticleDetail), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(_user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<Json<ArticleDetail>> {
    let (a, versions) = svc::get(&state, id).await?;
    Ok(Json(ArticleDetail {
        article: ArticleView::new(&a, lang),
        versions: versions.iter().map(version_view).collect(),
    }))
}

/// Saves a new version of an article (the earlier ones are kept).
#[utoipa::path(put, path = "/api/v1/kb/articles/{id}", tag = "knowledge", params(("id" = i64, Path)), request_body = ArticleForm,
    security(("bearer" = [])),
    responses((status = 200, body = ArticleView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    Json(form): Json<ArticleForm>,
) -> AppResult<Json<ArticleView>> {
    let a = svc::update(&state, &user, id, &form, ip).await?;
    Ok(Json(ArticleView::new(&a, lang)))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Chinese keywords such as `退款` or `物流 延迟` (at most 100 characters are used).
    pub q: Option<String>,
    /// 1–50, default 10.
    pub limit: Option<i64>,
}

/// An article found, with its score and a snippet around the match.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HitView {
    pub article: ArticleView,
    pub score: f64,
    pub snippet: String,
}

fn hit_view(h: &Hit, q: &str, lang: Lang) -> HitView {
    HitView {
        article: ArticleView::new(&h.article, lang),
        score: h.score,
        snippet: svc::snippet(&h.article.body, q, 80),
    }
}

/// Ranked search (BM25 over two-character terms, the title weighing more).
#[utoipa::path(get, path = "/api/v1/kb/search", tag = "knowledge", params(SearchParams), security(("bearer" = [])),
    responses((status = 200, body = Vec<HitView>), (status = 422, description = "no `q`, or a bad `limit`", body = Problem)))]
pub async fn search(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(_user): ApiUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Json<Vec<HitView>>> {
    let p: SearchParams = query(raw)?;
    let limit = limit_of(p.limit, 10, 50)?;
    let q = svc::clean_query(p.q.as_deref().unwrap_or(""));
    if q.is_empty() {
        return Err(AppError::field("q", Issue::Required));
    }
    let hits = svc::search(&state, &q, limit).await?;
    Ok(Json(hits.iter().map(|h| hit_view(h, &q, lang)).collect()))
}

/// Articles that may answer a ticket, from its subject and description.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/suggested-articles", tag = "knowledge", params(("id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = Vec<HitView>), (status = 404, body = Problem)))]
pub async fn suggested(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<HitView>>> {
    let hits = svc::suggest_for_ticket(&state, &user, id, 5).await?;
    Ok(Json(hits.iter().map(|h| hit_view(h, &h.article.title, lang)).collect()))
}

/// A script of the library.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScriptView {
    pub id: i64,
    pub scenario: String,
    pub step: String,
    pub persona: String,
    pub position: i64,
    pub title: String,
    pub body: String,
    pub active: bool,
}

fn script_view(s: &Script) -> ScriptView {
    ScriptView {
        id: s.id,
        scenario: s.scenario.clone(),
        step: s.step.clone(),
        persona: s.persona.clone(),
        position: s.position,
        title: s.title.clone(),
        body: s.body.clone(),
        active: s.active,
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ScriptParams {
    /// Only this scenario (a maintenance scenario, `ticket` or `complaint`).
    pub scenario: Option<String>,
}

/// The library's scripts (at most 500), by scenario and position.
#[utoipa::path(get, path = "/api/v1/scripts", tag = "knowledge", params(ScriptParams), security(("bearer" = [])),
    responses((status = 200, body = Vec<ScriptView>), (status = 422, body = Problem)))]
pub async fn list_scripts(
    State(state): State<AppState>,
    ApiUser(_user): ApiUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Json<Vec<ScriptView>>> {
    let p: ScriptParams = query(raw)?;
    let scenario = match p.scenario.as_deref() {
        Some(s) => {
            Some(guanxi_domain::knowledge::script::parse_scenario(s).map_err(|i| AppError::field("scenario", i))?)
        }
        None => None,
    };
    Ok(Json(scripts::list(&state, scenario, false).await?.iter().map(script_view).collect()))
}

/// Adds a script (supervisors and administrators). A body naming a
/// variable the library does not know is refused with 422 and the
/// variable's name (`errors[0].field` is `body`).
#[utoipa::path(post, path = "/api/v1/scripts", tag = "knowledge", request_body = ScriptForm, security(("bearer" = [])),
    responses((status = 201, body = ScriptView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_script(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Json(form): Json<ScriptForm>,
) -> AppResult<(StatusCode, Json<ScriptView>)> {
    let s = scripts::save(&state, &user, None, &form, ip).await?;
    Ok((StatusCode::CREATED, Json(script_view(&s))))
}

/// Changes a script (supervisors and administrators).
#[utoipa::path(put, path = "/api/v1/scripts/{id}", tag = "knowledge", params(("id" = i64, Path)), request_body = ScriptForm,
    security(("bearer" = [])),
    responses((status = 200, body = ScriptView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_script(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    Json(form): Json<ScriptForm>,
) -> AppResult<Json<ScriptView>> {
    let s = scripts::save(&state, &user, Some(id), &form, ip).await?;
    Ok(Json(script_view(&s)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UseInput {
    /// The ticket it is used on (or `task_id`).
    pub ticket_id: Option<i64>,
    /// The maintenance task it is used on.
    pub task_id: Option<i64>,
}

/// Renders a script for the customer of a ticket or maintenance task and
/// records its use (K3). A variable without a value for this customer is
/// listed in `missing` (and `text` is absent) rather than left blank.
#[utoipa::path(post, path = "/api/v1/scripts/{id}/uses", tag = "knowledge", params(("id" = i64, Path)), request_body = UseInput,
    security(("bearer" = [])),
    responses((status = 201, body = RenderedScript), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn use_script(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(input): Json<UseInput>,
) -> AppResult<(StatusCode, Json<RenderedScript>)> {
    let on = match (input.ticket_id, input.task_id) {
        (Some(t), None) => UsedOn::Ticket(t),
        (None, Some(t)) => UsedOn::Task(t),
        (None, None) => return Err(AppError::field("ticket_id", Issue::Required)),
        (Some(_), Some(_)) => {
            let mut e = ValidationErrors::new();
            e.add("task_id", Issue::NotAllowed);
            return Err(e.into());
        }
    };
    Ok((StatusCode::CREATED, Json(scripts::use_script(&state, &user, id, on, lang).await?)))
}

/// A ticket's scripts rendered for its customer.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/scripts", tag = "knowledge", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Vec<RenderedScript>), (status = 404, body = Problem)))]
pub async fn ticket_scripts(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<RenderedScript>>> {
    Ok(Json(scripts::for_ticket(&state, &user, id, lang).await?))
}
