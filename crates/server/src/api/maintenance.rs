//! Relationship maintenance over the API (SPEC M): the task queue, a task's
//! preparation view, the maintenance record that closes it, the execution
//! rate, generation on demand and the administrator's rules.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use guanxi_domain::plan::record::{ChecklistPart, Completion, Effect, RecordInput};
use guanxi_domain::plan::scenarios::silent_questions;
use guanxi_domain::plan::{ExecutionFigures, Occasion, PlanRules, Scenario, TaskKind, TaskStatus, Urgency};
use guanxi_domain::segment::{ChurnReason, ValueTier};
use guanxi_domain::{Issue, Lang, ValidationErrors};
use guanxi_store::maintenance::{RateBy, Record, Section, Task};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::json::Json;
use crate::auth::ApiUser;
use crate::error::{AppError, AppResult, Problem};
use crate::lang::ReqLang;
use crate::service::maintenance::{self as svc, QueueQuery};
use crate::state::AppState;

/// A maintenance task.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub id: i64,
    pub customer_id: i64,
    pub customer_code: String,
    pub customer_name: String,
    /// `first_follow_up`, `revisit`, `deep_interview`, `complaint_repair`,
    /// `churn_recovery`, `renewal`, `milestone`, `silent_care`, `content_push`.
    pub scenario: String,
    pub scenario_label: String,
    /// Unique per customer and scenario, e.g. `birthday:12:2026`.
    pub occasion: String,
    /// Why the task exists, in words.
    pub occasion_text: String,
    /// What the task is for.
    pub goal: String,
    /// `call`, or `content` (sent through outreach).
    pub kind: String,
    /// `open`, `done` or `superseded`.
    pub status: String,
    /// For an open task: `overdue`, `due_today` or `upcoming`.
    pub urgency: Option<String>,
    /// The business date it is due.
    pub due_on: String,
    /// The instant it is due by (RFC 3339).
    pub due_at: String,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    /// Churn recovery: the customer's owner, collaborating.
    pub collaborator_id: Option<i64>,
    pub collaborator_name: Option<String>,
    /// The customer's tier when the task was made.
    pub tier: String,
    pub channel: Option<String>,
    pub contact_window: Option<String>,
    pub contact_id: Option<i64>,
    pub created_at: String,
    pub done_at: Option<String>,
    /// Done by its due instant.
    pub on_time: Option<bool>,
    pub record_id: Option<i64>,
}

pub fn occasion_of(t: &Task) -> Occasion {
    serde_json::from_str(&t.detail).unwrap_or(Occasion::Silent { since: None })
}

impl TaskView {
    pub fn new(t: &Task, lang: Lang, today: jiff::civil::Date, now: jiff::Timestamp) -> Self {
        let scenario = Scenario::parse(&t.scenario).ok();
        Self {
            id: t.id,
            customer_id: t.customer_id,
            customer_code: t.customer_code.clone(),
            customer_name: t.customer_name.clone(),
            scenario: t.scenario.clone(),
            scenario_label: scenario.map_or_else(|| t.scenario.clone(), |s| s.label(lang).to_string()),
            occasion: t.occasion.clone(),
            occasion_text: occasion_of(t).text(lang),
            goal: scenario.map(|s| s.goal(lang).to_string()).unwrap_or_default(),
            kind: t.kind.clone(),
            status: t.status.clone(),
            urgency: (t.status == TaskStatus::Open.code())
                .then(|| Urgency::of(t.due_on, t.due_at, today, now).code().to_string()),
            due_on: t.due_on.to_string(),
            due_at: t.due_at.to_string(),
            owner_id: t.owner_id,
            owner_name: t.owner_name.clone(),
            collaborator_id: t.collaborator_id,
            collaborator_name: t.collaborator_name.clone(),
            tier: t.tier.clone(),
            channel: t.channel.clone(),
            contact_window: t.contact_window.clone(),
            contact_id: t.contact_id,
            created_at: t.created_at.to_string(),
            done_at: t.done_at.map(|d| d.to_string()),
            on_time: t.done_at.map(|d| d <= t.due_at),
            record_id: t.record_id,
        }
    }
}

/// Open tasks of one scenario per section.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ScenarioCount {
    pub scenario: String,
    pub label: String,
    pub overdue: i64,
    pub due_today: i64,
    pub upcoming: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskList {
    pub items: Vec<TaskView>,
    pub total: i64,
    /// More than 10,000 matched (`total` is 10000).
    pub total_capped: bool,
    pub page: i64,
    pub per_page: i64,
    /// `mine`, `team` or `all`.
    pub view: String,
    /// Open tasks of the view per scenario and section.
    pub counts: Vec<ScenarioCount>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskQuery {
    /// `mine` (default: owned or collaborating), `team` (supervisors: their
    /// group's members and unassigned tasks) or `all` (supervisors, administrators).
    pub view: Option<String>,
    /// `overdue`, `due_today`, `upcoming`, `open` (default: all three) or `done`.
    pub section: Option<String>,
    /// A scenario code.
    pub scenario: Option<String>,
    /// `call` or `content`.
    pub kind: Option<String>,
    pub page: Option<i64>,
    /// 1–200, default 25.
    pub per_page: Option<i64>,
}

pub fn scenario_counts(counts: &[(String, Section, i64)], lang: Lang) -> Vec<ScenarioCount> {
    Scenario::ALL
        .iter()
        .filter_map(|s| {
            let mut c = ScenarioCount { scenario: s.code().into(), label: s.label(lang).into(), ..Default::default() };
            for (scenario, section, n) in counts.iter().filter(|(x, _, _)| x == s.code()) {
                let _ = scenario;
                match section {
                    Section::Overdue => c.overdue += n,
                    Section::DueToday => c.due_today += n,
                    _ => c.upcoming += n,
                }
            }
            (c.overdue + c.due_today + c.upcoming > 0).then_some(c)
        })
        .collect()
}

/// The task queue (我的维护任务): open tasks soonest due first, a page at a
/// time, with the open counts per scenario and section.
#[utoipa::path(get, path = "/api/v1/maintenance/tasks", tag = "maintenance", params(TaskQuery), security(("bearer" = [])),
    responses((status = 200, body = TaskList), (status = 401, body = Problem),
        (status = 403, description = "a view other than `mine` for an agent", body = Problem),
        (status = 422, description = "a bad `view`, `section`, `scenario` or `kind`", body = Problem)))]
pub async fn tasks(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
    RawQuery(raw): RawQuery,
) -> AppResult<Json<TaskList>> {
    let q: TaskQuery = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("query string: {e}")))?;
    let v = svc::queue(
        &state,
        &user,
        &QueueQuery {
            view: q.view,
            section: q.section,
            scenario: q.scenario,
            kind: q.kind,
            page: q.page,
            per_page: q.per_page,
        },
    )
    .await?;
    let (today, now) = (state.today(), state.clock.now());
    Ok(Json(TaskList {
        items: v.page.items.iter().map(|t| TaskView::new(t, lang, today, now)).collect(),
        total: v.page.total,
        total_capped: v.page.total_capped,
        page: v.page.page,
        per_page: v.page.per_page,
        view: v.view.code().into(),
        counts: scenario_counts(&v.counts, lang),
    }))
}

/// A suggested script for the task's scenario.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TaskScriptView)]
pub struct ScriptView {
    pub id: i64,
    pub title: String,
    pub body: String,
    /// The script library's entry, once the library (issue 9) links it.
    pub library_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerPicture {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub industry: Option<String>,
    pub stage: String,
    pub owner_name: Option<String>,
    pub cooperation_start: Option<String>,
    pub last_cooperation_on: Option<String>,
    pub contract_end: Option<String>,
    pub preferred_channel: Option<String>,
    pub contact_window: Option<String>,
    pub tags: Vec<String>,
    pub tier: Option<String>,
    pub activity: Option<String>,
    pub rule_tags: Vec<String>,
    /// Churn signals with their evidence, in words.
    pub churn_evidence: Vec<String>,
    pub p_alive: Option<f64>,
    pub contacts: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineLine {
    pub at: String,
    pub kind: String,
    pub title: String,
    pub body: Option<String>,
}

/// A maintenance record.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordView {
    pub id: i64,
    pub task_id: Option<i64>,
    pub communication_id: Option<i64>,
    pub scenario: String,
    /// The customer as it stood: code, name, industry, cooperation length, last cooperation, tags, contact person.
    #[schema(value_type = Object)]
    pub snapshot: serde_json::Value,
    pub occurred_at: String,
    pub channel: String,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub summary: String,
    pub feedback: Option<String>,
    pub needs_explicit: Option<String>,
    pub needs_implicit: Option<String>,
    pub checklist: Vec<String>,
    pub completion: String,
    pub satisfaction: Option<i64>,
    pub notes: Option<String>,
    pub effect: String,
    pub effect_note: Option<String>,
    pub churn_reason: Option<String>,
    pub gift: Option<String>,
    pub script_id: Option<i64>,
    pub tags_added: Vec<String>,
    pub tags_removed: Vec<String>,
}

impl RecordView {
    pub fn new(r: &Record) -> Self {
        Self {
            id: r.id,
            task_id: r.task_id,
            communication_id: r.communication_id,
            scenario: r.scenario.clone(),
            snapshot: serde_json::from_str(&r.snapshot).unwrap_or_default(),
            occurred_at: r.occurred_at.to_string(),
            channel: r.channel.clone(),
            owner_id: r.owner_id,
            owner_name: r.owner_name.clone(),
            summary: r.summary.clone(),
            feedback: r.feedback.clone(),
            needs_explicit: r.needs_explicit.clone(),
            needs_implicit: r.needs_implicit.clone(),
            checklist: r.checklist.clone(),
            completion: r.completion.clone(),
            satisfaction: r.satisfaction,
            notes: r.notes.clone(),
            effect: r.effect.clone(),
            effect_note: r.effect_note.clone(),
            churn_reason: r.churn_reason.clone(),
            gift: r.gift.clone(),
            script_id: r.script_id,
            tags_added: r.tags_added.clone(),
            tags_removed: r.tags_removed.clone(),
        }
    }
}

/// The preparation view (维护前准备, M5).
#[derive(Debug, Serialize, ToSchema)]
pub struct PreparationView {
    pub task: TaskView,
    pub customer: CustomerPicture,
    /// The goal of the task.
    pub goal: String,
    /// Suggested scripts for the scenario.
    pub scripts: Vec<ScriptView>,
    /// Silent-customer care: the "why did you stop buying" questions.
    pub questions: Vec<String>,
    /// The customer's latest timeline entries.
    pub recent: Vec<TimelineLine>,
    /// The record that closed the task.
    pub record: Option<RecordView>,
}

/// A task with what the agent needs before the call: the customer picture
/// (profile, tier, activity, churn evidence, recent timeline), the goal and
/// suggested scripts.
#[utoipa::path(get, path = "/api/v1/maintenance/tasks/{id}", tag = "maintenance", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = PreparationView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn task(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
    Path(id): Path<i64>,
) -> AppResult<Json<PreparationView>> {
    let p = svc::preparation(&state, &user, id).await?;
    let (today, now, tz) = (state.today(), state.clock.now(), state.config.time_zone.clone());
    let scenario = Scenario::parse(&p.task.scenario).ok();
    let seg = p.segment.as_ref();
    let c = &p.customer;
    Ok(Json(PreparationView {
        task: TaskView::new(&p.task, lang, today, now),
        goal: scenario.map(|s| s.goal(lang).to_string()).unwrap_or_default(),
        customer: CustomerPicture {
            id: c.id,
            code: c.code.clone(),
            name: c.name.clone(),
            industry: c.industry.clone(),
            stage: c.stage.clone(),
            owner_name: c.owner_name.clone(),
            cooperation_start: c.cooperation_start.map(|d| d.to_string()),
            last_cooperation_on: c.last_cooperation_on.map(|d| d.to_string()),
            contract_end: c.contract_end.map(|d| d.to_string()),
            preferred_channel: c.preferred_channel.clone(),
            contact_window: c.contact_window.clone(),
            tags: c.tags.clone(),
            tier: seg.map(|s| s.tier.clone()),
            activity: seg.map(|s| s.activity.clone()),
            rule_tags: seg.map(|s| s.rule_tags.clone()).unwrap_or_default(),
            churn_evidence: seg
                .map(|s| crate::service::segments::signals_of(s).iter().map(|x| x.text(lang)).collect())
                .unwrap_or_default(),
            p_alive: seg.and_then(|s| s.p_alive),
            contacts: p.contacts.iter().map(|x| x.name.clone()).collect(),
        },
        scripts: p
            .scripts
            .iter()
            .map(|s| ScriptView { id: s.id, title: s.title.clone(), body: s.body.clone(), library_id: s.library_id })
            .collect(),
        questions: if scenario == Some(Scenario::SilentCare) {
            silent_questions(lang).into_iter().map(str::to_string).collect()
        } else {
            Vec::new()
        },
        recent: p
            .timeline
            .iter()
            .map(|e| TimelineLine {
                at: e.at.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string(),
                kind: e.kind.clone(),
                title: crate::web::customers::event_label(&e.title, lang),
                body: crate::web::customers::timeline_body(&e.title, e.body.as_deref(), lang),
            })
            .collect(),
        record: p.record.as_ref().map(RecordView::new),
    }))
}

/// What saving a record did.
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedRecordView {
    pub record_id: i64,
    pub communication_id: i64,
    pub action_item_ids: Vec<i64>,
    /// The next revisit, scheduled by the cadence (revisit-stream tasks).
    pub next_task_id: Option<i64>,
}

/// Fills the maintenance record (客户关系维护记录表, M4) of an open task:
/// closes it, saves the communication and its action items (each needs
/// what, who and by when), changes the tags chosen, records the churn
/// reason (churn recovery) and schedules the next revisit by cadence.
/// Any refused field: 422 naming it, nothing saved.
#[utoipa::path(post, path = "/api/v1/maintenance/tasks/{id}/record", tag = "maintenance", params(("id" = i64, Path)),
    request_body = RecordInput, security(("bearer" = [])),
    responses((status = 201, body = SavedRecordView), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 422, description = "a refused field (e.g. `action_items[0].owner_id`), or `task` when it is already done", body = Problem)))]
pub async fn record(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(input): Json<RecordInput>,
) -> AppResult<(StatusCode, Json<SavedRecordView>)> {
    let s = svc::save_record(&state, &user, id, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(SavedRecordView {
            record_id: s.record_id,
            communication_id: s.communication_id,
            action_item_ids: s.action_item_ids,
            next_task_id: s.next_task_id,
        }),
    ))
}

/// The vocabularies of the record form.
#[derive(Debug, Serialize, ToSchema)]
pub struct Choice {
    pub code: String,
    pub label: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Vocabularies {
    pub scenarios: Vec<Choice>,
    pub completion: Vec<Choice>,
    pub effect: Vec<Choice>,
    pub checklist: Vec<Choice>,
    pub churn_reasons: Vec<Choice>,
    pub kinds: Vec<Choice>,
}

/// The codes and labels the record form and the queue use.
#[utoipa::path(get, path = "/api/v1/maintenance/vocabularies", tag = "maintenance", security(("bearer" = [])),
    responses((status = 200, body = Vocabularies), (status = 401, body = Problem)))]
pub async fn vocabularies(ApiUser(_user): ApiUser, ReqLang(lang): ReqLang) -> Json<Vocabularies> {
    fn list<T: Copy>(all: &[T], code: impl Fn(T) -> &'static str, label: impl Fn(T) -> &'static str) -> Vec<Choice> {
        all.iter().map(|x| Choice { code: code(*x).into(), label: label(*x).into() }).collect()
    }
    Json(Vocabularies {
        scenarios: list(Scenario::ALL, Scenario::code, |s| s.label(lang)),
        completion: list(Completion::ALL, Completion::code, |s| s.label(lang)),
        effect: list(Effect::ALL, Effect::code, |s| s.label(lang)),
        checklist: list(ChecklistPart::ALL, ChecklistPart::code, |s| s.label(lang)),
        churn_reasons: list(ChurnReason::ALL, ChurnReason::code, |s| s.label(lang)),
        kinds: list(TaskKind::ALL, TaskKind::code, |s| s.label(lang)),
    })
}

/// Execution figures of one group.
#[derive(Debug, Serialize, ToSchema)]
pub struct RateView {
    /// The scenario code, the owner's id (`0`: unassigned), the tier code or `YYYY-MM`.
    pub key: String,
    pub label: String,
    /// Tasks due in the period (and already due).
    pub due: i64,
    /// Done by their due time.
    pub on_time: i64,
    pub done: i64,
    /// on_time ÷ due.
    pub rate: Option<f64>,
    /// The rate reaches the target (95%).
    pub meets_target: bool,
    /// Records evaluated 达成 ÷ records evaluated.
    pub achieved_rate: Option<f64>,
    pub mean_satisfaction: Option<f64>,
}

impl RateView {
    pub fn new(key: String, label: String, f: &ExecutionFigures) -> Self {
        Self {
            key,
            label,
            due: f.due,
            on_time: f.on_time,
            done: f.done,
            rate: f.rate(),
            meets_target: f.meets(guanxi_domain::plan::RATE_TARGET_PERCENT),
            achieved_rate: f.achieved_rate(),
            mean_satisfaction: f.mean_satisfaction(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutionView {
    pub from: String,
    pub to: String,
    /// `scenario`, `agent`, `tier` or `month`.
    pub by: String,
    pub rows: Vec<RateView>,
    pub total: RateView,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExecutionQuery {
    /// `scenario` (default), `agent`, `tier` or `month`.
    pub by: Option<String>,
    /// First day, `YYYY-MM-DD` (default: 30 days ago).
    pub from: Option<String>,
    /// Last day, included (default: today); at most 366 days after `from`.
    pub to: Option<String>,
}

pub fn parse_by(raw: Option<&str>) -> Result<RateBy, Issue> {
    match raw.map(str::trim).unwrap_or("") {
        "" | "scenario" => Ok(RateBy::Scenario),
        "agent" => Ok(RateBy::Agent),
        "tier" => Ok(RateBy::Tier),
        "month" => Ok(RateBy::Month),
        _ => Err(Issue::NotAllowed),
    }
}

pub fn by_code(by: RateBy) -> &'static str {
    match by {
        RateBy::Scenario => "scenario",
        RateBy::Agent => "agent",
        RateBy::Tier => "tier",
        RateBy::Month => "month",
    }
}

/// The label of a group key.
pub fn rate_label(by: RateBy, key: &str, name: Option<&str>, lang: Lang) -> String {
    match by {
        RateBy::Scenario => Scenario::parse(key).map_or_else(|_| key.to_string(), |s| s.label(lang).to_string()),
        RateBy::Tier => ValueTier::parse(key).map_or_else(|_| key.to_string(), |t| t.label(lang).to_string()),
        RateBy::Agent => name.map_or_else(|| lang.pick("未分配", "Unassigned").to_string(), str::to_string),
        RateBy::Month => key.to_string(),
    }
}

/// Reads `by`, `from` and `to` (defaults: by scenario over the last 30 days).
pub fn parse_execution_query(
    q: &ExecutionQuery,
    today: jiff::civil::Date,
) -> Result<(RateBy, jiff::civil::Date, jiff::civil::Date), ValidationErrors> {
    let mut e = ValidationErrors::new();
    let by = e.check("by", parse_by(q.by.as_deref()));
    let from =
        q.from.clone().unwrap_or_else(|| today.checked_sub(jiff::Span::new().days(29)).unwrap_or(today).to_string());
    let to = q.to.clone().unwrap_or_else(|| today.to_string());
    let range = guanxi_domain::calendar::parse_range(Some(&from), Some(&to));
    match (by, range) {
        (Some(by), Ok((from, to))) if e.is_empty() => Ok((by, from, to)),
        (_, Err(more)) => {
            e.0.extend(more.0);
            Err(e)
        }
        _ => Err(e),
    }
}

/// Execution rate (维护执行率, M6): tasks done on time ÷ tasks due, per
/// scenario, agent, tier or month, with the effect (achieved rate, mean
/// satisfaction). Agents see their own tasks; supervisors and
/// administrators everyone's. Content pushes (outreach) are not counted.
#[utoipa::path(get, path = "/api/v1/maintenance/execution", tag = "maintenance", params(ExecutionQuery), security(("bearer" = [])),
    responses((status = 200, body = ExecutionView), (status = 401, body = Problem),
        (status = 422, description = "a bad `by`, `from` or `to`", body = Problem)))]
pub async fn execution(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ReqLang(lang): ReqLang,
    RawQuery(raw): RawQuery,
) -> AppResult<Json<ExecutionView>> {
    let q: ExecutionQuery = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("query string: {e}")))?;
    let (by, from, to) = parse_execution_query(&q, state.today())?;
    let rows = svc::execution(&state, &user, by, from, to).await?;
    let mut total = ExecutionFigures::default();
    for r in &rows {
        let f = r.figures;
        total.due += f.due;
        total.on_time += f.on_time;
        total.done += f.done;
        total.achieved += f.achieved;
        total.evaluated += f.evaluated;
        total.satisfaction_sum += f.satisfaction_sum;
        total.satisfaction_count += f.satisfaction_count;
    }
    Ok(Json(ExecutionView {
        from: from.to_string(),
        to: to.to_string(),
        by: by_code(by).into(),
        rows: rows
            .iter()
            .map(|r| RateView::new(r.key.clone(), rate_label(by, &r.key, r.name.as_deref(), lang), &r.figures))
            .collect(),
        total: RateView::new("total".into(), lang.pick("合计", "Total").into(), &total),
    }))
}

/// What a generation did.
#[derive(Debug, Serialize, ToSchema)]
pub struct GenerationView {
    pub customers: usize,
    pub created: usize,
    #[schema(value_type = Object)]
    pub by_scenario: std::collections::BTreeMap<String, usize>,
    pub churn_warnings: usize,
    pub birthdays_keyed: usize,
    pub seconds: f64,
}

/// Generates every maintenance task that should exist now (it also runs
/// nightly); running it twice creates nothing twice. Supervisors and
/// administrators.
#[utoipa::path(post, path = "/api/v1/maintenance/generate", tag = "maintenance", security(("bearer" = [])),
    responses((status = 200, body = GenerationView), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn generate(State(state): State<AppState>, ApiUser(user): ApiUser) -> AppResult<Json<GenerationView>> {
    let r = svc::generate_now(&state, &user).await?;
    Ok(Json(GenerationView {
        customers: r.customers,
        created: r.created,
        by_scenario: r.by_scenario,
        churn_warnings: r.churn_warnings,
        birthdays_keyed: r.birthdays_keyed,
        seconds: r.seconds,
    }))
}

/// The maintenance rules: per scenario a switch and its numbers, and the
/// cadence table per tier (see `PUT`).
#[utoipa::path(get, path = "/api/v1/maintenance/rules", tag = "maintenance", security(("bearer" = [])),
    responses((status = 200, description = "the rules (the body `PUT` takes)", body = Object), (status = 401, body = Problem)))]
pub async fn rules(State(state): State<AppState>, ApiUser(_user): ApiUser) -> AppResult<Json<PlanRules>> {
    Ok(Json(svc::load_rules(&state).await?))
}

/// Replaces the maintenance rules (administrators). The body is what `GET`
/// answers: `{"lookahead_days": 7, "first_follow_up": {"enabled": true,
/// "earliest_hours": 24, "latest_hours": 48, "lookback_days": 7}, "revisit":
/// {"enabled": true, "min_cooperation_months": 3}, "cadence": [{"tier":
/// "high", "revisit_months": 1, "deep_interview_months": 3,
/// "content_months": null}, …], "complaint_repair": {"enabled": true,
/// "working_days": 3}, "churn_recovery": {"enabled": true, "within_hours":
/// 24, "owner": "supervisor"}, "renewal": {"enabled": true, "days_before":
/// 30}, "milestone": {"enabled": true, "days_before": 3, "birthdays": true,
/// "anniversaries": true, "holidays": ["春节", "中秋节"], "holiday_tiers":
/// ["high", "potential"]}, "silent_care": {"enabled": true, "working_days":
/// 5}, "content_push": true}`; a missing part keeps its default. A refused
/// number is a 422 naming it (`cadence.high.revisit_months`,
/// `renewal.days_before`, …).
#[utoipa::path(put, path = "/api/v1/maintenance/rules", tag = "maintenance", security(("bearer" = [])),
    request_body(content = Object, description = "the rules"),
    responses((status = 200, description = "the rules saved", body = Object), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn save_rules(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    body: Bytes,
) -> AppResult<Json<PlanRules>> {
    if !user.role.can_administer_users() {
        return Err(AppError::Forbidden);
    }
    let rules: PlanRules = super::json::parse(&body)?;
    svc::save_rules(&state, &user, rules.clone()).await?;
    Ok(Json(rules))
}
