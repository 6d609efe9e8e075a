//! Maintenance pages (SPEC M): the task queue 我的维护任务 (overdue, due
//! today, upcoming, by scenario; supervisors switch to their team or
//! everyone), a task's preparation view (M5), the execution rate (M6) and
//! generation on demand. The record form and the rules are in the
//! submodules.

mod record;
mod settings;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use guanxi_domain::Lang;
use guanxi_domain::plan::scenarios::silent_questions;
use guanxi_domain::plan::{Scenario, TaskStatus, Urgency};
use guanxi_domain::segment::{Activity, ValueTier};
use guanxi_store::maintenance::Task;
use minijinja::{Value, context};

use super::{form_get, form_pairs, page_ctx, render};
use crate::api::maintenance::{ExecutionQuery, occasion_of, parse_execution_query, rate_label, scenario_counts};
use crate::auth::PageUser;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::maintenance::{self as svc, QueueQuery, View};
use crate::state::AppState;

const PER_PAGE: i64 = 25;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/maintenance", get(queue))
        .route("/maintenance/generate", post(generate))
        .route("/maintenance/tasks/{id}", get(task))
        .route("/maintenance/tasks/{id}/record", get(record::form).post(record::save))
        .route("/maintenance/execution", get(execution))
        .route("/maintenance/settings", get(settings::form).post(settings::save))
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default()
}

fn get_str(pairs: &[(String, String)], k: &str) -> Option<String> {
    form_get(pairs, k).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

pub(super) fn scenario_label(code: &str, lang: Lang) -> String {
    Scenario::parse(code).map_or_else(|_| code.to_string(), |s| s.label(lang).to_string())
}

fn tier_label(code: &str, lang: Lang) -> String {
    ValueTier::parse(code).map_or_else(|_| code.to_string(), |t| t.label(lang).to_string())
}

pub(super) fn channel_label(code: Option<&str>, lang: Lang) -> Option<String> {
    code.map(|c| {
        guanxi_domain::customer::Channel::parse(c).map_or_else(|_| c.to_string(), |x| x.label(lang).to_string())
    })
}

/// A task as the pages show it.
pub(super) fn task_ctx(state: &AppState, t: &Task, lang: Lang) -> Value {
    let (today, now, tz) = (state.today(), state.clock.now(), state.config.time_zone.clone());
    let open = t.status == TaskStatus::Open.code();
    let urgency = open.then(|| Urgency::of(t.due_on, t.due_at, today, now));
    context! {
        id => t.id,
        customer_id => t.customer_id, customer => t.customer_name, code => t.customer_code,
        scenario => t.scenario, scenario_label => scenario_label(&t.scenario, lang),
        occasion => occasion_of(t).text(lang),
        goal => Scenario::parse(&t.scenario).map(|s| s.goal(lang)).unwrap_or_default(),
        content => t.kind == "content",
        status => t.status,
        status_label => TaskStatus::parse(&t.status).map_or_else(|_| lang.pick("已合并", "Superseded").to_string(), |s| s.label(lang).to_string()),
        urgency => urgency.map(Urgency::code), urgency_label => urgency.map(|u| u.label(lang)),
        due => t.due_at.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string(),
        due_day => t.due_on.to_string(),
        owner => t.owner_name, collaborator => t.collaborator_name,
        tier => t.tier, tier_label => tier_label(&t.tier, lang),
        channel => channel_label(t.channel.as_deref(), lang),
        window => t.contact_window,
        done => t.done_at.map(|d| d.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string()),
        on_time => t.done_at.map(|d| d <= t.due_at),
    }
}

async fn queue(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let pairs = query_pairs(raw.as_deref());
    let page = form_get(&pairs, "page").and_then(|p| p.trim().parse::<i64>().ok()).filter(|p| *p >= 1).unwrap_or(1);
    let q = QueueQuery {
        view: get_str(&pairs, "view"),
        section: get_str(&pairs, "section"),
        scenario: get_str(&pairs, "scenario"),
        kind: None,
        page: Some(page),
        per_page: Some(PER_PAGE),
    };
    let v = svc::queue(&state, &u.user, &q).await?;
    let counts = scenario_counts(&v.counts, lang);
    let sum = |f: fn(&crate::api::maintenance::ScenarioCount) -> i64| counts.iter().map(f).sum::<i64>();
    let (overdue, today_n, upcoming) = (sum(|c| c.overdue), sum(|c| c.due_today), sum(|c| c.upcoming));
    let (view, section, scenario) =
        (v.view.code(), get_str(&pairs, "section").unwrap_or_default(), get_str(&pairs, "scenario"));
    let link = |view: &str, section: &str, scenario: Option<&str>, page: i64| -> String {
        let mut q: Vec<(&str, String)> = Vec::new();
        if view != "mine" {
            q.push(("view", view.into()));
        }
        if !section.is_empty() {
            q.push(("section", section.into()));
        }
        if let Some(s) = scenario {
            q.push(("scenario", s.into()));
        }
        if page > 1 {
            q.push(("page", page.to_string()));
        }
        let qs = serde_urlencoded::to_string(&q).unwrap_or_default();
        if qs.is_empty() { "/maintenance".into() } else { format!("/maintenance?{qs}") }
    };
    let total = v.page.total;
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let first = (v.page.page - 1) * PER_PAGE;
    let shown = v.page.items.len() as i64;
    let views: Vec<Value> = svc::views_of(&u.user)
        .iter()
        .map(|w| {
            let label = match w {
                View::Mine => lang.pick("我的", "Mine"),
                View::Team => lang.pick("我的团队", "My team"),
                View::All => lang.pick("全部", "Everyone"),
            };
            context! { code => w.code(), label => label, href => link(w.code(), &section, scenario.as_deref(), 1), active => w.code() == view }
        })
        .collect();
    let sections: Vec<Value> = [
        ("", lang.pick("全部待办", "All open"), overdue + today_n + upcoming),
        ("overdue", lang.pick("已逾期", "Overdue"), overdue),
        ("due_today", lang.pick("今日到期", "Due today"), today_n),
        ("upcoming", lang.pick("即将到期", "Upcoming"), upcoming),
        ("done", lang.pick("已完成", "Done"), -1),
    ]
    .iter()
    .map(|(code, label, n)| {
        context! { code => code, label => label, n => (*n >= 0).then_some(*n), href => link(view, code, scenario.as_deref(), 1), active => *code == section }
    })
    .collect();
    let chips: Vec<Value> = counts
        .iter()
        .map(|c| {
            let n = match section.as_str() {
                "overdue" => c.overdue,
                "due_today" => c.due_today,
                "upcoming" => c.upcoming,
                _ => c.overdue + c.due_today + c.upcoming,
            };
            context! {
                code => c.scenario, label => c.label, n => n, overdue => c.overdue,
                href => link(view, &section, (scenario.as_deref() != Some(c.scenario.as_str())).then_some(c.scenario.as_str()), 1),
                active => scenario.as_deref() == Some(c.scenario.as_str()),
            }
        })
        .collect();
    let title = lang.pick("我的维护任务", "My maintenance tasks");
    let ctx = context! { ..page_ctx(&u, lang, "tasks", title), ..context! {
        tab => "queue",
        views => views,
        sections => sections,
        chips => chips,
        section => section,
        scenario_filter => scenario.as_deref().map(|s| scenario_label(s, lang)),
        clear_scenario => link(view, &section, None, 1),
        items => v.page.items.iter().map(|t| task_ctx(&state, t, lang)).collect::<Vec<_>>(),
        total => total, total_capped => v.page.total_capped,
        page => v.page.page, pages => pages,
        first_index => if shown == 0 { 0 } else { first + 1 }, last_index => first + shown,
        prev => (v.page.page > 1).then(|| link(view, &section, scenario.as_deref(), v.page.page - 1)),
        next => (v.page.page < pages).then(|| link(view, &section, scenario.as_deref(), v.page.page + 1)),
        can_generate => u.user.role.sees_all_customers(),
        is_admin => u.user.role.can_administer_users(),
        flash => flash_text(&pairs, lang),
        today => state.today().to_string(),
    }};
    render(&state, "maintenance/queue.html", ctx)
}

fn flash_text(pairs: &[(String, String)], lang: Lang) -> Option<String> {
    let n = |k: &str| form_get(pairs, k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    match form_get(pairs, "flash")? {
        "generated" => Some(match lang {
            Lang::Zh => format!("已生成维护任务：新建 {} 个（已检查 {} 位客户）", n("created"), n("customers")),
            Lang::En => {
                format!("Maintenance tasks generated: {} new ({} customers checked)", n("created"), n("customers"))
            }
        }),
        "recorded" => {
            Some(lang.pick("维护记录已保存，任务已完成", "Maintenance record saved; the task is done").into())
        }
        "appointment_saved" => {
            Some(lang.pick("回访已预约，提醒已排入发件箱", "Revisit scheduled; its reminder is in the outbox").into())
        }
        "appointment_cancelled" => {
            Some(lang.pick("预约已取消，提醒已撤回", "Appointment cancelled; reminder withdrawn").into())
        }
        "settings" => Some(
            lang.pick("维护规则已保存，下次生成任务时生效", "Rules saved; they apply from the next generation").into(),
        ),
        _ => None,
    }
}

async fn generate(State(state): State<AppState>, u: PageUser, body: Bytes) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let r = svc::generate_now(&state, &u.user).await?;
    Ok(Redirect::to(&format!("/maintenance?flash=generated&created={}&customers={}", r.created, r.customers))
        .into_response())
}

/// The preparation view (维护前准备, M5).
async fn task(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let p = svc::preparation(&state, &u.user, id).await?;
    let scripts = crate::service::knowledge::scripts::for_task_of(&state, &u.user, id, lang).await?;
    let tz = state.config.time_zone.clone();
    let today = state.today();
    let c = &p.customer;
    let seg = p.segment.as_ref();
    let scenario = Scenario::parse(&p.task.scenario).ok();
    let record = p.record.as_ref().map(|r| record::record_ctx(r, lang, &tz));
    let title = lang.pick("维护前准备", "Preparation");
    let appointment = super::outreach::appointment_panel(&state, &u.user, id, lang, raw.as_deref()).await?;
    let ctx = context! { ..page_ctx(&u, lang, "tasks", title), ..context! {
        tk => task_ctx(&state, &p.task, lang),
        appt => appointment,
        flash => flash_text(&query_pairs(raw.as_deref()), lang),
        customer => context! {
            id => c.id, code => c.code, name => c.name, industry => c.industry, region => c.region,
            stage => guanxi_domain::customer::LifecycleStage::parse(&c.stage).map_or_else(|_| c.stage.clone(), |s| s.label(lang).to_string()),
            owner => c.owner_name,
            cooperation => c.cooperation_start.map(|s| guanxi_domain::customer::cooperation_length_text(guanxi_domain::customer::cooperation_months(s, today), lang)),
            cooperation_start => c.cooperation_start.map(|d| d.to_string()),
            last_cooperation => c.last_cooperation_on.map(|d| d.to_string()),
            contract_end => c.contract_end.map(|d| d.to_string()),
            channel => channel_label(c.preferred_channel.as_deref(), lang),
            window => c.contact_window,
            tags => c.tags,
            notes => c.notes,
            decision_chain => c.decision_chain,
        },
        seg => seg.map(|s| context! {
            tier => s.tier, tier_label => tier_label(&s.tier, lang),
            activity => s.activity,
            activity_label => Activity::parse(&s.activity).map_or_else(|_| s.activity.clone(), |a| a.label(lang).to_string()),
            spend => guanxi_domain::money::Money::from_fen(s.spend_fen).to_string(),
            orders => s.orders_total,
            last_order => s.last_order_on.map(|d| d.to_string()),
            last_interaction => s.last_interaction_on.map(|d| d.to_string()),
            at_risk => s.at_risk(),
            signals => crate::service::segments::signals_of(s).iter().map(|x| context! { label => x.kind.label(lang), evidence => x.text(lang) }).collect::<Vec<_>>(),
            rule_tags => s.rule_tags,
            p_alive => s.p_alive.map(|x| format!("{:.0}%", x * 100.0)),
        }),
        contacts => p.contacts.iter().map(|x| context! { name => x.name, title => x.title, decision_maker => x.decision_maker }).collect::<Vec<_>>(),
        timeline => p.timeline.iter().map(|e| context! {
            at => e.at.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string(),
            kind => e.kind,
            label => super::customers::event_label(&e.title, lang),
            body => super::customers::timeline_body(&e.title, e.body.as_deref(), lang),
        }).collect::<Vec<_>>(),
        scripts => super::knowledge::script_items(&scripts),
        questions => if scenario == Some(Scenario::SilentCare) { silent_questions(lang) } else { Vec::new() },
        items => p.open_items.iter().map(|a| context! {
            content => a.content, owner => a.owner_name,
            due => a.due_at.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string(),
            overdue => guanxi_domain::communication::is_overdue(a.status, a.due_at, state.clock.now()),
        }).collect::<Vec<_>>(),
        record => record,
        may_record => p.may_record,
    }};
    render(&state, "maintenance/task.html", ctx)
}

/// The execution rate (维护执行率, M6) by scenario, agent, tier or month.
async fn execution(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let pairs = query_pairs(raw.as_deref());
    let q = ExecutionQuery { by: get_str(&pairs, "by"), from: get_str(&pairs, "from"), to: get_str(&pairs, "to") };
    let (by, from, to) = parse_execution_query(&q, state.today()).map_err(AppError::Invalid)?;
    let rows = svc::execution(&state, &u.user, by, from, to).await?;
    let pct = |x: Option<f64>| x.map(|r| format!("{:.1}%", r * 100.0));
    let mut total = guanxi_domain::plan::ExecutionFigures::default();
    let lines: Vec<Value> = rows
        .iter()
        .map(|r| {
            let f = r.figures;
            total.due += f.due;
            total.on_time += f.on_time;
            total.done += f.done;
            total.achieved += f.achieved;
            total.evaluated += f.evaluated;
            total.satisfaction_sum += f.satisfaction_sum;
            total.satisfaction_count += f.satisfaction_count;
            context! {
                label => rate_label(by, &r.key, r.name.as_deref(), lang),
                due => f.due, on_time => f.on_time, done => f.done, rate => pct(f.rate()),
                meets => f.meets(guanxi_domain::plan::RATE_TARGET_PERCENT),
                achieved => pct(f.achieved_rate()),
                satisfaction => f.mean_satisfaction().map(|s| format!("{s:.1}")),
            }
        })
        .collect();
    let bys = [
        ("scenario", lang.pick("按场景", "By scenario")),
        ("agent", lang.pick("按负责人", "By agent")),
        ("tier", lang.pick("按客户分层", "By tier")),
        ("month", lang.pick("按月份", "By month")),
    ];
    let by_code = crate::api::maintenance::by_code(by);
    let title = lang.pick("维护执行率", "Execution rate");
    let ctx = context! { ..page_ctx(&u, lang, "tasks", title), ..context! {
        tab => "execution",
        is_admin => u.user.role.can_administer_users(),
        bys => bys.iter().map(|(code, label)| context! { code => code, label => label, active => *code == by_code,
            href => format!("/maintenance/execution?by={code}&from={from}&to={to}") }).collect::<Vec<_>>(),
        by => by_code, from => from.to_string(), to => to.to_string(),
        rows => lines,
        total => context! {
            due => total.due, on_time => total.on_time, done => total.done, rate => pct(total.rate()),
            meets => total.meets(guanxi_domain::plan::RATE_TARGET_PERCENT),
            achieved => pct(total.achieved_rate()), satisfaction => total.mean_satisfaction().map(|s| format!("{s:.1}")),
        },
        target => guanxi_domain::plan::RATE_TARGET_PERCENT,
        mine_only => !u.user.role.sees_all_customers(),
    }};
    render(&state, "maintenance/execution.html", ctx)
}

/// The workbench's maintenance card: the user's open tasks by section and
/// the execution rate of the last 30 days.
pub async fn workbench_card(state: &AppState, u: &PageUser, lang: Lang) -> AppResult<Value> {
    let v = svc::queue(
        state,
        &u.user,
        &QueueQuery { section: Some("open".into()), per_page: Some(5), ..Default::default() },
    )
    .await?;
    let counts = scenario_counts(&v.counts, lang);
    let today = state.today();
    let from = today.checked_sub(jiff::Span::new().days(29)).unwrap_or(today);
    let rows = svc::execution(state, &u.user, guanxi_store::maintenance::RateBy::Scenario, from, today).await?;
    let mut total = guanxi_domain::plan::ExecutionFigures::default();
    for r in &rows {
        total.due += r.figures.due;
        total.on_time += r.figures.on_time;
        total.achieved += r.figures.achieved;
        total.evaluated += r.figures.evaluated;
    }
    Ok(context! {
        overdue => counts.iter().map(|c| c.overdue).sum::<i64>(),
        due_today => counts.iter().map(|c| c.due_today).sum::<i64>(),
        upcoming => counts.iter().map(|c| c.upcoming).sum::<i64>(),
        items => v.page.items.iter().map(|t| task_ctx(state, t, lang)).collect::<Vec<_>>(),
        rate => total.rate().map(|r| format!("{:.1}%", r * 100.0)),
        meets => total.meets(guanxi_domain::plan::RATE_TARGET_PERCENT),
        due => total.due, on_time => total.on_time,
        achieved => total.achieved_rate().map(|r| format!("{:.0}%", r * 100.0)),
        rows => rows.iter().filter(|r| r.figures.due > 0).map(|r| context! {
            label => scenario_label(&r.key, lang),
            rate => r.figures.rate().map(|x| format!("{:.0}%", x * 100.0)),
            meets => r.figures.meets(guanxi_domain::plan::RATE_TARGET_PERCENT),
            due => r.figures.due,
        }).collect::<Vec<_>>(),
    })
}
