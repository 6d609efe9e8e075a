//! Segmentation pages (SPEC G): the overview — customers per value tier ×
//! activity and per RFM segment, with recomputation on demand — the
//! churn-risk list with each signal's evidence, and the members of a cell,
//! a builder query or a saved segment. The segment builder (with the
//! condition fields it shares with the rule-tag form), the rule tags and
//! the settings live in the submodules.
//!
//! Everything a page lists goes through `service::segments`, so an agent
//! sees only the customers in their scope.

mod builder;
mod conditions;
mod rule_tags;
mod settings;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use guanxi_domain::Lang;
use guanxi_domain::money::Money;
use guanxi_domain::segment::{Activity, RfmSegment, ValueTier};
use guanxi_store::segments::{self as store, Member, MemberOrder};
use jiff::Timestamp;
use minijinja::{Value, context};

use super::{form_get, form_pairs, page_ctx, render};
use crate::api::segments::SegmentView;
use crate::auth::PageUser;
use crate::error::AppResult;
use crate::lang::ReqLang;
use crate::service::segments as svc;
use crate::state::AppState;
use conditions::ConditionForm;

/// Rows per page of every member list.
const PER_PAGE: i64 = 25;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/segments", get(overview))
        .route("/segments/recompute", post(recompute))
        .route("/segments/churn-risk", get(churn_risk))
        .route("/segments/members", get(members))
        .route("/segments/saved", get(builder::saved_list))
        .route("/segments/saved/{id}", get(saved))
        .route("/segments/saved/{id}/edit", get(builder::edit))
        .route("/segments/saved/{id}/delete", get(builder::confirm_delete).post(builder::delete))
        .route("/segments/builder", get(builder::form).post(builder::submit))
        .route("/segments/builder/count", get(builder::count))
        .route("/segments/rule-tags", get(rule_tags::list))
        .route("/segments/rule-tags/new", get(rule_tags::new_form).post(rule_tags::create))
        .route("/segments/rule-tags/{id}", get(rule_tags::edit_form).post(rule_tags::update))
        .route("/segments/rule-tags/{id}/toggle", post(rule_tags::toggle))
        .route("/segments/rule-tags/{id}/delete", get(rule_tags::confirm_delete).post(rule_tags::delete))
        .route("/segments/settings", get(settings::form).post(settings::save))
}

/// The name/value pairs of a query string (bad encoding reads as none).
fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default()
}

/// The `page` parameter: 1 when absent or not a positive number.
fn page_param(pairs: &[(String, String)]) -> i64 {
    form_get(pairs, "page").and_then(|p| p.trim().parse::<i64>().ok()).filter(|p| *p >= 1).unwrap_or(1)
}

/// The pager under a list: "第 26–50 条，共 120 条" and the neighbour pages.
fn pager(total: i64, page: i64, per_page: i64, shown: usize, link: impl Fn(i64) -> String) -> Value {
    let pages = ((total + per_page - 1) / per_page).max(1);
    let first = (page - 1).saturating_mul(per_page);
    context! {
        total => total,
        page => page,
        pages => pages,
        prev => (page > 1).then(|| link((page - 1).min(pages))),
        next => (page < pages).then(|| link(page + 1)),
        first_index => if shown == 0 { 0 } else { first + 1 },
        last_index => first + shown as i64,
    }
}

/// A probability as a whole percentage, e.g. `37%`.
fn percent(p: f64) -> String {
    format!("{:.0}%", (p * 100.0).clamp(0.0, 100.0))
}

/// One customer of a member list, with its segmentation in words.
fn member_row(m: &Member, lang: Lang) -> Value {
    let v = SegmentView::new(&m.segment, lang);
    context! {
        id => m.customer.id,
        code => m.customer.code,
        name => m.customer.name,
        owner => m.customer.owner_name,
        tier => v.tier,
        tier_label => v.tier_label,
        activity => v.activity,
        activity_label => v.activity_label,
        spend => Money::from_fen(v.spend_fen).to_string(),
        rfm => v.rfm,
        rfm_label => v.rfm_segment_label,
        p_alive => v.p_alive.map(percent),
        p_alive_value => v.p_alive,
        at_risk => v.at_risk,
        signals => v.signals.iter().map(|x| context! { kind => x.kind, label => x.label, evidence => x.evidence }).collect::<Vec<_>>(),
    }
}

/// When the last recomputation ran, in the business time zone.
fn computed_text(state: &AppState, raw: Option<&str>) -> Option<String> {
    let t: Timestamp = raw?.parse().ok()?;
    Some(t.to_zoned(state.config.time_zone.clone()).strftime("%Y-%m-%d %H:%M").to_string())
}

/// The flash message of a redirect back to a segment page.
fn flash_text(pairs: &[(String, String)], lang: Lang) -> Option<String> {
    let n = |k: &str| form_get(pairs, k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    match form_get(pairs, "flash")? {
        "recomputed" => Some(match lang {
            Lang::Zh => {
                format!("已重新计算 {} 位客户的分层：{} 位有变化，{} 位处于流失预警", n("n"), n("changed"), n("risk"))
            }
            Lang::En => format!(
                "Recomputed the segmentation of {} customers: {} changed, {} at risk of churn",
                n("n"),
                n("changed"),
                n("risk")
            ),
        }),
        "saved" => Some(lang.pick("客群已保存", "Segment saved").into()),
        "updated" => Some(lang.pick("客群已更新", "Segment updated").into()),
        "deleted" => Some(lang.pick("客群已删除", "Segment deleted").into()),
        "not_editable" => Some(
            lang.pick(
                "该客群的条件无法在构建器中显示（通过接口创建），只能通过接口修改或删除后重建",
                "The builder cannot show this segment's conditions (made over the API); change it over the API, or delete it and build it again",
            )
            .into(),
        ),
        "rule_saved" => Some(
            lang.pick("规则标签已保存，下次重新计算时生效", "Rule tag saved; it applies from the next recomputation")
                .into(),
        ),
        "rule_enabled" => Some(lang.pick("规则标签已启用，下次重新计算时生效", "Rule tag enabled; it applies from the next recomputation").into()),
        "rule_deleted" => Some(lang.pick("规则标签已删除，下次重新计算时从客户身上移除", "Rule tag deleted; the next recomputation removes it from customers").into()),
        "rule_disabled" => Some(lang.pick("规则标签已停用，下次重新计算时从客户身上移除", "Rule tag disabled; the next recomputation removes it from customers").into()),
        "settings" => Some(
            lang.pick("分层设置已保存，下次重新计算时生效", "Settings saved; they apply from the next recomputation")
                .into(),
        ),
        _ => None,
    }
}

async fn overview(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let pairs = query_pairs(raw.as_deref());
    let o = svc::overview(&state, &u.user).await?;
    let computed = computed_text(&state, o.computed_at.as_deref());
    let at_risk = match computed {
        Some(_) => svc::churn_risk(&state, &u.user, 1, 1).await?.total,
        None => 0,
    };
    let count = |t: ValueTier, a: Activity| -> i64 {
        o.tier_activity.iter().filter(|(x, y, _)| x == t.code() && y == a.code()).map(|r| r.2).sum()
    };
    let total: i64 = o.tier_activity.iter().map(|r| r.2).sum();
    let share = |n: i64| if total > 0 { format!("{:.0}%", n as f64 * 100.0 / total as f64) } else { "—".into() };
    let href = |q: &[(&str, &str)]| format!("/segments/members?{}", serde_urlencoded::to_string(q).unwrap_or_default());
    let rows: Vec<Value> = ValueTier::ALL
        .iter()
        .map(|t| {
            let cells: Vec<Value> = Activity::ALL
                .iter()
                .map(|a| {
                    let n = count(*t, *a);
                    context! { activity => a.code(), n => n, share => share(n),
                    href => href(&[("tier", t.code()), ("activity", a.code())]),
                    label => format!("{} · {}", t.label(lang), a.label(lang)) }
                })
                .collect();
            let n: i64 = Activity::ALL.iter().map(|a| count(*t, *a)).sum();
            context! { tier => t.code(), label => t.label(lang), cells => cells, n => n, share => share(n),
            href => href(&[("tier", t.code())]) }
        })
        .collect();
    let columns: Vec<Value> = Activity::ALL
        .iter()
        .map(|a| {
            let n: i64 = ValueTier::ALL.iter().map(|t| count(*t, *a)).sum();
            context! { activity => a.code(), label => a.label(lang), n => n, share => share(n),
            href => href(&[("activity", a.code())]) }
        })
        .collect();
    let rfm_total: i64 = o.rfm.iter().map(|r| r.1).sum();
    let rfm: Vec<Value> = RfmSegment::ALL
        .iter()
        .map(|r| {
            let n: i64 = o.rfm.iter().filter(|(x, _)| x == r.code()).map(|x| x.1).sum();
            let part = if rfm_total > 0 { n as f64 / rfm_total as f64 } else { 0.0 };
            context! { code => r.code(), label => r.label(lang), n => n, part => part, share => percent(part),
            href => href(&[("rfm_segment", r.code())]) }
        })
        .collect();
    let title = lang.pick("客户分层", "Segments");
    let ctx = context! { ..page_ctx(&u, lang, "segments", title), ..context! {
        computed => computed,
        total => total,
        at_risk => at_risk,
        rows => rows,
        columns => columns,
        all_href => "/segments/members",
        rfm => rfm,
        rfm_total => rfm_total,
        can_recompute => u.user.role.sees_all_customers(),
        in_scope_only => !u.user.role.sees_all_customers(),
        flash => flash_text(&pairs, lang),
        tab => "overview",
    }};
    render(&state, "segments/overview.html", ctx)
}

/// Recomputes everyone's segmentation now, then back to the overview.
async fn recompute(State(state): State<AppState>, u: PageUser, body: Bytes) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let r = svc::recompute_now(&state, &u.user).await?;
    let to = format!("/segments?flash=recomputed&n={}&changed={}&risk={}", r.customers, r.changed, r.at_risk);
    Ok(Redirect::to(&to).into_response())
}

async fn churn_risk(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let pairs = query_pairs(raw.as_deref());
    let p = svc::churn_risk(&state, &u.user, page_param(&pairs), PER_PAGE).await?;
    let title = lang.pick("流失预警", "Churn risk");
    let ctx = context! { ..page_ctx(&u, lang, "segments", title), ..context! {
        items => p.items.iter().map(|m| member_row(m, lang)).collect::<Vec<_>>(),
        pager => pager(p.total, p.page, p.per_page, p.items.len(), |n| format!("/segments/churn-risk?page={n}")),
        in_scope_only => !u.user.role.sees_all_customers(),
        tab => "churn",
    }};
    render(&state, "segments/churn_risk.html", ctx)
}

/// What a member list page shows above its table.
struct MembersHead<'a> {
    title: String,
    description: String,
    /// The builder, opened with these conditions.
    builder: Option<String>,
    /// A saved segment the user may edit and delete: its id.
    manage: Option<i64>,
    /// Links of the pager: the page's own path and query without `page`.
    base: &'a str,
    flash: Option<String>,
}

async fn render_members(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    seg: guanxi_domain::segment::Segment,
    page: i64,
    head: MembersHead<'_>,
) -> AppResult<Html<String>> {
    let p = svc::members(state, &u.user, seg, MemberOrder::SpendDesc, page, PER_PAGE).await?;
    let sep = if head.base.contains('?') { '&' } else { '?' };
    let ctx = context! { ..page_ctx(u, lang, "segments", &head.title), ..context! {
        description => head.description,
        builder => head.builder,
        manage => head.manage,
        items => p.items.iter().map(|m| member_row(m, lang)).collect::<Vec<_>>(),
        pager => pager(p.total, p.page, p.per_page, p.items.len(), |n| format!("{}{sep}page={n}", head.base)),
        in_scope_only => !u.user.role.sees_all_customers(),
        flash => head.flash,
    }};
    render(state, "segments/members.html", ctx)
}

/// The customers of the conditions in the query (an overview cell, or the
/// builder's "see all"). Bad conditions go back to the builder, which says
/// what is wrong beside each field.
async fn members(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let pairs = query_pairs(raw.as_deref());
    let form = ConditionForm::from_pairs(&pairs);
    let query = form.query();
    let Ok(seg) = form.segment() else {
        return Ok(Redirect::to(&format!("/segments/builder?{query}")).into_response());
    };
    let base = format!("/segments/members?{query}");
    let head = MembersHead {
        title: lang.pick("客群成员", "Segment members").into(),
        description: seg.describe(lang),
        builder: Some(format!("/segments/builder?{query}")),
        manage: None,
        base: &base,
        flash: None,
    };
    Ok(render_members(&state, lang, &u, seg, page_param(&pairs), head).await?.into_response())
}

/// The customers of a saved segment.
async fn saved(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let pairs = query_pairs(raw.as_deref());
    let s = state.db.read(move |c| store::saved_segment(c, id)).await?;
    let seg = svc::parse_segment(&s.definition)?;
    let base = format!("/segments/saved/{id}");
    let head = MembersHead {
        title: s.name.clone(),
        description: seg.describe(lang),
        builder: ConditionForm::from_segment(&seg).map(|f| format!("/segments/builder?{}", f.query())),
        manage: svc::may_manage_segment(&u.user, &s).then_some(id),
        base: &base,
        flash: flash_text(&pairs, lang),
    };
    render_members(&state, lang, &u, seg, page_param(&pairs), head).await
}
