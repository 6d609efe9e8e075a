//! The segment builder (SPEC G6): conditions on tier, activity, RFM
//! segment, churn signals, tags and customer fields that must all hold,
//! with "any of" groups inside them (see `conditions`); a preview of the
//! members and a live count; saving under a name; editing, renaming and
//! deleting a saved segment (its creator, supervisors and administrators);
//! and the list of saved segments.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use guanxi_domain::customer::LifecycleStage;
use guanxi_domain::segment::{Activity, RfmSegment, Segment, SignalKind, ValueTier};
use guanxi_domain::{Lang, ValidationErrors, validation};
use guanxi_store::segments::{self as store, MemberOrder, SavedSegment};
use minijinja::{Value, context};

use super::conditions::{ConditionForm, field_label};
use super::{PER_PAGE, flash_text, member_row, page_param, pager, query_pairs};
use crate::auth::PageUser;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::segments as svc;
use crate::state::AppState;
use crate::web::{form_get, form_pairs, page_ctx, render};

/// Members shown in the builder's preview; the rest are one link away.
const PREVIEW_ROWS: i64 = 10;
/// Saved segments listed beside the builder.
const SAVED_ROWS: i64 = 10;
/// The longest segment name.
const NAME_MAX: usize = 60;

/// The builder's form: the conditions, the name to save under, and the
/// saved segment being edited, if any.
#[derive(Debug, Clone, Default)]
struct BuilderForm {
    conditions: ConditionForm,
    name: String,
    segment_id: Option<i64>,
}

impl BuilderForm {
    fn from_pairs(pairs: &[(String, String)]) -> Self {
        BuilderForm {
            conditions: ConditionForm::from_pairs(pairs),
            name: form_get(pairs, "name").unwrap_or("").trim().to_string(),
            segment_id: form_get(pairs, "segment_id").and_then(|v| v.trim().parse().ok()),
        }
    }
}

fn options<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T, Lang) -> &'static str,
    lang: Lang,
) -> Vec<Value> {
    all.iter().map(|x| context! { value => code(*x), label => label(*x, lang) }).collect()
}

/// What the condition fields need besides their values: the choices of
/// each select and the suggestions of the tag fields.
pub(super) async fn condition_options(state: &AppState, lang: Lang, industry: &str) -> AppResult<Value> {
    let (industries, tags) = state
        .db
        .read(|c| Ok((guanxi_store::customers::industries(c)?, guanxi_store::customers::popular_tags(c, 30)?)))
        .await?;
    // Rule tags are tags too, though no customer_tags row holds them.
    let mut tag_names = crate::service::rule_tags::enabled_names(state).await?;
    for (t, _) in tags {
        if !tag_names.contains(&t) {
            tag_names.push(t);
        }
    }
    let mut industries = industries;
    if !industry.is_empty() && !industries.iter().any(|i| i == industry) {
        industries.push(industry.to_string());
    }
    Ok(context! {
        tiers => options(ValueTier::ALL, ValueTier::code, ValueTier::label, lang),
        activities => options(Activity::ALL, Activity::code, Activity::label, lang),
        rfms => options(RfmSegment::ALL, RfmSegment::code, RfmSegment::label, lang),
        signals => options(SignalKind::ALL, SignalKind::code, SignalKind::label, lang),
        stages => options(LifecycleStage::ALL, LifecycleStage::code, LifecycleStage::label, lang),
        industries => industries.iter().map(|i| context! { value => i, label => i }).collect::<Vec<_>>(),
        tags => tag_names,
    })
}

/// The errors of a form for the template: the summary list and the
/// message per field.
pub(super) fn error_ctx(errors: &ValidationErrors, lang: Lang, label: impl Fn(&str) -> String) -> (Value, Value) {
    let list: Vec<Value> = errors
        .0
        .iter()
        .map(|f| context! { field => f.field, label => label(&f.field), message => f.issue.message(lang) })
        .collect();
    let by_field: std::collections::BTreeMap<String, String> =
        errors.0.iter().map(|f| (f.field.clone(), f.issue.message(lang))).collect();
    (Value::from(list), Value::from_serialize(&by_field))
}

/// The preview of a segment: its count, a few members, the link to all.
pub(super) async fn preview_ctx(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    seg: Segment,
    query: &str,
) -> AppResult<Value> {
    let description = seg.describe(lang);
    let m = svc::members(state, &u.user, seg, MemberOrder::SpendDesc, 1, PREVIEW_ROWS).await?;
    Ok(context! {
        description => description,
        total => m.total,
        items => m.items.iter().map(|x| member_row(x, lang)).collect::<Vec<_>>(),
        more => m.total > m.items.len() as i64,
        all => format!("/segments/members?{query}"),
    })
}

/// A saved segment as the lists show it.
fn saved_row(s: &SavedSegment, lang: Lang, u: &PageUser) -> Value {
    let description = match svc::parse_segment(&s.definition) {
        Ok(seg) => seg.describe(lang),
        Err(_) => lang.pick("（定义无法读取）", "(the definition cannot be read)").to_string(),
    };
    context! {
        id => s.id, name => s.name, description => description, href => format!("/segments/saved/{}", s.id),
        can_manage => svc::may_manage_segment(&u.user, s),
    }
}

/// What the builder page shows besides the form.
struct BuilderPage<'a> {
    form: &'a BuilderForm,
    /// The segment to preview, if the user asked and the conditions are good.
    preview: Option<Segment>,
    errors: ValidationErrors,
}

async fn render_builder(state: &AppState, lang: Lang, u: &PageUser, p: BuilderPage<'_>) -> AppResult<Response> {
    let query = p.form.conditions.query();
    let preview = match p.preview {
        Some(seg) => Some(preview_ctx(state, lang, u, seg, &query).await?),
        None => None,
    };
    let (saved, saved_total) = state.db.read(|c| store::saved_segments_page(c, 1, SAVED_ROWS)).await?;
    let editing = match p.form.segment_id {
        Some(id) => Some(state.db.read(move |c| store::saved_segment(c, id)).await?),
        None => None,
    };
    let o = condition_options(state, lang, &p.form.conditions.industry).await?;
    let (errors, err) = error_ctx(&p.errors, lang, |f| match f {
        "name" => lang.pick("客群名称", "Segment name").to_string(),
        f => field_label(f, lang),
    });
    let title = match &editing {
        Some(s) => format!("{}{}", lang.pick("编辑客群：", "Edit segment: "), s.name),
        None => lang.pick("客群构建器", "Segment builder").to_string(),
    };
    let ctx = context! { ..page_ctx(u, lang, "segments", &title), ..context! {
        v => p.form.conditions.values(lang),
        name => p.form.name,
        editing => editing.as_ref().map(|s| context! { id => s.id, name => s.name, href => format!("/segments/saved/{}", s.id) }),
        errors => errors,
        err => err,
        o => o,
        preview => preview,
        can_save => u.user.role.can_edit_customers(),
        saved => saved.iter().map(|s| saved_row(s, lang, u)).collect::<Vec<_>>(),
        saved_more => saved_total > saved.len() as i64,
        saved_total => saved_total,
        in_scope_only => !u.user.role.sees_all_customers(),
        tab => "builder",
    }};
    let status = if p.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, render(state, "segments/builder.html", ctx)?).into_response())
}

/// The builder, with the conditions of the query filled in and previewed.
pub(super) async fn form(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let pairs = query_pairs(raw.as_deref());
    let form = BuilderForm::from_pairs(&pairs);
    let asked = form.conditions.has_conditions() || form_get(&pairs, "preview").is_some();
    let page = match form.conditions.segment() {
        Ok(seg) => BuilderPage { form: &form, preview: asked.then_some(seg), errors: ValidationErrors::new() },
        Err(errors) => BuilderPage { form: &form, preview: None, errors },
    };
    render_builder(&state, lang, &u, page).await
}

/// A saved segment opened in the builder, to change its conditions or name.
pub(super) async fn edit(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let s = state.db.read(move |c| store::saved_segment(c, id)).await?;
    if !svc::may_manage_segment(&u.user, &s) {
        return Err(AppError::Forbidden);
    }
    let seg = svc::parse_segment(&s.definition)?;
    let Some(conditions) = ConditionForm::from_segment(&seg) else {
        // Conditions the form cannot show (made over the API): the members
        // page says so and offers deletion.
        return Ok(Redirect::to(&format!("/segments/saved/{id}?flash=not_editable")).into_response());
    };
    let form = BuilderForm { conditions, name: s.name.clone(), segment_id: Some(id) };
    render_builder(&state, lang, &u, BuilderPage { form: &form, preview: Some(seg), errors: ValidationErrors::new() })
        .await
}

/// "预览" shows the members; "保存为客群" saves the conditions under the
/// name ("保存修改" when editing a saved segment, "另存为新客群" to keep it).
/// Whatever is wrong is said beside its field, and nothing is saved.
pub(super) async fn submit(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let mut form = BuilderForm::from_pairs(&pairs);
    let parsed = form.conditions.segment();
    let action = form_get(&pairs, "action").unwrap_or("preview");
    if !matches!(action, "save" | "save_new") {
        let page = match parsed {
            Ok(seg) => BuilderPage { form: &form, preview: Some(seg), errors: ValidationErrors::new() },
            Err(errors) => BuilderPage { form: &form, preview: None, errors },
        };
        return render_builder(&state, lang, &u, page).await;
    }
    if !u.user.role.can_edit_customers() {
        return Err(AppError::Forbidden);
    }
    if action == "save_new" {
        form.segment_id = None;
    }
    let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
    if let Err(issue) = validation::required_text(&form.name, NAME_MAX) {
        errors.add("name", issue);
    }
    if let (Ok(seg), true) = (&parsed, errors.is_empty()) {
        let saved = match form.segment_id {
            Some(id) => {
                svc::update_segment(&state, &u.user, id, Some(&form.name), Some(seg)).await.map(|s| (s.id, "updated"))
            }
            None => svc::save_segment(&state, &u.user, &form.name, seg).await.map(|id| (id, "saved")),
        };
        match saved {
            Ok((id, flash)) => return Ok(Redirect::to(&format!("/segments/saved/{id}?flash={flash}")).into_response()),
            Err(AppError::Invalid(e)) => errors = e,
            Err(e) => return Err(e),
        }
    }
    render_builder(&state, lang, &u, BuilderPage { form: &form, preview: parsed.ok(), errors }).await
}

/// The live count of the builder and the rule-tag form (JavaScript asks as
/// the fields change): `{"total": n, "description": …}`, or 422 with the
/// errors per field.
pub(super) async fn count(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let pairs = query_pairs(raw.as_deref());
    let form = ConditionForm::from_pairs(&pairs);
    match form.segment() {
        Ok(seg) => {
            let description = seg.describe(lang);
            let m = svc::members(&state, &u.user, seg, MemberOrder::SpendDesc, 1, 1).await?;
            Ok(Json(serde_json::json!({"total": m.total, "description": description})).into_response())
        }
        Err(e) => {
            let errors: Vec<serde_json::Value> =
                e.0.iter().map(|f| serde_json::json!({"field": f.field, "message": f.issue.message(lang)})).collect();
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(serde_json::json!({"errors": errors}))).into_response())
        }
    }
}

/// Every saved segment, a page at a time.
pub(super) async fn saved_list(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let pairs = query_pairs(raw.as_deref());
    let page = page_param(&pairs);
    let (items, total) = state.db.read(move |c| store::saved_segments_page(c, page, PER_PAGE)).await?;
    let title = lang.pick("已保存的客群", "Saved segments");
    let ctx = context! { ..page_ctx(&u, lang, "segments", title), ..context! {
        items => items.iter().map(|s| saved_row(s, lang, &u)).collect::<Vec<_>>(),
        pager => pager(total, page, PER_PAGE, items.len(), |n| format!("/segments/saved?page={n}")),
        flash => flash_text(&pairs, lang),
        tab => "builder",
    }};
    render(&state, "segments/saved.html", ctx)
}

/// "确认删除该客群？" — the confirmation before a deletion.
pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
) -> AppResult<Html<String>> {
    let s = state.db.read(move |c| store::saved_segment(c, id)).await?;
    if !svc::may_manage_segment(&u.user, &s) {
        return Err(AppError::Forbidden);
    }
    let description = svc::parse_segment(&s.definition).map(|seg| seg.describe(lang)).unwrap_or_default();
    let title = lang.pick("删除客群", "Delete segment");
    let ctx = context! { ..page_ctx(&u, lang, "segments", title), ..context! {
        s => context! { id => s.id, name => s.name, description => description },
    }};
    render(&state, "segments/delete.html", ctx)
}

pub(super) async fn delete(
    State(state): State<AppState>,
    u: PageUser,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    svc::delete_segment(&state, &u.user, id).await?;
    Ok(Redirect::to("/segments/saved?flash=deleted").into_response())
}
