//! Rule tags (SPEC G6): the list (everyone may read what a tag means), and
//! for administrators the form to create or change one — a tag name and
//! the same condition fields as the segment builder, "any of" groups
//! included, with a preview of who matches now — and the switch that
//! disables or enables it, and deletion after a confirmation. The next
//! recomputation applies every change.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use guanxi_domain::segment::Segment;
use guanxi_domain::{Lang, ValidationErrors};
use guanxi_store::rule_tags::RuleTag;
use jiff::Timestamp;
use minijinja::{Value, context};

use super::builder::{condition_options, error_ctx, preview_ctx};
use super::conditions::{ConditionForm, field_label};
use super::{flash_text, query_pairs};
use crate::auth::PageUser;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::rule_tags::{self as svc, RuleTagChange};
use crate::service::segments::parse_segment;
use crate::state::AppState;
use crate::web::{form_get, form_pairs, page_ctx, render};

/// The rule-tag form as typed.
#[derive(Debug, Clone, Default)]
struct RuleTagForm {
    name: String,
    enabled: bool,
    conditions: ConditionForm,
}

impl RuleTagForm {
    fn from_pairs(pairs: &[(String, String)]) -> Self {
        RuleTagForm {
            name: form_get(pairs, "name").unwrap_or("").trim().to_string(),
            enabled: matches!(form_get(pairs, "enabled"), Some(v) if !v.is_empty()),
            conditions: ConditionForm::from_pairs(pairs),
        }
    }
}

fn admin_only(u: &PageUser) -> AppResult<()> {
    if u.user.role.can_administer_users() { Ok(()) } else { Err(AppError::Forbidden) }
}

fn when(state: &AppState, t: Timestamp) -> Option<String> {
    (t.as_millisecond() > 0).then(|| t.to_zoned(state.config.time_zone.clone()).strftime("%Y-%m-%d %H:%M").to_string())
}

fn row(state: &AppState, r: &RuleTag, lang: Lang) -> Value {
    let description = match parse_segment(&r.definition) {
        Ok(seg) => seg.describe(lang),
        Err(_) => lang.pick("（定义无法读取）", "(the definition cannot be read)").to_string(),
    };
    context! {
        id => r.id, name => r.name, description => description, enabled => r.enabled, builtin => r.builtin,
        updated => when(state, r.updated_at), updated_by => r.updated_by_name,
        href => format!("/segments/rule-tags/{}", r.id),
        members => format!("/segments/members?{}", serde_urlencoded::to_string([("tag", r.name.as_str())]).unwrap_or_default()),
    }
}

pub(super) async fn list(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let pairs = query_pairs(raw.as_deref());
    let rows = svc::list(&state).await?;
    let title = lang.pick("规则标签", "Rule tags");
    let ctx = context! { ..page_ctx(&u, lang, "segments", title), ..context! {
        items => rows.iter().map(|r| row(&state, r, lang)).collect::<Vec<_>>(),
        can_manage => u.user.role.can_administer_users(),
        flash => flash_text(&pairs, lang),
        tab => "rule_tags",
    }};
    render(&state, "segments/rule_tags.html", ctx)
}

/// What the form page shows besides the form.
struct FormPage<'a> {
    form: &'a RuleTagForm,
    /// The rule tag being edited.
    editing: Option<&'a RuleTag>,
    preview: Option<Segment>,
    errors: ValidationErrors,
}

async fn render_form(state: &AppState, lang: Lang, u: &PageUser, p: FormPage<'_>) -> AppResult<Response> {
    let query = p.form.conditions.query();
    let preview = match p.preview {
        Some(seg) => Some(preview_ctx(state, lang, u, seg, &query).await?),
        None => None,
    };
    let o = condition_options(state, lang, &p.form.conditions.industry).await?;
    let (errors, err) = error_ctx(&p.errors, lang, |f| match f {
        "name" => lang.pick("标签名称", "Tag name").to_string(),
        "definition" => lang.pick("条件", "Conditions").to_string(),
        f => field_label(f, lang),
    });
    let title = match p.editing {
        Some(r) => format!("{}{}", lang.pick("编辑规则标签：", "Edit rule tag: "), r.name),
        None => lang.pick("新建规则标签", "New rule tag").to_string(),
    };
    let action = match p.editing {
        Some(r) => format!("/segments/rule-tags/{}", r.id),
        None => "/segments/rule-tags/new".into(),
    };
    let ctx = context! { ..page_ctx(u, lang, "segments", &title), ..context! {
        v => p.form.conditions.values(lang),
        name => p.form.name,
        enabled => p.form.enabled,
        editing => p.editing.map(|r| row(state, r, lang)),
        action => action,
        errors => errors,
        err => err,
        o => o,
        preview => preview,
        tab => "rule_tags",
    }};
    let status = if p.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, render(state, "segments/rule_tag_form.html", ctx)?).into_response())
}

pub(super) async fn new_form(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    admin_only(&u)?;
    // Conditions may come in the query (e.g. "make a rule tag of this segment").
    let pairs = query_pairs(raw.as_deref());
    let form = RuleTagForm { enabled: true, ..RuleTagForm::from_pairs(&pairs) };
    let preview = form.conditions.has_conditions().then(|| form.conditions.segment().ok()).flatten();
    render_form(&state, lang, &u, FormPage { form: &form, editing: None, preview, errors: ValidationErrors::new() })
        .await
}

pub(super) async fn edit_form(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    admin_only(&u)?;
    let r = svc::get(&state, id).await?;
    let seg = parse_segment(&r.definition).unwrap_or_default();
    // A condition the form cannot show (made over the API) is shown empty:
    // the description above the form says what it is.
    let conditions = ConditionForm::from_segment(&seg).unwrap_or_default();
    let form = RuleTagForm { name: r.name.clone(), enabled: r.enabled, conditions };
    let page = FormPage { form: &form, editing: Some(&r), preview: Some(seg), errors: ValidationErrors::new() };
    render_form(&state, lang, &u, page).await
}

/// Previews or saves the posted form. Whatever is wrong is said beside its
/// field, and nothing is saved.
async fn submit(state: &AppState, lang: Lang, u: &PageUser, id: Option<i64>, body: &[u8]) -> AppResult<Response> {
    let pairs = form_pairs(body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    admin_only(u)?;
    let editing = match id {
        Some(id) => Some(svc::get(state, id).await?),
        None => None,
    };
    let form = RuleTagForm::from_pairs(&pairs);
    let parsed = form.conditions.segment();
    if form_get(&pairs, "action") != Some("save") {
        let page = match parsed {
            Ok(seg) => {
                FormPage { form: &form, editing: editing.as_ref(), preview: Some(seg), errors: ValidationErrors::new() }
            }
            Err(errors) => FormPage { form: &form, editing: editing.as_ref(), preview: None, errors },
        };
        return render_form(state, lang, u, page).await;
    }
    let errors = match &parsed {
        Ok(seg) => {
            let change = RuleTagChange {
                name: Some(form.name.clone()),
                definition: Some(seg.clone()),
                enabled: Some(form.enabled),
            };
            let saved = match id {
                Some(id) => svc::update(state, &u.user, id, change).await,
                None => svc::create(state, &u.user, change).await.map(|_| ()),
            };
            match saved {
                Ok(()) => return Ok(Redirect::to("/segments/rule-tags?flash=rule_saved").into_response()),
                Err(AppError::Invalid(e)) => e,
                Err(e) => return Err(e),
            }
        }
        Err(e) => {
            // Say what is wrong with the name too.
            let mut all = e.clone();
            if let Err(issue) = guanxi_domain::customer::Tag::parse(&form.name) {
                all.0.insert(0, guanxi_domain::validation::FieldError { field: "name".into(), issue });
            }
            all
        }
    };
    render_form(state, lang, u, FormPage { form: &form, editing: editing.as_ref(), preview: parsed.ok(), errors }).await
}

pub(super) async fn create(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    body: Bytes,
) -> AppResult<Response> {
    submit(&state, lang, &u, None, &body).await
}

pub(super) async fn update(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    submit(&state, lang, &u, Some(id), &body).await
}

/// Disables an enabled rule tag, or enables a disabled one.
pub(super) async fn toggle(
    State(state): State<AppState>,
    u: PageUser,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    admin_only(&u)?;
    let r = svc::get(&state, id).await?;
    let enabled = !r.enabled;
    svc::update(&state, &u.user, id, RuleTagChange { enabled: Some(enabled), ..RuleTagChange::default() }).await?;
    let flash = if enabled { "rule_enabled" } else { "rule_disabled" };
    Ok(Redirect::to(&format!("/segments/rule-tags?flash={flash}")).into_response())
}

async fn render_delete(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    r: &RuleTag,
    error: Option<String>,
) -> AppResult<Response> {
    let used_by = svc::used_by(state, r.id).await?;
    let title = lang.pick("删除规则标签", "Delete rule tag");
    let status = if error.is_some() { StatusCode::CONFLICT } else { StatusCode::OK };
    let ctx = context! { ..page_ctx(u, lang, "segments", title), ..context! {
        r => row(state, r, lang),
        used_by => used_by,
        error => error,
    }};
    Ok((status, render(state, "segments/rule_tag_delete.html", ctx)?).into_response())
}

/// "确认删除该规则标签？" — the confirmation, naming the rule tags that test
/// it (then it cannot be deleted yet).
pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    admin_only(&u)?;
    let r = svc::get(&state, id).await?;
    render_delete(&state, lang, &u, &r, None).await
}

pub(super) async fn delete(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    admin_only(&u)?;
    let r = svc::get(&state, id).await?;
    match svc::delete(&state, &u.user, id).await {
        Ok(()) => Ok(Redirect::to("/segments/rule-tags?flash=rule_deleted").into_response()),
        Err(AppError::Refused { zh, en, .. }) => {
            let msg = lang.pick(&zh, &en).to_string();
            render_delete(&state, lang, &u, &r, Some(msg)).await
        }
        Err(e) => Err(e),
    }
}
