//! The maintenance record (M4) that closes a task. In one transaction it
//! writes the communication record it also is (with its action items, C6),
//! the record with the customer snapshot, the tag changes chosen, the churn
//! reason (churn recovery, G4), closes the task, and — for a task of the
//! revisit stream — restarts the cadence window: the stream's last contact
//! moves to the record's date, other open revisits are superseded, and the
//! next revisit is scheduled by the tier's cadence. Everything goes on the
//! customer's timeline. A refused field saves nothing.

use guanxi_domain::customer::{Tag, cooperation_months};
use guanxi_domain::plan::record::{RecordDraft, RecordInput};
use guanxi_domain::plan::scenarios::{self, RevisitFacts};
use guanxi_domain::plan::{Occasion, Scenario};
use guanxi_domain::{Issue, ValidationErrors};
use guanxi_store::maintenance::{self as store, Record};
use guanxi_store::timeline::{self, NewEntry, kind};
use guanxi_store::users::User;
use guanxi_store::{Conn, StoreError, args, communications, segments};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::queue::visible_task;
use super::{DONE, EntryBody, Planner, create_in, local, tier_of};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The customer as it stood when the record was made (客户名称/联系人 …).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    pub code: String,
    pub name: String,
    pub industry: Option<String>,
    pub cooperation_start: Option<String>,
    /// 合作时长 in months.
    pub cooperation_months: Option<i32>,
    pub last_cooperation_on: Option<String>,
    pub tags: Vec<String>,
    /// The contact person spoken to.
    pub contact: Option<String>,
}

/// What saving a record did.
#[derive(Debug, Clone, Serialize)]
pub struct SavedRecord {
    pub record_id: i64,
    pub communication_id: i64,
    pub action_item_ids: Vec<i64>,
    /// The next revisit scheduled, for a task of the revisit stream.
    pub next_task_id: Option<i64>,
}

/// A refusal decided inside the transaction.
const ALREADY_DONE: &str = "maintenance task already done";

fn check_active_users(c: &mut Conn, fields: &[(String, i64)]) -> guanxi_store::Result<()> {
    let mut e = ValidationErrors::new();
    for (field, id) in fields {
        let n: i64 = c.scalar("SELECT COUNT(*) FROM users WHERE id = $1 AND active = $2", args![*id, true])?;
        if n == 0 {
            e.add(field, Issue::Unknown);
        }
    }
    if e.is_empty() { Ok(()) } else { Err(e.into()) }
}

/// Saves the record of a task (its owner, collaborator, or anyone who may
/// edit the customer). Errors name the input's fields.
pub async fn save_record(state: &AppState, user: &User, task_id: i64, input: RecordInput) -> AppResult<SavedRecord> {
    if !user.role.can_edit_customers() {
        return Err(AppError::Forbidden);
    }
    let (u, tz, now, today) = (user.clone(), state.config.time_zone.clone(), state.clock.now(), state.today());
    let scenario = {
        let u = u.clone();
        let task = state.db.read(move |c| visible_task(c, &u, task_id).map(|(t, _)| t)).await?;
        Scenario::parse(&task.scenario).map_err(|_| AppError::Internal(format!("task {task_id}: scenario")))?
    };
    let draft = RecordDraft::parse(&input, scenario, now, &tz)?;
    let script_id = input.script_id;
    state
        .db
        .write(move |c| {
            let (task, customer) = visible_task(c, &u, task_id)?;
            if task.status != store::status::OPEN {
                return Err(StoreError::Other(ALREADY_DONE.into()));
            }
            let d = &draft.communication;
            let owner = d.owner_id.or(task.owner_id).unwrap_or(u.id);
            let mut owners = vec![("owner_id".to_string(), owner)];
            owners.extend(
                d.action_items.iter().enumerate().map(|(i, a)| (format!("action_items[{i}].owner_id"), a.owner_id)),
            );
            check_active_users(c, &owners)?;
            let contact_name = match d.contact_id {
                Some(contact) => {
                    let p = guanxi_store::contacts::get(c, contact).ok().filter(|p| p.customer_id == customer.id);
                    match p {
                        Some(p) => Some(p.name),
                        None => return Err(ValidationErrors::single("contact_id", Issue::Unknown).into()),
                    }
                }
                None => None,
            };
            if let Some(s) = script_id {
                let ok = store::scripts_for(c, &task.scenario)?.iter().any(|x| x.id == s);
                if !ok {
                    return Err(ValidationErrors::single("script_id", Issue::Unknown).into());
                }
            }

            // The communication it also is, with its action items (C5, C6).
            let (comm_id, items) = communications::insert(c, customer.id, d, owner, u.id, now)?;
            timeline::append(
                c,
                &NewEntry {
                    customer_id: customer.id,
                    at: d.occurred_at,
                    kind: kind::COMMUNICATION,
                    ref_id: Some(comm_id),
                    title: format!("communication.{}", d.channel.code()),
                    body: Some(format!("{}：{}", d.purpose, d.summary)),
                    actor_id: Some(u.id),
                },
            )?;
            for (item_id, item) in items.iter().zip(&d.action_items) {
                timeline::append(
                    c,
                    &NewEntry {
                        customer_id: customer.id,
                        at: d.occurred_at,
                        kind: kind::ACTION_ITEM,
                        ref_id: Some(*item_id),
                        title: "action_item.created".into(),
                        body: Some(item.content.clone()),
                        actor_id: Some(u.id),
                    },
                )?;
            }

            // Tags chosen on the form.
            let add: Vec<String> = draft.add_tags.iter().map(|t: &Tag| t.as_str().to_string()).collect();
            let remove: Vec<String> = draft.remove_tags.iter().map(|t| t.as_str().to_string()).collect();
            let (added, removed) = store::change_tags(c, customer.id, &add, &remove)?;
            if !added.is_empty() || !removed.is_empty() {
                let mut words = Vec::new();
                if !added.is_empty() {
                    words.push(format!("+{}", added.join("、+")));
                }
                if !removed.is_empty() {
                    words.push(format!("−{}", removed.join("、−")));
                }
                timeline::append(
                    c,
                    &NewEntry {
                        customer_id: customer.id,
                        at: now,
                        kind: kind::CUSTOMER,
                        ref_id: None,
                        title: "customer.updated".into(),
                        body: Some(format!("标签：{}", words.join(" "))),
                        actor_id: Some(u.id),
                    },
                )?;
            }

            // The churn reason of a churn recovery (G4).
            if let Some(reason) = draft.churn_reason {
                let id =
                    segments::add_churn_reason(c, customer.id, reason.code(), draft.effect_note.as_deref(), u.id, now)?;
                timeline::append(
                    c,
                    &NewEntry {
                        customer_id: customer.id,
                        at: now,
                        kind: kind::SEGMENT,
                        ref_id: Some(id),
                        title: format!("churn_reason.{}", reason.code()),
                        body: draft.effect_note.clone(),
                        actor_id: Some(u.id),
                    },
                )?;
            }

            let mut tags = customer.tags.clone();
            tags.retain(|t| !removed.contains(t));
            tags.extend(added.iter().cloned());
            let snapshot = Snapshot {
                code: customer.code.clone(),
                name: customer.name.clone(),
                industry: customer.industry.clone(),
                cooperation_start: customer.cooperation_start.map(|d| d.to_string()),
                cooperation_months: customer.cooperation_start.map(|s| cooperation_months(s, today)),
                last_cooperation_on: customer.last_cooperation_on.map(|d| d.to_string()),
                tags,
                contact: contact_name,
            };
            let record = Record {
                id: 0,
                task_id: Some(task.id),
                customer_id: customer.id,
                communication_id: Some(comm_id),
                scenario: task.scenario.clone(),
                snapshot: serde_json::to_string(&snapshot).unwrap_or_else(|_| "{}".into()),
                contact_id: d.contact_id,
                occurred_at: d.occurred_at,
                channel: d.channel.code().to_string(),
                owner_id: Some(owner),
                owner_name: None,
                summary: d.summary.clone(),
                feedback: d.feedback.clone(),
                needs_explicit: draft.needs_explicit.clone(),
                needs_implicit: draft.needs_implicit.clone(),
                checklist: draft.checklist.iter().map(|p| p.code().to_string()).collect(),
                completion: draft.completion.code().to_string(),
                satisfaction: d.satisfaction,
                notes: d.notes.clone(),
                effect: draft.effect.code().to_string(),
                effect_note: draft.effect_note.clone(),
                churn_reason: draft.churn_reason.map(|r| r.code().to_string()),
                gift: draft.gift.clone(),
                script_id,
                tags_added: added,
                tags_removed: removed,
                created_by: Some(u.id),
                created_at: now,
            };
            let record_id = store::insert_record(c, &record)?;
            // Done when the contact happened (not in the future: the form refuses that).
            store::complete_task(c, task.id, record_id, u.id, d.occurred_at.min(now))?;
            // Its appointment is kept; the survey after maintenance is armed (SPEC O3, O4).
            crate::service::outreach::reminders::task_done_in(c, task.id, now)?;
            crate::service::outreach::surveys::arm_after_maintenance(
                c,
                record_id,
                &task.kind,
                draft.completion.code(),
                now,
            )?;
            if let Some(s) = script_id {
                // The script's use on this task, with its outcome (K3).
                let outcome = Some(draft.effect.code());
                guanxi_store::knowledge::record_use(c, s, Some(u.id), None, Some(task.id), outcome, now)?;
            }
            let occasion: Occasion = serde_json::from_str(&task.detail).unwrap_or(Occasion::Silent { since: None });
            let body = EntryBody {
                scenario: task.scenario.clone(),
                occasion,
                due: local(task.due_at, &tz),
                effect: Some(draft.effect.code().to_string()),
                satisfaction: d.satisfaction,
            };
            timeline::append(
                c,
                &NewEntry {
                    customer_id: customer.id,
                    at: d.occurred_at,
                    kind: kind::MAINTENANCE,
                    ref_id: Some(task.id),
                    title: format!("{DONE}.{}", task.scenario),
                    body: serde_json::to_string(&body).ok(),
                    actor_id: Some(u.id),
                },
            )?;

            // A stream task done restarts the cadence window (M1).
            let mut next_task_id = None;
            if scenario.in_stream() {
                let on = guanxi_domain::clock::local_date(d.occurred_at, &tz);
                store::record_stream_contact(c, customer.id, on, scenario == Scenario::DeepInterview)?;
                store::supersede_open_revisits(c, customer.id, task.id)?;
                let planner = Planner::read(c, &tz)?;
                if let Some(f) = store::facts_of(c, &[customer.id])?.into_iter().next()
                    && f.stage != "churned"
                {
                    let stream = RevisitFacts {
                        tier: tier_of(&f),
                        cooperating_since: f.cooperation_start.or(f.first_purchase_on),
                        last_contact_on: f.last_contact_on,
                        last_deep_on: f.last_deep_on,
                        stream_open: false,
                    };
                    if planner.rules.revisit.enabled
                        && let Some(p) = scenarios::next_revisit(&planner.rules, &stream, today)
                    {
                        next_task_id =
                            create_in(c, &[planner.task(&f, &p, None)], now, &tz)?.into_iter().next().flatten();
                    }
                }
            }
            Ok(SavedRecord { record_id, communication_id: comm_id, action_item_ids: items, next_task_id })
        })
        .await
        .map_err(|e| match e {
            StoreError::Other(m) if m == ALREADY_DONE => AppError::field("task", Issue::NotAllowed),
            StoreError::NotFound => AppError::NotFound,
            e => e.into(),
        })
}

/// A stored record's snapshot, read back.
pub fn snapshot_of(r: &Record) -> Snapshot {
    serde_json::from_str(&r.snapshot).unwrap_or_default()
}

/// When a record's task was done relative to its due time.
pub fn on_time(done_at: Option<Timestamp>, due_at: Timestamp) -> bool {
    done_at.is_some_and(|d| d <= due_at)
}
