//! Relationship maintenance plans (SPEC M1–M6): the rules, the generation
//! of tasks (nightly, on demand, and on events: a first order, a complaint
//! closed, a churn warning), the task queue and preparation view, the
//! maintenance record that closes a task, and the execution rate.
//!
//! The domain (`guanxi_domain::plan`) decides which task each customer
//! needs; this module gathers the facts, resolves owners (the supervisor of
//! the owner's group for churn recovery), places the due time on the
//! business calendar and in the customer's contact window, and writes the
//! tasks with their timeline entries in one transaction.

mod generate;
mod queue;
mod record;

use std::collections::HashMap;

use guanxi_domain::calendar::{BusinessCalendar, ScheduleHours};
use guanxi_domain::plan::{self, Assignee, ContactWindow, Occasion, PlanRules, Planned, Scenario};
use guanxi_domain::segment::ValueTier;
use guanxi_domain::{Lang, calendar::DayOverride};
use guanxi_store::maintenance::{self as store, NewTask, PlanFacts};
use guanxi_store::timeline::{self, NewEntry};
use guanxi_store::users::User;
use guanxi_store::{Conn, StoreError, audit, settings as store_settings};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

pub use generate::{GenerationReport, consume_churn_warnings, generate, generate_now, spawn_jobs};
pub use queue::{Preparation, QueueQuery, QueueView, RateRow, View, execution, preparation, queue, task_for, views_of};
pub use record::{SavedRecord, Snapshot, on_time, save_record, snapshot_of};

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The settings key holding [`PlanRules`] as JSON.
const RULES_KEY: &str = "maintenance";
/// When the last full generation finished (RFC 3339).
const GENERATED_AT_KEY: &str = "maintenance_generated_at";
/// The order id up to which first orders have been looked at.
const ORDERS_SEEN_KEY: &str = "maintenance_orders_seen";

/// Timeline titles: `maintenance.created.<scenario>`, `maintenance.done.<scenario>`.
pub const CREATED: &str = "maintenance.created";
pub const DONE: &str = "maintenance.done";

/// The rules as stored (defaults when none were saved).
pub fn rules_in(c: &mut Conn) -> guanxi_store::Result<PlanRules> {
    let raw = store_settings::get(c, RULES_KEY)?;
    Ok(raw.and_then(|r| serde_json::from_str(&r).ok()).unwrap_or_default())
}

pub async fn load_rules(state: &AppState) -> AppResult<PlanRules> {
    Ok(state.db.read(rules_in).await?)
}

/// Saves new rules (administrators); the next generation uses them.
pub async fn save_rules(state: &AppState, user: &User, rules: PlanRules) -> AppResult<()> {
    if !user.role.can_administer_users() {
        return Err(AppError::Forbidden);
    }
    rules.validate()?;
    let json = serde_json::to_string(&rules).map_err(|e| AppError::Internal(e.to_string()))?;
    let (now, actor) = (state.clock.now(), user.id);
    state
        .db
        .write(move |c| {
            store_settings::set(c, RULES_KEY, &json, now)?;
            audit::record(
                c,
                now,
                &audit::AuditEntry {
                    actor_id: Some(actor),
                    action: "update",
                    entity: "maintenance_rules",
                    entity_id: None,
                    detail: json.clone(),
                    ip: None,
                },
            )
        })
        .await?;
    Ok(())
}

/// Who supervises whom: the first active supervisor of each group.
#[derive(Debug, Clone, Default)]
pub struct Supervisors {
    group_of: HashMap<i64, Option<i64>>,
    supervisor_of_group: HashMap<i64, i64>,
}

impl Supervisors {
    fn read(c: &mut Conn) -> guanxi_store::Result<Self> {
        let (users, sup) = store::supervisors(c)?;
        Ok(Self { group_of: users.into_iter().collect(), supervisor_of_group: sup.into_iter().collect() })
    }

    /// The supervisor of a user's group.
    pub fn of(&self, user: i64) -> Option<i64> {
        let group = self.group_of.get(&user).copied().flatten()?;
        self.supervisor_of_group.get(&group).copied()
    }
}

/// Everything generation needs besides the customers' facts.
#[derive(Debug, Clone)]
pub struct Planner {
    pub rules: PlanRules,
    pub calendar: BusinessCalendar,
    pub supervisors: Supervisors,
}

fn damaged(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("{what}: {e}"))
}

impl Planner {
    /// Reads the rules, the company calendar and the supervisors on the
    /// caller's connection (hooks run inside other actions' transactions).
    pub fn read(c: &mut Conn, tz: &TimeZone) -> guanxi_store::Result<Self> {
        let rules = rules_in(c)?;
        let schedule = guanxi_store::calendar::schedule(c, super::calendar::DEFAULT_SCHEDULE)?
            .ok_or_else(|| StoreError::Other("work_schedules.default is missing".into()))?;
        let hours: ScheduleHours = serde_json::from_str(&schedule.hours).map_err(|e| damaged("work_schedules", e))?;
        let weekly = hours.parse().map_err(|e| damaged("work_schedules", e))?;
        let overrides = guanxi_store::calendar::overrides(c)?.into_iter().map(|o| DayOverride {
            date: o.date,
            working: o.working,
            name: o.name,
        });
        let calendar = BusinessCalendar::new(weekly, overrides, tz.clone());
        Ok(Self { rules, calendar, supervisors: Supervisors::read(c)? })
    }

    /// The stored task for a planned one: owner and collaborator, the due
    /// time on a working day and in the customer's contact window.
    pub fn task(&self, f: &PlanFacts, p: &Planned, contact_id: Option<i64>) -> NewTask {
        let window = f.contact_window.as_deref().and_then(ContactWindow::parse);
        let due = plan::place(&p.target, &self.calendar, window);
        let (owner_id, collaborator_id) = match (p.assignee, f.owner_id) {
            (Assignee::SupervisorWithOwner, Some(owner)) => match self.supervisors.of(owner) {
                Some(s) if s != owner => (Some(s), Some(owner)),
                _ => (Some(owner), None),
            },
            (_, owner) => (owner, None),
        };
        NewTask {
            customer_id: f.id,
            scenario: p.scenario.code(),
            occasion: p.occasion.key(),
            detail: serde_json::to_string(&p.occasion).unwrap_or_else(|_| "{}".into()),
            kind: p.scenario.kind().code(),
            due_on: due.on,
            due_at: due.at,
            owner_id,
            collaborator_id,
            tier: tier_of(f).code().to_string(),
            channel: f.preferred_channel.clone(),
            contact_window: f.contact_window.clone(),
            contact_id,
        }
    }
}

/// The customer's tier (ordinary before the first segmentation).
pub fn tier_of(f: &PlanFacts) -> ValueTier {
    f.tier.as_deref().and_then(|t| ValueTier::parse(t).ok()).unwrap_or(ValueTier::Ordinary)
}

/// What a task's timeline entry keeps, to be told in either language.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EntryBody {
    scenario: String,
    occasion: Occasion,
    /// Local time, `YYYY-MM-DD HH:MM`.
    due: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    effect: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    satisfaction: Option<i64>,
}

fn local(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string()
}

/// Tasks ready to write, each with its timeline title and body, built before
/// the write so that the writer thread only runs the SQL.
#[derive(Debug, Clone)]
pub struct Batch {
    tasks: Vec<NewTask>,
    entries: Vec<(String, String)>,
}

impl Batch {
    pub fn new(tasks: Vec<NewTask>, tz: &TimeZone) -> Self {
        let entries = tasks
            .iter()
            .map(|t| {
                let mut occasion: Occasion =
                    serde_json::from_str(&t.detail).unwrap_or(Occasion::Silent { since: None });
                // The warning's evidence is on the timeline already, in the
                // segmentation entry that raised it.
                if let Occasion::ChurnWarning { evidence, .. } = &mut occasion {
                    evidence.clear();
                }
                let body = EntryBody {
                    scenario: t.scenario.to_string(),
                    occasion,
                    due: local(t.due_at, tz),
                    effect: None,
                    satisfaction: None,
                };
                (format!("{CREATED}.{}", t.scenario), serde_json::to_string(&body).unwrap_or_default())
            })
            .collect();
        Self { tasks, entries }
    }

    /// The scenario of each task, in order.
    pub fn scenarios(&self) -> Vec<&'static str> {
        self.tasks.iter().map(|t| t.scenario).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

/// Writes the tasks of a batch not yet existing, each with its timeline
/// entry, inside the caller's write transaction; returns each task's id,
/// `None` where it already existed.
pub fn write_batch(c: &mut Conn, batch: &Batch, now: Timestamp) -> guanxi_store::Result<Vec<Option<i64>>> {
    let ids = store::insert_tasks(c, &batch.tasks, now)?;
    let entries: Vec<NewEntry<'_>> = batch
        .tasks
        .iter()
        .zip(&batch.entries)
        .zip(&ids)
        .filter_map(|((t, (title, body)), id)| {
            Some(NewEntry {
                customer_id: t.customer_id,
                at: now,
                kind: timeline::kind::MAINTENANCE,
                ref_id: Some((*id)?),
                title: title.clone(),
                body: Some(body.clone()),
                actor_id: None,
            })
        })
        .collect();
    timeline::append_many(c, &entries)?;
    Ok(ids)
}

/// [`write_batch`] of a few tasks (the hooks, a record's next revisit).
pub fn create_in(
    c: &mut Conn,
    tasks: &[NewTask],
    now: Timestamp,
    tz: &TimeZone,
) -> guanxi_store::Result<Vec<Option<i64>>> {
    write_batch(c, &Batch::new(tasks.to_vec(), tz), now)
}

/// The label of a maintenance timeline entry (`maintenance.created.revisit`).
pub fn event_label(code: &str, lang: Lang) -> Option<String> {
    let (head, scenario) = code.rsplit_once('.')?;
    let scenario = Scenario::parse(scenario).ok()?;
    let verb = match head {
        CREATED => lang.pick("生成维护任务 · ", "Maintenance task · "),
        DONE => lang.pick("完成维护 · ", "Maintenance done · "),
        _ => return None,
    };
    Some(format!("{verb}{}", scenario.label(lang)))
}

/// The body of a maintenance timeline entry, in words.
pub fn describe(body: &str, lang: Lang) -> Option<String> {
    let b: EntryBody = serde_json::from_str(body).ok()?;
    let mut parts = vec![b.occasion.text(lang)];
    match (&b.effect, b.satisfaction) {
        (Some(effect), s) => {
            let e = guanxi_domain::plan::record::Effect::parse(effect).map_or(effect.as_str(), |e| e.label(lang));
            parts.push(format!("{}{e}", lang.pick("效果：", "effect: ")));
            if let Some(s) = s {
                parts.push(format!("{}{s}", lang.pick("满意度 ", "satisfaction ")));
            }
        }
        (None, _) => parts.push(format!("{}{}", lang.pick("截止 ", "due "), b.due)),
    }
    Some(parts.join(" · "))
}

/// Complaint repair (M1), called by the ticket engine inside the
/// transaction that closes a complaint or major problem: a satisfaction
/// revisit due within 3 working days (the rules' number) of `closed_at`,
/// owned by the customer's owner. `reference` is the complaint's number;
/// closing the same complaint twice creates one task. Returns the task
/// created, if any.
pub fn complaint_closed_in(
    c: &mut Conn,
    tz: &TimeZone,
    customer_id: i64,
    closed_at: Timestamp,
    reference: &str,
    now: Timestamp,
) -> guanxi_store::Result<Option<i64>> {
    let planner = Planner::read(c, tz)?;
    let Some(p) = plan::scenarios::complaint_repair(&planner.rules, reference, closed_at, &planner.calendar) else {
        return Ok(None);
    };
    let Some(f) = store::facts_of(c, &[customer_id])?.into_iter().next() else {
        return Err(StoreError::NotFound);
    };
    Ok(create_in(c, &[planner.task(&f, &p, None)], now, tz)?.into_iter().next().flatten())
}

/// [`complaint_closed_in`] in a transaction of its own.
pub async fn on_complaint_closed(
    state: &AppState,
    customer_id: i64,
    closed_at: Timestamp,
    reference: &str,
) -> AppResult<Option<i64>> {
    let (tz, now, reference) = (state.config.time_zone.clone(), state.clock.now(), reference.to_string());
    Ok(state.db.write(move |c| complaint_closed_in(c, &tz, customer_id, closed_at, &reference, now)).await?)
}

/// New-customer first follow-up on the customer's first order, inside the
/// transaction that recorded it (a later order changes nothing: the task
/// is one per customer).
pub fn first_order_in(
    c: &mut Conn,
    tz: &TimeZone,
    customer_id: i64,
    now: Timestamp,
) -> guanxi_store::Result<Option<i64>> {
    let orders: i64 =
        c.scalar("SELECT COUNT(*) FROM orders WHERE customer_id = $1", guanxi_store::args![customer_id])?;
    if orders != 1 {
        return Ok(None);
    }
    let planner = Planner::read(c, tz)?;
    let Some(f) = store::facts_of(c, &[customer_id])?.into_iter().next() else { return Ok(None) };
    let first = store::first_order_dates(c, &[customer_id])?.into_iter().next().map(|(_, d)| d);
    let facts = plan::scenarios::NewCustomerFacts {
        registered_at: f.created_at,
        cooperation_start: f.cooperation_start,
        first_purchase_on: [f.first_purchase_on, first].into_iter().flatten().min(),
    };
    let Some(p) = plan::scenarios::first_follow_up(&planner.rules, &facts, now, tz) else { return Ok(None) };
    Ok(create_in(c, &[planner.task(&f, &p, None)], now, tz)?.into_iter().next().flatten())
}
