//! The task queue (我的维护任务: overdue, due today, upcoming, by
//! scenario; supervisors see their team's), the preparation view of a task
//! (M5) and the execution rate (M6).

use guanxi_domain::plan::Scenario;
use guanxi_domain::{Issue, ValidationErrors};
use guanxi_store::communications::{self, ActionItem};
use guanxi_store::contacts::{self, Contact};
use guanxi_store::customers::{self, Customer, Scope};
use guanxi_store::maintenance::{
    self as store, QueueFilter, QueueScope, RateBy, Record, Script, Section, Task, TaskPage,
};
use guanxi_store::segments::{self, Stored};
use guanxi_store::timeline::{self, Entry};
use guanxi_store::users::{self as store_users, User};
use guanxi_store::{Conn, StoreError};
use jiff::civil::Date;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Whose tasks a queue shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The user's own (owned or collaborating).
    Mine,
    /// A supervisor's team: the members of their group, and unassigned tasks.
    Team,
    /// Everyone's (supervisors and administrators).
    All,
}

impl View {
    pub fn parse(raw: &str) -> Result<Self, Issue> {
        match raw.trim() {
            "" | "mine" => Ok(View::Mine),
            "team" => Ok(View::Team),
            "all" => Ok(View::All),
            _ => Err(Issue::NotAllowed),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            View::Mine => "mine",
            View::Team => "team",
            View::All => "all",
        }
    }
}

/// The views a user may choose.
pub fn views_of(user: &User) -> Vec<View> {
    if user.role.sees_all_customers() { vec![View::Mine, View::Team, View::All] } else { vec![View::Mine] }
}

fn scope_for(c: &mut Conn, user: &User, view: View) -> guanxi_store::Result<QueueScope> {
    Ok(match view {
        View::Mine => QueueScope::Mine(user.id),
        View::Team => match user.group_id {
            Some(g) => {
                let mut ids = store_users::group_member_ids(c, g)?;
                if !ids.contains(&user.id) {
                    ids.push(user.id);
                }
                QueueScope::Team(ids)
            }
            None => QueueScope::All,
        },
        View::All => QueueScope::All,
    })
}

/// A queue page with the open counts per scenario and section.
#[derive(Debug, Clone)]
pub struct QueueView {
    pub view: View,
    pub page: TaskPage,
    pub counts: Vec<(String, Section, i64)>,
}

#[derive(Debug, Clone, Default)]
pub struct QueueQuery {
    pub view: Option<String>,
    pub section: Option<String>,
    pub scenario: Option<String>,
    pub kind: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

fn section(raw: &str) -> Result<Option<Section>, Issue> {
    Ok(match raw.trim() {
        "" | "open" => None,
        "overdue" => Some(Section::Overdue),
        "due_today" => Some(Section::DueToday),
        "upcoming" => Some(Section::Upcoming),
        "done" => Some(Section::Done),
        _ => return Err(Issue::NotAllowed),
    })
}

/// A page of the user's queue. Errors name `view`, `section`, `scenario`
/// and `kind`; agents asking for another view get 403.
pub async fn queue(state: &AppState, user: &User, q: &QueueQuery) -> AppResult<QueueView> {
    let mut e = ValidationErrors::new();
    let view = e.check("view", View::parse(q.view.as_deref().unwrap_or("")));
    let section = e.check("section", section(q.section.as_deref().unwrap_or("")));
    let scenario = match q.scenario.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => e.check("scenario", Scenario::parse(s)).map(Some),
        None => Some(None),
    };
    let kind = match q.kind.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(k) => e.check("kind", guanxi_domain::plan::TaskKind::parse(k)).map(Some),
        None => Some(None),
    };
    let (Some(view), Some(section), Some(scenario), Some(kind)) = (view, section, scenario, kind) else {
        return Err(e.into());
    };
    if !views_of(user).contains(&view) {
        return Err(AppError::Forbidden);
    }
    let (u, today, now) = (user.clone(), state.today(), state.clock.now());
    let (page, per_page) = (q.page.unwrap_or(1), q.per_page.unwrap_or(25));
    let (page, counts) = state
        .db
        .read(move |c| {
            let scope = scope_for(c, &u, view)?;
            let f = QueueFilter {
                scope: scope.clone(),
                section,
                scenario: scenario.map(|s| s.code().to_string()),
                kind: kind.map(|k| k.code().to_string()),
                page,
                per_page,
            };
            Ok((store::queue(c, &f, today, now)?, store::queue_counts(c, &scope, today, now)?))
        })
        .await?;
    Ok(QueueView { view, page, counts })
}

/// Everything the preparation view (M5) shows.
#[derive(Debug, Clone)]
pub struct Preparation {
    pub task: Task,
    pub customer: Customer,
    pub segment: Option<Stored>,
    pub timeline: Vec<Entry>,
    pub contacts: Vec<Contact>,
    pub scripts: Vec<Script>,
    pub open_items: Vec<ActionItem>,
    pub record: Option<Record>,
    /// The user may fill the record (the task is open and theirs to do or to see).
    pub may_record: bool,
}

/// A task the user may see (owner, collaborator, or the customer in their
/// scope), with its customer. Anything else is `NotFound`.
pub(super) fn visible_task(c: &mut Conn, user: &User, id: i64) -> guanxi_store::Result<(Task, Customer)> {
    let task = store::get_task(c, id)?;
    let involved = task.owner_id == Some(user.id) || task.collaborator_id == Some(user.id);
    let scope = if involved { Scope::All } else { super::super::customer_scope(c, user)? };
    let customer = customers::get(c, &scope, task.customer_id)?;
    Ok((task, customer))
}

/// A task the user may see (the script library renders its scripts).
pub async fn task_for(state: &AppState, user: &User, id: i64) -> AppResult<Task> {
    let u = user.clone();
    state.db.read(move |c| visible_task(c, &u, id).map(|(t, _)| t)).await.map_err(|e| match e {
        StoreError::NotFound => AppError::NotFound,
        e => e.into(),
    })
}

pub async fn preparation(state: &AppState, user: &User, id: i64) -> AppResult<Preparation> {
    let u = user.clone();
    state
        .db
        .read(move |c| {
            let (task, customer) = visible_task(c, &u, id)?;
            let record = task.record_id.map(|r| store::get_record(c, r)).transpose()?;
            let may_record = task.status == store::status::OPEN && u.role.can_edit_customers();
            Ok(Preparation {
                segment: segments::get(c, task.customer_id)?,
                timeline: timeline::page(c, task.customer_id, &[], None, 8)?,
                contacts: contacts::for_customer(c, task.customer_id)?,
                scripts: store::scripts_for(c, &task.scenario)?,
                open_items: communications::for_customer_items(c, task.customer_id)?
                    .into_iter()
                    .filter(|a| a.status != guanxi_domain::communication::ActionStatus::Done)
                    .collect(),
                record,
                may_record,
                task,
                customer,
            })
        })
        .await
        .map_err(|e| match e {
            StoreError::NotFound => AppError::NotFound,
            e => e.into(),
        })
}

/// One group of the execution rate.
#[derive(Debug, Clone)]
pub struct RateRow {
    /// The scenario code, the owner's id, the tier code or the month.
    pub key: String,
    /// The owner's name (by agent).
    pub name: Option<String>,
    pub figures: guanxi_domain::plan::ExecutionFigures,
}

/// Execution figures of the tasks due from `from` to `to` (both included)
/// and already due: an agent's own, everyone's for supervisors and
/// administrators.
pub async fn execution(state: &AppState, user: &User, by: RateBy, from: Date, to: Date) -> AppResult<Vec<RateRow>> {
    let tz = state.config.time_zone.clone();
    let start = |d: Date| d.to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(|e| AppError::Internal(e.to_string()));
    let (from_at, to_at) = (start(from)?, start(to.tomorrow().unwrap_or(to))?);
    let (u, now) = (user.clone(), state.clock.now());
    let rows = state
        .db
        .read(move |c| {
            let scope = if u.role.sees_all_customers() { QueueScope::All } else { QueueScope::Mine(u.id) };
            store::execution(c, &scope, by, from_at, to_at, now)
        })
        .await?;
    Ok(rows.into_iter().map(|(key, name, figures)| RateRow { key, name, figures }).collect())
}
