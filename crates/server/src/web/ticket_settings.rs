//! 工单设置 (administrators): the SLA policy's targets, each group's
//! schedule and assignment mode, the routing rules and the escalation
//! paths. Every form goes through the same service functions as the API;
//! a refused value is shown beside its field and nothing is saved.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use guanxi_domain::customer::Channel;
use guanxi_domain::segment::ValueTier;
use guanxi_domain::ticket::escalation::{EscalationStep, PathConditions, StepTarget};
use guanxi_domain::ticket::routing::{AssignMode, RuleConditions};
use guanxi_domain::ticket::sla::SlaPolicy;
use guanxi_domain::ticket::{Category, Priority, TicketType};
use guanxi_domain::{Issue, Lang, ValidationErrors};
use guanxi_store::users;
use minijinja::{Value, context};

use super::{form_get, form_pairs, page_ctx, render};
use crate::auth::PageAdmin;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::tickets::settings::{self as svc, PathInput, RuleInput};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/tickets", get(page))
        .route("/admin/tickets/sla", post(save_sla))
        .route("/admin/tickets/groups/{id}", post(save_group))
        .route("/admin/tickets/rules", post(create_rule))
        .route("/admin/tickets/rules/{id}/delete", post(delete_rule))
        .route("/admin/tickets/paths", post(create_path))
        .route("/admin/tickets/paths/{id}/delete", post(delete_path))
}

fn labels<T: Copy + PartialEq>(all: &[T], chosen: &[T], label: fn(T, Lang) -> &'static str, lang: Lang) -> String {
    let words: Vec<&str> = all.iter().filter(|x| chosen.contains(x)).map(|x| label(*x, lang)).collect();
    words.join(lang.pick("、", ", "))
}

fn describe_conditions(c: &RuleConditions, lang: Lang) -> String {
    let mut parts = Vec::new();
    let mut add = |name: &str, text: String| {
        if !text.is_empty() {
            parts.push(format!("{name}{}{text}", lang.pick("：", ": ")));
        }
    };
    add(lang.pick("客户分层", "tier"), labels(ValueTier::ALL, &c.tiers, ValueTier::label, lang));
    add(lang.pick("标签", "tags"), c.tags.join(lang.pick("、", ", ")));
    add(lang.pick("类型", "type"), labels(TicketType::ALL, &c.types, TicketType::label, lang));
    add(lang.pick("分类", "category"), labels(Category::ALL, &c.categories, Category::label, lang));
    add(lang.pick("渠道", "channel"), labels(Channel::ALL, &c.channels, Channel::label, lang));
    add(lang.pick("优先级", "priority"), labels(Priority::ALL, &c.priorities, Priority::label, lang));
    add(lang.pick("关键词", "keywords"), c.keywords.join(lang.pick("、", ", ")));
    if parts.is_empty() { lang.pick("所有工单", "every ticket").into() } else { parts.join(lang.pick("；", "; ")) }
}

fn options<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T, Lang) -> &'static str,
    lang: Lang,
) -> Vec<Value> {
    all.iter().map(|x| context! { value => code(*x), label => label(*x, lang) }).collect()
}

/// What a refused form leaves on the page.
#[derive(Default)]
struct Refused {
    form: &'static str,
    err: BTreeMap<String, String>,
    values: Vec<(String, String)>,
}

async fn render_page(
    state: &AppState,
    lang: Lang,
    admin: &PageAdmin,
    raw: Option<&str>,
    refused: Refused,
) -> AppResult<Html<String>> {
    let u = &admin.0;
    let policy = svc::policy(state).await?;
    let (groups, default_group) = svc::groups(state).await?;
    let rules = svc::rules(state).await?;
    let paths = svc::paths(state).await?;
    let schedules = crate::service::calendar::schedules(state).await?;
    let staff = state.db.read(users::list_active).await?;
    let name_of = |id: i64| staff.iter().find(|s| s.id == id).map_or_else(|| format!("#{id}"), |s| s.name.clone());
    let flash =
        raw.and_then(|r| r.split('&').find_map(|kv| kv.strip_prefix("flash="))).map(|_| lang.pick("已保存", "Saved"));
    let kept = |k: &str| refused.values.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let minutes = |name: &str, v: u32| kept(name).unwrap_or_else(|| v.to_string());
    let sla_rows: Vec<Value> = Priority::ALL
        .iter()
        .map(|p| {
            let (fr, rs) = (format!("first_response.{}", p.code()), format!("resolution.{}", p.code()));
            context! {
                label => p.label(lang), code => p.code(),
                first => minutes(&fr, policy.first_response.get(*p)), resolution => minutes(&rs, policy.resolution.get(*p)),
                first_err => refused.err.get(&fr), resolution_err => refused.err.get(&rs),
            }
        })
        .collect();
    let title = lang.pick("工单设置", "Ticket settings");
    let ctx = context! { ..page_ctx(u, lang, "settings", title), ..context! {
        flash => flash, form => refused.form, err => refused.err,
        sla => context! {
            rows => sla_rows,
            progress => minutes("progress_update_minutes", policy.progress_update_minutes),
            revisit => minutes("revisit_minutes", policy.revisit_minutes),
            warn => minutes("warn_percent", policy.warn_percent),
            raise => policy.high_value_raise_priority, schedule => policy.high_value_schedule,
            rules => policy.rules.iter().map(|r| {
                let mut when = Vec::new();
                if let Some(c) = r.channel { when.push(c.label(lang)); }
                if let Some(t) = r.ticket_type { when.push(t.label(lang)); }
                if let Some(p) = r.priority { when.push(p.label(lang)); }
                if let Some(t) = r.tier { when.push(t.label(lang)); }
                context! { when => when.join(" · "), clock => r.clock.label(lang), minutes => r.minutes }
            }).collect::<Vec<_>>(),
        },
        schedules => schedules.iter().map(|(s, _)| context! { value => s.code, label => format!("{}（{}）", s.name, s.code) }).collect::<Vec<_>>(),
        modes => options(AssignMode::ALL, AssignMode::code, AssignMode::label, lang),
        groups => groups.iter().map(|g| context! {
            id => g.group_id, name => g.group_name, schedule => g.schedule_code, mode => g.assign_mode.code(),
            default => Some(g.group_id) == default_group,
        }).collect::<Vec<_>>(),
        group_options => groups.iter().map(|g| context! { value => g.group_id, label => g.group_name }).collect::<Vec<_>>(),
        rules => rules.iter().map(|r| context! {
            id => r.id, name => r.name, position => r.position, enabled => r.enabled, group => r.group_name, skill => r.skill,
            when => describe_conditions(&r.conditions, lang),
        }).collect::<Vec<_>>(),
        paths => paths.iter().map(|p| context! {
            id => p.id, name => p.name, enabled => p.enabled,
            when => if p.conditions.types.is_empty() && p.conditions.categories.is_empty() { lang.pick("所有工单", "every ticket").to_string() } else {
                [labels(TicketType::ALL, &p.conditions.types, TicketType::label, lang), labels(Category::ALL, &p.conditions.categories, Category::label, lang)]
                    .into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" · ")
            },
            steps => p.steps.iter().map(|s| context! {
                name => s.name, minutes => s.respond_minutes, update => s.customer_update_minutes,
                who => match s.target { StepTarget::User { user_id } => name_of(user_id), StepTarget::Supervisor => lang.pick("小组主管", "group supervisor").into() },
            }).collect::<Vec<_>>(),
        }).collect::<Vec<_>>(),
        tiers => options(ValueTier::ALL, ValueTier::code, ValueTier::label, lang),
        types => options(TicketType::ALL, TicketType::code, TicketType::label, lang),
        categories => options(Category::ALL, Category::code, Category::label, lang),
        channels => options(Channel::ALL, Channel::code, Channel::label, lang),
        priorities => options(Priority::ALL, Priority::code, Priority::label, lang),
        staff => staff.iter().map(|s| context! { value => s.id, label => format!("{}（{}）", s.name, s.role.label(lang)) }).collect::<Vec<_>>(),
        kept => refused.values.iter().cloned().collect::<BTreeMap<String, String>>(),
    }};
    render(state, "tickets/settings.html", ctx)
}

async fn page(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    admin: PageAdmin,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    render_page(&state, lang, &admin, raw.as_deref(), Refused::default()).await
}

async fn answer(
    state: &AppState,
    lang: Lang,
    admin: &PageAdmin,
    r: AppResult<()>,
    form: &'static str,
    pairs: Vec<(String, String)>,
) -> AppResult<Response> {
    match r {
        Ok(()) => Ok(Redirect::to(&format!("/admin/tickets?flash=saved#{form}")).into_response()),
        Err(AppError::Invalid(e)) => {
            let err = e.0.iter().map(|f| (f.field.clone(), f.issue.message(lang))).collect();
            let page = render_page(state, lang, admin, None, Refused { form, err, values: pairs }).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

fn minutes_field(pairs: &[(String, String)], name: &str, e: &mut ValidationErrors) -> u32 {
    match form_get(pairs, name).map(str::trim).unwrap_or("").parse::<u32>() {
        Ok(v) => v,
        Err(_) => {
            e.add(name, Issue::NotAllowed);
            0
        }
    }
}

async fn save_sla(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    admin: PageAdmin,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    admin.0.check_csrf(form_get(&pairs, "_csrf"))?;
    let mut policy = svc::policy(&state).await?;
    let mut e = ValidationErrors::new();
    let set = |target: &mut u32, name: &str, e: &mut ValidationErrors| *target = minutes_field(&pairs, name, e);
    for p in Priority::ALL {
        let (fr, rs) = (format!("first_response.{}", p.code()), format!("resolution.{}", p.code()));
        let (first, resolution) = match p {
            Priority::Urgent => (&mut policy.first_response.urgent, &mut policy.resolution.urgent),
            Priority::High => (&mut policy.first_response.high, &mut policy.resolution.high),
            Priority::Normal => (&mut policy.first_response.normal, &mut policy.resolution.normal),
            Priority::Low => (&mut policy.first_response.low, &mut policy.resolution.low),
        };
        set(first, &fr, &mut e);
        set(resolution, &rs, &mut e);
    }
    set(&mut policy.progress_update_minutes, "progress_update_minutes", &mut e);
    set(&mut policy.revisit_minutes, "revisit_minutes", &mut e);
    set(&mut policy.warn_percent, "warn_percent", &mut e);
    policy.high_value_raise_priority = form_get(&pairs, "high_value_raise_priority").is_some();
    policy.high_value_schedule = form_get(&pairs, "high_value_schedule").unwrap_or("").to_string();
    let r: AppResult<SlaPolicy> =
        if e.is_empty() { svc::save_policy(&state, &admin.0.user, policy).await } else { Err(AppError::Invalid(e)) };
    answer(&state, lang, &admin, r.map(|_| ()), "sla", pairs).await
}

async fn save_group(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    admin: PageAdmin,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    admin.0.check_csrf(form_get(&pairs, "_csrf"))?;
    let schedule = form_get(&pairs, "schedule_code").unwrap_or("");
    let mode = form_get(&pairs, "assign_mode").unwrap_or("");
    let mut r = svc::save_group(&state, &admin.0.user, id, schedule, mode).await.map(|_| ());
    if r.is_ok() && form_get(&pairs, "default").is_some() {
        r = svc::set_default_group(&state, &admin.0.user, Some(id)).await;
    }
    answer(&state, lang, &admin, r, "groups", pairs).await
}

fn codes<T>(pairs: &[(String, String)], name: &str, parse: fn(&str) -> Result<T, Issue>) -> Vec<T> {
    pairs.iter().filter(|(k, _)| k == name).filter_map(|(_, v)| parse(v).ok()).collect()
}

fn words(pairs: &[(String, String)], name: &str) -> Vec<String> {
    form_get(pairs, name)
        .unwrap_or("")
        .split([',', '，', '、', ' '])
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

async fn create_rule(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    admin: PageAdmin,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    admin.0.check_csrf(form_get(&pairs, "_csrf"))?;
    let input = RuleInput {
        name: form_get(&pairs, "name").unwrap_or("").to_string(),
        position: form_get(&pairs, "position").and_then(|p| p.trim().parse().ok()),
        enabled: Some(true),
        conditions: RuleConditions {
            tiers: codes(&pairs, "tiers", ValueTier::parse),
            tags: words(&pairs, "tags"),
            types: codes(&pairs, "types", TicketType::parse),
            categories: codes(&pairs, "categories", Category::parse),
            channels: codes(&pairs, "channels", Channel::parse),
            priorities: codes(&pairs, "priorities", Priority::parse),
            keywords: words(&pairs, "keywords"),
        },
        group_id: form_get(&pairs, "group_id").and_then(|g| g.trim().parse().ok()),
        skill: form_get(&pairs, "skill").map(str::to_string),
    };
    let r = svc::save_rule(&state, &admin.0.user, None, input).await.map(|_| ());
    answer(&state, lang, &admin, r, "rules", pairs).await
}

async fn delete_rule(
    State(state): State<AppState>,
    admin: PageAdmin,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    admin.0.check_csrf(form_get(&pairs, "_csrf"))?;
    svc::delete_rule(&state, &admin.0.user, id).await?;
    Ok(Redirect::to("/admin/tickets?flash=saved#rules").into_response())
}

/// How many step rows the path form offers.
pub const STEP_ROWS: usize = 3;

async fn create_path(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    admin: PageAdmin,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    admin.0.check_csrf(form_get(&pairs, "_csrf"))?;
    let mut steps = Vec::new();
    for i in 0..STEP_ROWS {
        let get = |k: &str| form_get(&pairs, &format!("step{i}_{k}")).map(str::trim).unwrap_or("").to_string();
        if get("name").is_empty() && get("minutes").is_empty() {
            continue;
        }
        let target = match get("target").as_str() {
            "supervisor" | "" => StepTarget::Supervisor,
            id => StepTarget::User { user_id: id.parse().unwrap_or(0) },
        };
        steps.push(EscalationStep {
            name: get("name"),
            target,
            respond_minutes: get("minutes").parse().unwrap_or(0),
            customer_update_minutes: get("update").parse().ok(),
        });
    }
    let input = PathInput {
        name: form_get(&pairs, "name").unwrap_or("").to_string(),
        position: None,
        enabled: Some(true),
        conditions: PathConditions {
            types: codes(&pairs, "types", TicketType::parse),
            categories: codes(&pairs, "categories", Category::parse),
        },
        steps,
    };
    let r = svc::save_path(&state, &admin.0.user, None, input).await.map(|_| ());
    answer(&state, lang, &admin, r, "paths", pairs).await
}

async fn delete_path(
    State(state): State<AppState>,
    admin: PageAdmin,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    admin.0.check_csrf(form_get(&pairs, "_csrf"))?;
    svc::delete_path(&state, &admin.0.user, id).await?;
    Ok(Redirect::to("/admin/tickets?flash=saved#paths").into_response())
}
