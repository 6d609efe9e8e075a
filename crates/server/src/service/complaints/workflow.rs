//! What users do to a complaint (P3–P5): send it to the responsible
//! department for investigation (due in 24 working hours), submit the
//! investigation report, propose a solution, approve or reject it
//! (supervisors, a rejection with its reason), record the customer's
//! agreement with the promised execution time (within 48 h of receipt),
//! record the execution (the customer is told at once: a recorded
//! notification until outreach sends it; satisfaction is asked), and close
//! it on the customer's confirmation or by a supervisor with a reason —
//! closing archives the ticket and creates the complaint-repair revisit
//! (SPEC M1). Every step is checked before anything is written, then
//! written with its history, audit and timeline entries in one transaction.
//! The scheduler's deadline job reports missed deadlines and escalates a
//! missed investigation to the department's supervisors.

use std::collections::BTreeMap;

use guanxi_domain::complaint::compensation::{self, Catalogue, Line, LineInput};
use guanxi_domain::complaint::workflow::{self as flow, Action, State};
use guanxi_domain::complaint::{DeadlineKind, INVESTIGATION_WITHIN, NOTIFICATION_WITHIN, ResponsibleParty, Urgency};
use guanxi_domain::money::Money;
use guanxi_domain::outreach::{OutChannel, Scenario};
use guanxi_domain::ticket::{self, Status};
use guanxi_domain::validation::{optional_text, required_text};
use guanxi_domain::{Issue, Lang, ValidationErrors};
use guanxi_store::complaints::{self as store, Complaint};
use guanxi_store::jobs::{self, Lease};
use guanxi_store::outreach::{self as store_outreach, NewMessage};
use guanxi_store::tickets as store_tickets;
use guanxi_store::users::User;
use guanxi_store::{
    StoreError, customers as store_customers, escalation as store_escalation, routing as store_routing,
};
use serde::Deserialize;
use serde_json::json;

use super::{can_see_complaint, step, sync_deadline_job};
use crate::error::{AppError, AppResult};
use crate::service::tickets::{record, setup, sync_sla_job};
use crate::state::AppState;

/// One step's input (API body or form); which fields apply depends on the action.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct StepInput {
    /// `investigate`, `report`, `propose`, `approve`, `reject`, `agree`, `execute`, `confirm` or `close`;
    /// `wait_customer` and `resume` stop and restart the deadlines while waiting for the customer.
    pub action: String,
    /// `investigate`: the responsible department (a group).
    pub department_id: Option<i64>,
    /// `report`: `company`, `customer_misunderstanding` or `third_party`.
    pub responsible_party: Option<String>,
    /// `report`: the root cause.
    pub root_cause: Option<String>,
    /// `report`: the evidence, one item a line.
    pub evidence: Option<String>,
    /// `propose`: the solution.
    pub solution: Option<String>,
    /// `propose`: compensation lines (an active catalogue option and an amount in CNY);
    /// approving needs a role whose limit covers their total (SPEC P4).
    pub compensation: Option<Vec<LineInput>>,
    /// `reject` and `close`: why.
    pub reason: Option<String>,
    /// `agree`: when the solution will be carried out (`2026-11-25 14:00` or RFC 3339), in the future.
    pub promised_at: Option<String>,
    /// `execute`: the message to the customer (a default when absent).
    pub message: Option<String>,
    /// `confirm`: the customer's satisfaction, 1–5.
    pub satisfaction: Option<i64>,
    /// `confirm`: the customer's words.
    pub feedback: Option<String>,
}

const MAX_TEXT: usize = 2_000;

/// A step checked against its fields: what it changes.
enum Checked {
    Investigate { department: i64 },
    Report { party: ResponsibleParty, cause: String, evidence: Option<String> },
    Propose { solution: String, compensation: Vec<Line> },
    Approve,
    Reject { reason: String },
    Agree { promised: jiff::Timestamp },
    Execute { message: String },
    Confirm { satisfaction: u8, feedback: Option<String> },
    Close { reason: String },
}

fn check(
    action: Action,
    i: &StepInput,
    catalogue: &Catalogue,
    now: jiff::Timestamp,
    tz: &jiff::tz::TimeZone,
) -> Result<Checked, ValidationErrors> {
    let mut e = ValidationErrors::new();
    let text = |e: &mut ValidationErrors, field: &str, raw: &Option<String>| -> Option<String> {
        e.check(field, required_text(raw.as_deref().unwrap_or(""), MAX_TEXT))
    };
    let out = match action {
        Action::Investigate => match i.department_id {
            Some(d) if d > 0 => Some(Checked::Investigate { department: d }),
            Some(_) => {
                e.add("department_id", Issue::Unknown);
                None
            }
            None => {
                e.add("department_id", Issue::Required);
                None
            }
        },
        Action::Report => {
            let party = match i.responsible_party.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
                Some(p) => e.check("responsible_party", ResponsibleParty::parse(p)),
                None => {
                    e.add("responsible_party", Issue::Required);
                    None
                }
            };
            let cause = text(&mut e, "root_cause", &i.root_cause);
            let evidence = e.check("evidence", optional_text(i.evidence.as_deref(), MAX_TEXT, true)).flatten();
            match (party, cause) {
                (Some(party), Some(cause)) => Some(Checked::Report { party, cause, evidence }),
                _ => None,
            }
        }
        Action::Propose => {
            let solution = text(&mut e, "solution", &i.solution);
            let lines = match catalogue.lines(i.compensation.as_deref().unwrap_or_default()) {
                Ok(lines) => Some(lines),
                Err(errs) => {
                    e.0.extend(errs.0);
                    None
                }
            };
            solution.zip(lines).map(|(solution, compensation)| Checked::Propose { solution, compensation })
        }
        Action::Approve => Some(Checked::Approve),
        Action::Reject => text(&mut e, "reason", &i.reason).map(|reason| Checked::Reject { reason }),
        Action::Agree => match i.promised_at.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            None => {
                e.add("promised_at", Issue::Required);
                None
            }
            Some(raw) => match guanxi_domain::communication::parse_datetime(raw, tz) {
                Ok(t) if t > now => Some(Checked::Agree { promised: t }),
                Ok(_) => {
                    e.add("promised_at", Issue::OutOfRange);
                    None
                }
                Err(issue) => {
                    e.add("promised_at", issue);
                    None
                }
            },
        },
        Action::Execute => {
            let m = e.check("message", optional_text(i.message.as_deref(), MAX_TEXT, true)).flatten();
            Some(Checked::Execute {
                message: m.unwrap_or_else(|| "您的投诉处理方案已执行完毕，请确认是否满意，感谢您的耐心。".into()),
            })
        }
        Action::Confirm => {
            let s = match i.satisfaction {
                Some(s) => e.check("satisfaction", flow::parse_satisfaction(s)),
                None => {
                    e.add("satisfaction", Issue::Required);
                    None
                }
            };
            let feedback = e.check("feedback", optional_text(i.feedback.as_deref(), MAX_TEXT, true)).flatten();
            s.map(|satisfaction| Checked::Confirm { satisfaction, feedback })
        }
        Action::Close => text(&mut e, "reason", &i.reason).map(|reason| Checked::Close { reason }),
    };
    match out {
        Some(c) if e.is_empty() => Ok(c),
        _ => Err(e),
    }
}

fn refused(r: &flow::Refusal) -> AppError {
    AppError::Refused { code: r.code(), zh: r.message(Lang::Zh), en: r.message(Lang::En) }
}

/// Takes one step of a complaint's workflow.
pub async fn act(
    state: &AppState,
    actor: &User,
    id: i64,
    input: StepInput,
    ip: Option<String>,
) -> AppResult<Complaint> {
    if let Some(waiting) = match input.action.as_str() {
        "wait_customer" => Some(true),
        "resume" => Some(false),
        _ => None,
    } {
        return wait_for_customer(state, actor, id, waiting, ip).await;
    }
    let action = Action::parse(&input.action).map_err(|i| AppError::field("action", i))?;
    if !actor.role.can_create_tickets() && action != Action::Report {
        return Err(AppError::Forbidden);
    }
    let now = state.clock.now();
    let tz = state.config.time_zone.clone();
    let catalogue = super::settings::load_catalogue(state).await?;
    let checked = check(action, &input, &catalogue, now, &tz)?;
    if let Checked::Investigate { department } = checked {
        let ok = state.db.read(move |c| store_routing::group_exists(c, department)).await?;
        if !ok {
            return Err(AppError::field("department_id", Issue::Unknown));
        }
    }
    let setup = setup::get(state).await?;
    let outbox_message = match &checked {
        Checked::Execute { message } => notification(state, id, message).await?,
        _ => None,
    };
    let actor = actor.clone();
    let outcome = state
        .db
        .write(move |c| {
            let mut p = match store::get_for_update(c, id) {
                Err(StoreError::NotFound) => return Ok(Err(AppError::NotFound)),
                other => other?,
            };
            if !can_see_complaint(c, &actor, &p)? {
                return Ok(Err(AppError::NotFound));
            }
            let to = match flow::transition(p.state, action, actor.role.can_assign_tickets()) {
                Ok(to) => to,
                Err(r) => return Ok(Err(refused(&r))),
            };
            let mut t = store_tickets::get_for_update(c, p.ticket_id)?;
            let cal = setup.calendar(&t.schedule_code);
            let from = p.state;
            let mut detail = json!({"from": from.code(), "to": to.code()});
            match checked {
                Checked::Investigate { department } => {
                    p.department_id = Some(department);
                    if p.handler_id.is_none() {
                        p.handler_id = Some(actor.id);
                    }
                    p.deadlines.start(DeadlineKind::Investigation, now, INVESTIGATION_WITHIN, cal);
                    detail["department_id"] = json!(department);
                }
                Checked::Report { party, cause, evidence } => {
                    p.deadlines.meet(DeadlineKind::Investigation, now);
                    p.responsible_party = Some(party);
                    p.root_cause = Some(cause);
                    p.evidence = evidence;
                    p.investigated_at = Some(now);
                    detail["responsible_party"] = json!(party.code());
                }
                Checked::Propose { solution, compensation } => {
                    p.solution = Some(solution.clone());
                    if !compensation.is_empty() {
                        detail["compensation"] = json!(compensation);
                    }
                    p.compensation = compensation;
                    p.approved_by = None;
                    p.approved_at = None;
                    if p.handler_id.is_none() {
                        p.handler_id = Some(actor.id);
                    }
                    detail["solution"] = json!(solution);
                }
                Checked::Approve => {
                    // The limits in force when the approval is written.
                    let catalogue = super::settings::catalogue_in(c)?;
                    let total = compensation::total(&p.compensation).unwrap_or(Money::from_fen(i64::MAX));
                    if let Some((zh, en)) = catalogue.refusal(actor.role, total) {
                        return Ok(Err(AppError::Refused { code: "over_compensation_limit", zh, en }));
                    }
                    if !p.compensation.is_empty() {
                        detail["compensation_total"] = json!(total.to_string());
                    }
                    p.approved_by = Some(actor.id);
                    p.approved_at = Some(now);
                    p.rejection_reason = None;
                }
                Checked::Reject { reason } => {
                    p.rejection_reason = Some(reason.clone());
                    detail["reason"] = json!(reason);
                }
                Checked::Agree { promised } => {
                    p.deadlines.meet(DeadlineKind::Solution, now);
                    p.agreed_at = Some(now);
                    p.promised_at = Some(promised);
                    p.deadlines.set(DeadlineKind::Execution, promised);
                    detail["promised_at"] = json!(promised.to_string());
                }
                Checked::Execute { message } => {
                    p.deadlines.meet(DeadlineKind::Execution, now);
                    p.executed_at = Some(now);
                    // Told within 1 h of execution: through the outbox when
                    // the customer has an address (met when the message may
                    // go: quiet hours can make it late), else recorded for a
                    // call.
                    p.deadlines.start(DeadlineKind::Notification, now, NOTIFICATION_WITHIN, cal);
                    let n = store::add_notification(c, p.id, now, Some(actor.id), "executed", &message)?;
                    store::add_notification(
                        c,
                        p.id,
                        now,
                        Some(actor.id),
                        "satisfaction",
                        "请对本次投诉处理结果打分（1–5 分）并告诉我们您的意见。",
                    )?;
                    let mut told = json!({"notification_id": n});
                    let sent_at = match &outbox_message {
                        Some(m) => {
                            let ids = crate::service::outreach::queue(c, std::slice::from_ref(m), Some(actor.id), now)?;
                            told["outbox_ids"] = json!(ids);
                            told["channel"] = json!(m.channel);
                            told["to"] = json!(m.recipient_masked);
                            m.not_before
                        }
                        None => now,
                    };
                    p.deadlines.meet(DeadlineKind::Notification, sent_at);
                    p.notified_at = Some(sent_at);
                    step(c, &t, &p, now, Some(actor.id), "notified", told, ip.as_deref())?;
                }
                Checked::Confirm { satisfaction, feedback } => {
                    p.satisfaction = Some(i64::from(satisfaction));
                    p.feedback = feedback;
                    detail["satisfaction"] = json!(satisfaction);
                }
                Checked::Close { reason } => {
                    p.close_reason = Some(reason.clone());
                    detail["reason"] = json!(reason);
                }
            }
            p.state = to;
            p.updated_at = now;
            step(c, &t, &p, now, Some(actor.id), action.code(), detail, ip.as_deref())?;
            if to == State::Closed {
                p.closed_at = Some(now);
                archive_ticket(c, &mut t, &p, &actor, now, &setup, &tz, ip.as_deref())?;
            }
            store::save(c, &p)?;
            sync_deadline_job(c, &p, now)?;
            Ok(Ok(()))
        })
        .await?;
    outcome?;
    Ok(state.db.read(move |c| store::get(c, id)).await?)
}

/// The message that tells the customer of the execution (progress
/// update template, by email when the customer has one, else SMS; held
/// by quiet hours), or `None` when the customer has neither.
async fn notification(state: &AppState, id: i64, message: &str) -> AppResult<Option<NewMessage>> {
    let cfg = crate::service::outreach::settings::load(state).await?;
    let found = state
        .db
        .read(move |c| {
            let p = match store::get(c, id) {
                Err(StoreError::NotFound) => return Ok(None),
                other => other?,
            };
            let cu = store_customers::get(c, &store_customers::Scope::All, p.customer_id)?;
            let channel = if cu.email_ciphertext.is_some() {
                OutChannel::Email
            } else if cu.phone_ciphertext.is_some() {
                OutChannel::Sms
            } else {
                return Ok(None);
            };
            let tpl = store_outreach::template_for(c, Scenario::ProgressUpdate.code(), channel.code())?;
            Ok(tpl.map(|t| (p, cu, channel, t)))
        })
        .await?;
    let Some((p, cu, channel, tpl)) = found else { return Ok(None) };
    let vars = BTreeMap::from([
        ("customer_name".to_string(), cu.name.clone()),
        ("ticket_number".to_string(), p.number.clone()),
        ("subject".to_string(), p.subject.clone()),
        ("status".to_string(), format!("处理方案已执行。{message}")),
    ]);
    let render =
        |src: &str| crate::service::outreach::templates::render(src, &vars).map_err(|i| AppError::field("message", i));
    let (recipient_enc, recipient_masked) = match channel {
        OutChannel::Email => (cu.email_ciphertext.clone(), cu.email_masked.clone()),
        _ => (cu.phone_ciphertext.clone(), cu.phone_masked.clone()),
    };
    let now = state.clock.now();
    Ok(Some(NewMessage {
        idempotency_key: format!("complaint-{}-executed", p.id),
        channel: channel.code().into(),
        scenario: Scenario::ProgressUpdate.code().into(),
        customer_id: Some(cu.id),
        recipient_enc: recipient_enc.unwrap_or_default(),
        recipient_masked: recipient_masked.unwrap_or_default(),
        subject: render(&tpl.subject)?,
        body: render(&tpl.body)?,
        status: "queued".into(),
        last_error: None,
        not_before: cfg.quiet_hours.map_or(now, |q| q.release_at(now, &state.config.time_zone)),
        created_by: None,
    }))
}

/// Waiting for the customer (`waiting`) stops the complaint's open
/// deadlines; the customer's answer starts them again, moved on by the
/// working time waited (SPEC T2's pause, applied to P1–P5).
async fn wait_for_customer(
    state: &AppState,
    actor: &User,
    id: i64,
    waiting: bool,
    ip: Option<String>,
) -> AppResult<Complaint> {
    if !actor.role.can_create_tickets() {
        return Err(AppError::Forbidden);
    }
    let now = state.clock.now();
    let setup = setup::get(state).await?;
    let actor = actor.clone();
    let outcome = state
        .db
        .write(move |c| {
            let mut p = match store::get_for_update(c, id) {
                Err(StoreError::NotFound) => return Ok(Err(AppError::NotFound)),
                other => other?,
            };
            if !can_see_complaint(c, &actor, &p)? {
                return Ok(Err(AppError::NotFound));
            }
            let t = store_tickets::get(c, p.ticket_id)?;
            let changed = if !p.state.is_open() {
                false
            } else if waiting {
                p.deadlines.pause(now)
            } else {
                p.deadlines.resume(now, setup.calendar(&t.schedule_code))
            };
            if !changed {
                return Ok(Err(AppError::Refused {
                    code: if waiting { "nothing_to_pause" } else { "not_waiting" },
                    zh: if waiting { "投诉没有进行中的时限可暂停" } else { "投诉没有在等待客户" }.into(),
                    en: if waiting {
                        "The complaint has no running deadline to pause"
                    } else {
                        "The complaint is not waiting for the customer"
                    }
                    .into(),
                }));
            }
            p.updated_at = now;
            store::save(c, &p)?;
            let kind = if waiting { "waiting" } else { "resumed" };
            step(c, &t, &p, now, Some(actor.id), kind, json!({}), ip.as_deref())?;
            sync_deadline_job(c, &p, now)?;
            Ok(Ok(()))
        })
        .await?;
    outcome?;
    Ok(state.db.read(move |c| store::get(c, id)).await?)
}

/// Closing a complaint archives its ticket (clocks stopped) and creates
/// the complaint-repair revisit (M1) — once per ticket number.
#[allow(clippy::too_many_arguments)]
fn archive_ticket(
    c: &mut guanxi_store::Conn,
    t: &mut store_tickets::Ticket,
    p: &Complaint,
    actor: &User,
    now: jiff::Timestamp,
    setup: &setup::TicketSetup,
    tz: &jiff::tz::TimeZone,
    ip: Option<&str>,
) -> guanxi_store::Result<()> {
    let cal = setup.calendar(&t.schedule_code);
    let before = t.sla.next_event();
    let from = t.status;
    t.sla.stop_all(now, cal);
    if t.resolved_at.is_none() {
        t.resolved_at = Some(now);
    }
    t.closed_at = Some(now);
    t.status = Status::Closed;
    if let Some(e) = t.escalation.as_mut() {
        e.end(guanxi_domain::ticket::escalation::Ended::Settled, now);
    }
    if let Some(a) = t.assignee_id
        && from.is_workload()
    {
        store_routing::add_load(c, a, -1, now)?;
    }
    t.updated_at = now;
    store_tickets::save(c, t)?;
    sync_sla_job(c, t, before, now)?;
    let detail = json!({"from": from.code(), "to": "closed", "action": "close", "note": p.number});
    record(c, t, now, Some(actor.id), "status", &detail, Some("ticket.status.closed".into()), ip)?;
    crate::service::maintenance::complaint_closed_in(c, tz, t.customer_id, now, &t.number, now)?;
    Ok(())
}

/// An agent's override of the urgency, with its reason (P2).
pub async fn override_urgency(
    state: &AppState,
    actor: &User,
    id: i64,
    urgency: &str,
    reason: &str,
    ip: Option<String>,
) -> AppResult<Complaint> {
    let mut e = ValidationErrors::new();
    let urgency = e.check("urgency", Urgency::parse(urgency));
    let reason = e.check("reason", ticket::parse_message(reason));
    let (Some(urgency), Some(reason)) = (urgency, reason) else { return Err(AppError::Invalid(e)) };
    if !actor.role.can_create_tickets() {
        return Err(AppError::Forbidden);
    }
    let now = state.clock.now();
    let actor = actor.clone();
    let outcome = state
        .db
        .write(move |c| {
            let mut p = match store::get_for_update(c, id) {
                Err(StoreError::NotFound) => return Ok(Err(AppError::NotFound)),
                other => other?,
            };
            if !can_see_complaint(c, &actor, &p)? {
                return Ok(Err(AppError::NotFound));
            }
            if !p.state.is_open() {
                return Ok(Err(AppError::Refused {
                    code: "complaint_closed",
                    zh: "投诉已归档，不能再调整紧急程度".into(),
                    en: "The complaint is archived; its urgency can no longer change".into(),
                }));
            }
            let t = store_tickets::get(c, p.ticket_id)?;
            let detail = json!({"from": p.urgency.code(), "to": urgency.code(), "reason": reason});
            p.urgency_override = Some(json!({"from": p.urgency.code(), "to": urgency.code(), "reason": reason,
                "by": actor.name, "at": now.to_string()}));
            p.urgency = urgency;
            p.updated_at = now;
            store::save(c, &p)?;
            step(c, &t, &p, now, Some(actor.id), "urgency", detail, ip.as_deref())?;
            Ok(Ok(()))
        })
        .await?;
    outcome?;
    Ok(state.db.read(move |c| store::get(c, id)).await?)
}

/// The deadline job: reports each missed deadline once; a missed
/// investigation is escalated to the supervisors of the department.
pub async fn run_deadlines(state: &AppState, lease: Lease) -> AppResult<()> {
    let id: i64 =
        lease.ref_key.parse().map_err(|_| AppError::Internal(format!("bad complaint key {:?}", lease.ref_key)))?;
    let now = state.clock.now();
    state
        .db
        .write(move |c| {
            let lost = || StoreError::Other(crate::service::tickets::clocks::LEASE_LOST.into());
            let mut p = match store::get_for_update(c, id) {
                Err(StoreError::NotFound) => {
                    return if jobs::finish(c, &lease, now, None)? { Ok(()) } else { Err(lost()) };
                }
                other => other?,
            };
            let missed = p.deadlines.newly_missed(now);
            if !missed.is_empty() {
                let t = store_tickets::get(c, p.ticket_id)?;
                for kind in &missed {
                    let due = p.deadlines.get(*kind).map(|d| d.due_at.to_string());
                    step(
                        c,
                        &t,
                        &p,
                        now,
                        None,
                        "deadline_missed",
                        json!({"deadline": kind.code(), "due_at": due}),
                        None,
                    )?;
                    if *kind == DeadlineKind::Investigation && p.state == State::Investigating {
                        let sups = store_escalation::supervisors_for(c, p.department_id)?;
                        for s in &sups {
                            store_tickets::add_participant(c, t.id, *s, now)?;
                        }
                        p.escalated_at = Some(now);
                        step(c, &t, &p, now, None, "escalated", json!({"to": sups}), None)?;
                    }
                }
                p.updated_at = now;
                store::save(c, &p)?;
            }
            if jobs::finish(c, &lease, now, p.deadlines.next_due())? { Ok(()) } else { Err(lost()) }
        })
        .await?;
    Ok(())
}
