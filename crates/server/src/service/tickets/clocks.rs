//! The timed part of tickets, run by the scheduler ([`crate::jobs`]): a
//! ticket's SLA job fires its warnings and breaches (a breach starts the
//! escalation path that applies), and its escalation job moves an
//! unanswered escalation to the next step until the chain ends. Each run
//! completes its job in the transaction of its effects.

use guanxi_domain::ticket::escalation::{Cause, Ended, Escalation, EscalationPath, StepDue, StepTarget, path_for};
use guanxi_domain::ticket::sla::{ClockKind, SlaEvent};
use guanxi_domain::user::Role;
use guanxi_store::jobs::{self, Lease};
use guanxi_store::notifications as store_notifications;
use guanxi_store::tickets::{self as store, Ticket};
use guanxi_store::users as store_users;
use guanxi_store::{Conn, StoreError, escalation as store_escalation};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::setup::{self, TicketSetup};
use super::{ESCALATION_JOB, record, sync_sla_job};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The error a run returns when its lease was taken from it: its
/// transaction rolls back and the job's current holder runs it.
pub const LEASE_LOST: &str = "job lease lost";

fn lost() -> StoreError {
    StoreError::Other(LEASE_LOST.into())
}

fn minutes(m: u32) -> SignedDuration {
    SignedDuration::from_mins(i64::from(m))
}

/// Arms, moves or disarms a ticket's escalation job after its escalation
/// changed outside a run of that job.
pub(crate) fn sync_escalation_job(
    c: &mut Conn,
    t: &Ticket,
    before: Option<&Escalation>,
    now: Timestamp,
) -> guanxi_store::Result<()> {
    let due = |e: Option<&Escalation>| e.filter(|e| e.is_running()).and_then(|e| e.step_due_at);
    let (was, is) = (due(before), due(t.escalation.as_ref()));
    if was == is {
        return Ok(());
    }
    let key = t.id.to_string();
    match is {
        Some(at) => jobs::schedule(c, ESCALATION_JOB, &key, at, "", now),
        None => jobs::cancel(c, ESCALATION_JOB, &key, now),
    }
}

/// Puts the ticket at step `index` of `path`: who has it, until when, and
/// the customer's progress update if the step promises one.
#[allow(clippy::too_many_arguments)]
fn engage_step(
    c: &mut Conn,
    t: &mut Ticket,
    path: &EscalationPath,
    index: usize,
    cause: Cause,
    now: Timestamp,
    setup: &TicketSetup,
    actor: Option<i64>,
    ip: Option<&str>,
) -> guanxi_store::Result<()> {
    let Some(step) = path.steps.get(index) else { return Ok(()) };
    let target = match &step.target {
        StepTarget::User { user_id } => match store_users::get(c, *user_id) {
            Ok(u) if u.active => Some(u),
            Ok(_) | Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        },
        StepTarget::Supervisor => match store_escalation::supervisors_for(c, t.group_id)?.first() {
            Some(id) => Some(store_users::get(c, *id)?),
            None => None,
        },
    };
    let cal = setup.calendar(&t.schedule_code);
    let due = cal.add_working_duration(now, minutes(step.respond_minutes));
    let started_at =
        t.escalation.as_ref().filter(|e| e.path_id == path.id && e.is_running()).map_or(now, |e| e.started_at);
    t.escalation = Some(Escalation {
        path_id: path.id,
        path_name: path.name.clone(),
        cause: cause.clone(),
        step: index,
        step_name: step.name.clone(),
        target_id: target.as_ref().map(|u| u.id),
        started_at,
        step_started_at: now,
        step_due_at: due,
        ended: None,
        ended_at: None,
    });
    if let Some(u) = &target {
        store::add_participant(c, t.id, u.id, now)?;
        // A department's interface person: a cross-department hand-over,
        // timed until they answer (KPI cross_department_time).
        if u.role == Role::Collaborator {
            store_escalation::open_handover(c, t.id, u.id, u.group_id, &step.name, now)?;
        }
    }
    if let Some(m) = step.customer_update_minutes
        && t.status.is_workload()
    {
        t.sla.start(ClockKind::Progress, minutes(m), setup.policy.warn_percent, now, cal);
    }
    let detail = json!({
        "path": path.name, "step": index + 1, "steps": path.steps.len(), "step_name": step.name,
        "target_id": target.as_ref().map(|u| u.id), "target_name": target.as_ref().map(|u| u.name.clone()),
        "due_at": due.map(Timestamp::as_millisecond), "respond_minutes": step.respond_minutes,
        "customer_update_minutes": step.customer_update_minutes, "cause": cause,
    });
    record(c, t, now, actor, "escalated", &detail, Some("ticket.escalated".into()), ip)
}

/// Starts `path` at its first step.
#[allow(clippy::too_many_arguments)]
pub(crate) fn start_escalation(
    c: &mut Conn,
    t: &mut Ticket,
    path: &EscalationPath,
    cause: Cause,
    now: Timestamp,
    setup: &TicketSetup,
    actor: Option<i64>,
    ip: Option<&str>,
) -> guanxi_store::Result<()> {
    t.escalation = None;
    engage_step(c, t, path, 0, cause, now, setup, actor, ip)
}

fn ticket_id(lease: &Lease) -> AppResult<i64> {
    lease.ref_key.parse().map_err(|_| AppError::Internal(format!("job {}: bad key {:?}", lease.id, lease.ref_key)))
}

/// A ticket's SLA job: reports each warning and breach now due (a breach
/// of an open ticket starts its escalation path), then sleeps until the
/// ticket's next SLA instant.
pub async fn run_sla(state: &AppState, lease: Lease) -> AppResult<()> {
    let setup = setup::get(state).await?;
    let now = state.clock.now();
    let id = ticket_id(&lease)?;
    state
        .db
        .write(move |c| {
            let mut t = match store::get_for_update(c, id) {
                Err(StoreError::NotFound) => {
                    return if jobs::finish(c, &lease, now, None)? { Ok(()) } else { Err(lost()) };
                }
                other => other?,
            };
            let esc_before = t.escalation.clone();
            let events = t.sla.due_events(now);
            for (clock, event, at) in &events {
                let detail = json!({"clock": clock.code(), "due_at": at.as_millisecond()});
                let title = format!("ticket.{}.{}", event.code(), clock.code());
                record(c, &t, now, None, event.code(), &detail, Some(title), None)?;
                // A breach while a chain was under way is that chain's to
                // handle, however late this run reports it.
                let handled = t.escalation.as_ref().is_some_and(|e| e.is_running() || e.covers(*at));
                if *event == SlaEvent::Breach
                    && t.status.is_workload()
                    && !handled
                    && let Some(path) = path_for(&setup.paths, t.ticket_type, t.category)
                {
                    let cause = Cause::Breach { clock: clock.code().to_string() };
                    start_escalation(c, &mut t, &path.clone(), cause, now, &setup, None, None)?;
                }
                notify_sla(c, &t, clock.code(), *event, *at, now)?;
            }
            if !events.is_empty() {
                t.updated_at = now;
                store::save(c, &t)?;
            }
            super::clocks::sync_escalation_job(c, &t, esc_before.as_ref(), now)?;
            if jobs::finish(c, &lease, now, t.sla.next_event())? { Ok(()) } else { Err(lost()) }
        })
        .await?;
    Ok(())
}

/// Tells the people a ticket's SLA event concerns, in the app: the assignee
/// of a warning; for a breach also the group's supervisors and the person
/// the escalation now waits on. Each once per event and deadline.
fn notify_sla(
    c: &mut Conn,
    t: &Ticket,
    clock: &str,
    event: SlaEvent,
    due_at: Timestamp,
    now: Timestamp,
) -> guanxi_store::Result<()> {
    let mut to: Vec<i64> = t.assignee_id.into_iter().collect();
    if event == SlaEvent::Breach {
        to.extend(store_escalation::supervisors_for(c, t.group_id)?);
        to.extend(t.escalation.as_ref().filter(|e| e.is_running()).and_then(|e| e.target_id));
    }
    to.sort_unstable();
    to.dedup();
    for user in to {
        store_notifications::notify_sla(c, user, event.code(), t.id, clock, due_at, now)?;
    }
    Ok(())
}

/// A ticket's escalation job: the current step's time ran out unanswered,
/// so the next step takes the ticket — or, after the last, the chain ends.
pub async fn run_escalation(state: &AppState, lease: Lease) -> AppResult<()> {
    let setup = setup::get(state).await?;
    let now = state.clock.now();
    let id = ticket_id(&lease)?;
    state
        .db
        .write(move |c| {
            let done = |c: &mut Conn, next: Option<Timestamp>| {
                if jobs::finish(c, &lease, now, next)? { Ok(()) } else { Err(lost()) }
            };
            let mut t = match store::get_for_update(c, id) {
                Err(StoreError::NotFound) => return done(c, None),
                other => other?,
            };
            let Some(e) = t.escalation.clone().filter(Escalation::is_running) else { return done(c, None) };
            if let Some(due) = e.step_due_at
                && due > now
            {
                return done(c, Some(due));
            }
            let sla_before = t.sla.next_event();
            if !t.status.is_workload() {
                if let Some(e) = t.escalation.as_mut() {
                    e.end(Ended::Settled, now);
                }
            } else {
                let path = setup.all_paths.get(&e.path_id);
                match path.map_or(StepDue::Exhausted, |p| e.on_step_due(p.steps.len())) {
                    StepDue::Next(i) => {
                        if let Some(p) = path {
                            engage_step(c, &mut t, p, i, e.cause.clone(), now, &setup, None, None)?;
                        }
                    }
                    StepDue::Exhausted => {
                        if let Some(x) = t.escalation.as_mut() {
                            x.end(Ended::Exhausted, now);
                        }
                        let detail = json!({"path": e.path_name, "steps": e.step + 1, "last_step": e.step_name});
                        record(
                            c,
                            &t,
                            now,
                            None,
                            "escalation_exhausted",
                            &detail,
                            Some("ticket.escalation_exhausted".into()),
                            None,
                        )?;
                    }
                    StepDue::Nothing => {}
                }
            }
            t.updated_at = now;
            store::save(c, &t)?;
            sync_sla_job(c, &t, sla_before, now)?;
            let next = t.escalation.as_ref().filter(|e| e.is_running()).and_then(|e| e.step_due_at);
            done(c, next)
        })
        .await?;
    Ok(())
}
