//! Knowledge-base pages (SPEC K1, K2): search and the article list, one
//! article with its versions, the article form; the script library and the
//! script form (with the variables a script may use); the knowledge panel
//! of the ticket page (suggested articles, scripts filled in for the
//! customer with a button that puts one into the reply box and records its
//! use).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use guanxi_domain::knowledge::ArticleCategory;
use guanxi_domain::knowledge::script::{self, Persona, ScriptStep};
use guanxi_domain::user::Role;
use guanxi_domain::{Lang, ValidationErrors};
use guanxi_store::knowledge::Article;
use guanxi_store::users;
use minijinja::{Value, context};

use super::{ClientIp, form_get, form_pairs, page_ctx, render};
use crate::auth::PageUser;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::knowledge::scripts::{self as scripts_svc, RenderedScript, ScriptForm, UsedOn};
use crate::service::knowledge::{self as svc, ArticleForm};
use crate::state::AppState;

const PAGE: i64 = 25;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/kb", get(index))
        .route("/kb/articles/new", get(new_article).post(create_article))
        .route("/kb/articles/{id}", get(article))
        .route("/kb/articles/{id}/edit", get(edit_article).post(update_article))
        .route("/kb/scripts", get(script_list))
        .route("/kb/scripts/new", get(new_script).post(create_script))
        .route("/kb/scripts/{id}/edit", get(edit_script).post(update_script))
        .route("/tickets/{id}/scripts/{script_id}/use", post(use_on_ticket))
}

fn pairs_of(raw: Option<&str>) -> Vec<(String, String)> {
    form_pairs(raw.unwrap_or("").as_bytes()).unwrap_or_default()
}

fn category_label(code: &str, lang: Lang) -> String {
    ArticleCategory::parse(code).map_or_else(|_| code.to_string(), |c| c.label(lang).to_string())
}

fn categories(lang: Lang) -> Vec<Value> {
    ArticleCategory::ALL.iter().map(|c| context! { value => c.code(), label => c.label(lang) }).collect()
}

fn local_date(at: jiff::Timestamp, state: &AppState) -> String {
    at.to_zoned(state.config.time_zone.clone()).strftime("%Y-%m-%d %H:%M").to_string()
}

fn article_ctx(a: &Article, state: &AppState, lang: Lang) -> Value {
    let today = state.today();
    context! {
        id => a.id, title => a.title, category => category_label(&a.category, lang), tags => a.tags,
        owner => a.owner_name, version => a.version, review_on => a.review_on.map(|d| d.to_string()),
        stale => a.review_on.is_some_and(|d| d <= today), updated => local_date(a.updated_at, state),
        paragraphs => a.body.split('\n').map(str::trim).filter(|p| !p.is_empty()).collect::<Vec<_>>(),
    }
}

fn flash(pairs: &[(String, String)], lang: Lang) -> Option<&'static str> {
    match form_get(pairs, "flash")? {
        "saved" => Some(lang.pick("已保存", "Saved")),
        "script_saved" => Some(lang.pick("话术已保存", "Script saved")),
        _ => None,
    }
}

/// Search (with `q`) or the list of articles, newest first.
async fn index(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let pairs = pairs_of(raw.as_deref());
    let q = svc::clean_query(form_get(&pairs, "q").unwrap_or(""));
    let category = form_get(&pairs, "category").and_then(|c| ArticleCategory::parse(c).ok()).map(|c| c.code());
    let stale = form_get(&pairs, "stale").is_some_and(|s| s == "1");
    let before = form_get(&pairs, "before").and_then(|b| b.parse::<i64>().ok());
    let (hits, articles, next) = if q.is_empty() {
        let list = svc::list(&state, category.map(str::to_string), stale, before, PAGE + 1).await?;
        let next = (list.len() as i64 > PAGE).then(|| list.get(PAGE as usize - 1).map(|a| a.id)).flatten();
        let articles: Vec<Value> = list
            .iter()
            .take(PAGE as usize)
            .map(|a| {
                let mut ctx = article_ctx(a, &state, lang);
                if let Some(o) = &a.owner_name {
                    ctx = context! { owner => o, ..ctx };
                }
                ctx
            })
            .collect();
        (Vec::new(), articles, next)
    } else {
        let hits = svc::search(&state, &q, 20).await?;
        let hits: Vec<Value> = hits
            .iter()
            .filter(|h| category.is_none_or(|c| h.article.category == c))
            .map(|h| {
                context! {
                    snippet => svc::snippet(&h.article.body, &q, 90),
                    ..article_ctx(&h.article, &state, lang)
                }
            })
            .collect();
        (hits, Vec::new(), None)
    };
    let ctx = context! { ..page_ctx(&u, lang, "kb", lang.pick("知识库", "Knowledge base")), ..context! {
        q => q, category => category.unwrap_or(""), stale => stale, hits => hits, articles => articles, next => next,
        categories => categories(lang), can_write => u.user.role.can_edit_customers(),
        flash => flash(&pairs, lang),
    }};
    render(&state, "knowledge/index.html", ctx)
}

async fn article(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let (a, versions) = svc::get(&state, id).await?;
    let ctx = context! { ..page_ctx(&u, lang, "kb", &a.title), ..context! {
        a => article_ctx(&a, &state, lang),
        versions => versions.iter().map(|v| context! {
            version => v.version, title => v.title, editor => v.editor_name, at => local_date(v.created_at, &state),
        }).collect::<Vec<_>>(),
        can_write => u.user.role.can_edit_customers(),
        flash => flash(&pairs_of(raw.as_deref()), lang),
    }};
    render(&state, "knowledge/article.html", ctx)
}

fn errors_ctx(e: Option<&ValidationErrors>, lang: Lang, label: impl Fn(&str) -> String) -> (Vec<Value>, Value) {
    let Some(e) = e else { return (Vec::new(), context! {}) };
    let list =
        e.0.iter()
            .map(|f| context! { field => f.field, label => label(&f.field), message => f.issue.message(lang) })
            .collect();
    let map: std::collections::BTreeMap<String, String> =
        e.0.iter().map(|f| (f.field.clone(), f.issue.message(lang))).collect();
    (list, Value::from_serialize(&map))
}

fn article_field(f: &str, lang: Lang) -> String {
    match f {
        "title" => lang.pick("标题", "Title"),
        "body" => lang.pick("正文", "Body"),
        "category" => lang.pick("分类", "Category"),
        "tags" => lang.pick("标签", "Tags"),
        "owner_id" => lang.pick("负责人", "Owner"),
        "review_on" => lang.pick("复核日期", "Review by"),
        other => other,
    }
    .to_string()
}

async fn article_form(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    id: Option<i64>,
    f: &ArticleForm,
    e: Option<&ValidationErrors>,
) -> AppResult<Html<String>> {
    let staff = state.db.read(users::list_active).await?;
    let (errors, err) = errors_ctx(e, lang, |f| article_field(f, lang));
    let heading =
        if id.is_some() { lang.pick("编辑文章", "Edit article") } else { lang.pick("新建文章", "New article") };
    let ctx = context! { ..page_ctx(u, lang, "kb", heading), ..context! {
        heading => heading, errors => errors, err => err,
        action => id.map_or_else(|| "/kb/articles/new".to_string(), |id| format!("/kb/articles/{id}/edit")),
        v => context! {
            title => f.title, body => f.body, category => f.category, tags => f.tags,
            owner_id => f.owner_id, review_on => f.review_on,
        },
        categories => categories(lang),
        staff => staff.iter().map(|s| context! { value => s.id, label => s.name }).collect::<Vec<_>>(),
    }};
    render(state, "knowledge/article_form.html", ctx)
}

fn article_from(pairs: &[(String, String)]) -> Result<ArticleForm, ValidationErrors> {
    let get = |k: &str| form_get(pairs, k).unwrap_or("").to_string();
    let owner = get("owner_id");
    let owner_id = if owner.trim().is_empty() {
        None
    } else {
        Some(
            owner
                .trim()
                .parse::<i64>()
                .map_err(|_| ValidationErrors::single("owner_id", guanxi_domain::Issue::Unknown))?,
        )
    };
    Ok(ArticleForm {
        title: get("title"),
        body: get("body"),
        category: get("category"),
        tags: get("tags"),
        owner_id,
        review_on: Some(get("review_on")),
    })
}

async fn new_article(State(state): State<AppState>, ReqLang(lang): ReqLang, u: PageUser) -> AppResult<Html<String>> {
    if !u.user.role.can_edit_customers() {
        return Err(AppError::Forbidden);
    }
    let f = ArticleForm { category: "solution".into(), ..ArticleForm::default() };
    article_form(&state, lang, &u, None, &f, None).await
}

async fn edit_article(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
) -> AppResult<Html<String>> {
    if !u.user.role.can_edit_customers() {
        return Err(AppError::Forbidden);
    }
    let (a, _) = svc::get(&state, id).await?;
    let f = ArticleForm {
        title: a.title,
        body: a.body,
        category: a.category,
        tags: a.tags.join(", "),
        owner_id: a.owner_id,
        review_on: a.review_on.map(|d| d.to_string()),
    };
    article_form(&state, lang, &u, Some(id), &f, None).await
}

async fn save_article(
    state: AppState,
    lang: Lang,
    u: PageUser,
    ip: Option<String>,
    id: Option<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let form = match article_from(&pairs) {
        Ok(f) => f,
        Err(e) => {
            let f = ArticleForm {
                title: form_get(&pairs, "title").unwrap_or("").into(),
                body: form_get(&pairs, "body").unwrap_or("").into(),
                category: form_get(&pairs, "category").unwrap_or("").into(),
                tags: form_get(&pairs, "tags").unwrap_or("").into(),
                owner_id: None,
                review_on: form_get(&pairs, "review_on").map(str::to_string),
            };
            let page = article_form(&state, lang, &u, id, &f, Some(&e)).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let result = match id {
        Some(id) => svc::update(&state, &u.user, id, &form, ip).await,
        None => svc::create(&state, &u.user, &form, ip).await,
    };
    match result {
        Ok(a) => Ok(Redirect::to(&format!("/kb/articles/{}?flash=saved", a.id)).into_response()),
        Err(AppError::Invalid(e)) => {
            let page = article_form(&state, lang, &u, id, &form, Some(&e)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

async fn create_article(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> AppResult<Response> {
    save_article(state, lang, u, ip, None, body).await
}

async fn update_article(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    save_article(state, lang, u, ip, Some(id), body).await
}

// ---- Scripts ----

fn scenarios(lang: Lang) -> Vec<Value> {
    let mut v: Vec<Value> = script::TICKET_SCENARIOS
        .iter()
        .map(|(code, zh, en)| context! { value => code, label => lang.pick(zh, en) })
        .collect();
    v.extend(guanxi_domain::plan::Scenario::ALL.iter().map(|s| context! { value => s.code(), label => s.label(lang) }));
    v
}

fn may_author(u: &PageUser) -> bool {
    matches!(u.user.role, Role::Supervisor | Role::Admin)
}

async fn script_list(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let pairs = pairs_of(raw.as_deref());
    let scenario = form_get(&pairs, "scenario").and_then(|s| script::parse_scenario(s).ok());
    let list = scripts_svc::list(&state, scenario.clone(), false).await?;
    let ctx = context! { ..page_ctx(&u, lang, "kb", lang.pick("话术库", "Script library")), ..context! {
        scenario => scenario.unwrap_or_default(), scenarios => scenarios(lang), can_author => may_author(&u),
        flash => flash(&pairs, lang),
        scripts => list.iter().map(|s| context! {
            id => s.id, scenario => script::scenario_label(&s.scenario, lang),
            step => ScriptStep::parse(&s.step).map_or_else(|_| s.step.clone(), |x| x.label(lang).to_string()),
            persona => Persona::parse(&s.persona).map_or_else(|_| s.persona.clone(), |x| x.label(lang).to_string()),
            title => s.title, body => s.body, active => s.active,
        }).collect::<Vec<_>>(),
    }};
    render(&state, "knowledge/scripts.html", ctx)
}

fn script_field(f: &str, lang: Lang) -> String {
    match f {
        "scenario" => lang.pick("场景", "Scenario"),
        "step" => lang.pick("步骤", "Step"),
        "persona" => lang.pick("适用客户", "For"),
        "position" => lang.pick("排序", "Position"),
        "title" => lang.pick("标题", "Title"),
        "body" => lang.pick("话术内容", "Text"),
        other => other,
    }
    .to_string()
}

fn script_form(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    id: Option<i64>,
    pairs: &[(String, String)],
    e: Option<&ValidationErrors>,
) -> AppResult<Html<String>> {
    let (errors, err) = errors_ctx(e, lang, |f| script_field(f, lang));
    let heading =
        if id.is_some() { lang.pick("编辑话术", "Edit script") } else { lang.pick("新建话术", "New script") };
    let get = |k: &str| form_get(pairs, k).unwrap_or("").to_string();
    let ctx = context! { ..page_ctx(u, lang, "kb", heading), ..context! {
        heading => heading, errors => errors, err => err,
        action => id.map_or_else(|| "/kb/scripts/new".to_string(), |id| format!("/kb/scripts/{id}/edit")),
        v => context! {
            scenario => get("scenario"), step => get("step"), persona => get("persona"), position => get("position"),
            title => get("title"), body => get("body"), active => form_get(pairs, "active").is_some(),
        },
        scenarios => scenarios(lang),
        steps => ScriptStep::ALL.iter().map(|s| context! { value => s.code(), label => s.label(lang) }).collect::<Vec<_>>(),
        personas => Persona::ALL.iter().map(|s| context! { value => s.code(), label => s.label(lang) }).collect::<Vec<_>>(),
        variables => script::VARIABLES.iter().map(|(n, zh, en)| context! { name => n, label => lang.pick(zh, en) }).collect::<Vec<_>>(),
    }};
    render(state, "knowledge/script_form.html", ctx)
}

async fn new_script(State(state): State<AppState>, ReqLang(lang): ReqLang, u: PageUser) -> AppResult<Html<String>> {
    if !may_author(&u) {
        return Err(AppError::Forbidden);
    }
    let pairs = vec![("position".to_string(), "100".to_string()), ("active".to_string(), "1".to_string())];
    script_form(&state, lang, &u, None, &pairs, None)
}

async fn edit_script(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
) -> AppResult<Html<String>> {
    if !may_author(&u) {
        return Err(AppError::Forbidden);
    }
    let s = scripts_svc::get(&state, id).await?;
    let mut pairs: Vec<(String, String)> = vec![
        ("scenario".into(), s.scenario),
        ("step".into(), s.step),
        ("persona".into(), s.persona),
        ("position".into(), s.position.to_string()),
        ("title".into(), s.title),
        ("body".into(), s.body),
    ];
    if s.active {
        pairs.push(("active".into(), "1".into()));
    }
    script_form(&state, lang, &u, Some(id), &pairs, None)
}

async fn save_script(
    state: AppState,
    lang: Lang,
    u: PageUser,
    ip: Option<String>,
    id: Option<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let get = |k: &str| form_get(&pairs, k).unwrap_or("").to_string();
    let position = get("position");
    let form = ScriptForm {
        scenario: get("scenario"),
        step: get("step"),
        persona: Some(get("persona")),
        position: if position.trim().is_empty() { None } else { Some(position.trim().parse().unwrap_or(-1)) },
        title: get("title"),
        body: get("body"),
        active: Some(form_get(&pairs, "active").is_some()),
    };
    match scripts_svc::save(&state, &u.user, id, &form, ip).await {
        Ok(s) => Ok(Redirect::to(&format!("/kb/scripts?scenario={}&flash=script_saved", s.scenario)).into_response()),
        Err(AppError::Invalid(e)) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, script_form(&state, lang, &u, id, &pairs, Some(&e))?).into_response())
        }
        Err(e) => Err(e),
    }
}

async fn create_script(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> AppResult<Response> {
    save_script(state, lang, u, ip, None, body).await
}

async fn update_script(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    save_script(state, lang, u, ip, Some(id), body).await
}

// ---- The ticket page's panel ----

/// Scripts for a template (`knowledge/script_text.html`).
pub(crate) fn script_items(list: &[RenderedScript]) -> Vec<Value> {
    list.iter()
        .map(|s| {
            context! {
                id => s.id, title => s.title, step_label => s.step_label, persona => s.persona,
                persona_label => s.persona_label, text => s.text, missing => s.missing, source => s.source,
            }
        })
        .collect()
}

/// The knowledge panel of a ticket: suggested articles and its scripts.
pub(crate) async fn ticket_panel(
    state: &AppState,
    u: &PageUser,
    ticket_id: i64,
    used: Option<i64>,
    lang: Lang,
) -> AppResult<Value> {
    let hits = svc::suggest_for_ticket(state, &u.user, ticket_id, 5).await?;
    let scripts = scripts_svc::for_ticket(state, &u.user, ticket_id, lang).await?;
    Ok(context! {
        ticket_id => ticket_id, used => used, can_use => u.user.role.can_create_tickets(),
        suggestions => hits.iter().map(|h| context! {
            id => h.article.id, title => h.article.title, category => category_label(&h.article.category, lang),
            snippet => svc::snippet(&h.article.body, &h.article.title, 60),
        }).collect::<Vec<_>>(),
        scripts => script_items(&scripts),
    })
}

/// Records a script's use on a ticket (the panel's button; with scripts
/// on, the page has already put the text into the reply box).
async fn use_on_ticket(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path((id, script_id)): Path<(i64, i64)>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    scripts_svc::use_script(&state, &u.user, script_id, UsedOn::Ticket(id), lang).await?;
    Ok(Redirect::to(&format!("/tickets/{id}?script={script_id}#kb-scripts")).into_response())
}
