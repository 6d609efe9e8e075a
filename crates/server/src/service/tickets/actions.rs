//! What users do to a ticket: move it through its status flow, reply to
//! the customer or note internally, record the customer's answer, record
//! the revisit, assign it, escalate it. Each action reads the ticket under
//! a lock, checks everything before writing anything (a refusal changes
//! nothing), then writes the ticket, its history, audit and timeline
//! entries and re-arms its scheduled jobs in one transaction.

use guanxi_domain::ticket::escalation::{Cause, Ended};
use guanxi_domain::ticket::lifecycle::{self, Action};
use guanxi_domain::ticket::routing::{AssigneeBy, GroupBy, RoutingReason};
use guanxi_domain::ticket::sla::{ClockKind, Outcome, SlaFacts, SlaPolicy};
use guanxi_domain::ticket::{self, Status, TicketType};
use guanxi_domain::user::Role;
use guanxi_domain::{Issue, ValidationErrors};
use guanxi_store::tickets::{self as store, Ticket};
use guanxi_store::users::{self as store_users, User};
use guanxi_store::{Conn, StoreError, escalation as store_escalation, routing as store_routing};
use jiff::Timestamp;
use serde_json::json;

use super::attachments;
use super::clocks::{self, sync_escalation_job};
use super::setup::{self, TicketSetup};
use super::{can_see, record, sync_sla_job};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// What an action has at hand inside its transaction.
pub(crate) struct Ctx<'a> {
    pub setup: &'a TicketSetup,
    pub tz: &'a jiff::tz::TimeZone,
    pub now: Timestamp,
    pub actor: &'a User,
    pub ip: Option<&'a str>,
}

type Step = std::result::Result<(), AppError>;

/// Runs `f` on the locked ticket; saves it and re-arms its jobs when `f`
/// accepted the action. `f` must refuse before it writes.
async fn change<F>(state: &AppState, actor: &User, id: i64, ip: Option<String>, f: F) -> AppResult<Ticket>
where
    F: FnOnce(&mut Conn, &mut Ticket, &Ctx<'_>) -> guanxi_store::Result<Step> + Send + 'static,
{
    let setup = setup::get(state).await?;
    let now = state.clock.now();
    let actor = actor.clone();
    let tz = state.config.time_zone.clone();
    let outcome = state
        .db
        .write(move |c| {
            let mut t = match store::get_for_update(c, id) {
                Err(StoreError::NotFound) => return Ok(Err(AppError::NotFound)),
                other => other?,
            };
            if !can_see(c, &actor, &t)? {
                return Ok(Err(AppError::NotFound));
            }
            let (sla_before, esc_before) = (t.sla.next_event(), t.escalation.clone());
            let ctx = Ctx { setup: &setup, tz: &tz, now, actor: &actor, ip: ip.as_deref() };
            if let Err(e) = f(c, &mut t, &ctx)? {
                return Ok(Err(e));
            }
            t.updated_at = now;
            store::save(c, &t)?;
            sync_sla_job(c, &t, sla_before, now)?;
            sync_escalation_job(c, &t, esc_before.as_ref(), now)?;
            Ok(Ok(()))
        })
        .await?;
    outcome?;
    Ok(state.db.read(move |c| store::get(c, id)).await?)
}

fn title(kind: &str) -> Option<String> {
    Some(format!("ticket.{kind}"))
}

/// Records how a stopped clock ended (history only).
fn clock_stopped(
    c: &mut Conn,
    t: &Ticket,
    ctx: &Ctx<'_>,
    clock: ClockKind,
    outcome: Option<Outcome>,
) -> guanxi_store::Result<()> {
    if let Some(o) = outcome {
        let outcome = match o {
            Outcome::Met => "met",
            Outcome::Late => "late",
        };
        record(
            c,
            t,
            ctx.now,
            Some(ctx.actor.id),
            "clock_stopped",
            &json!({"clock": clock.code(), "outcome": outcome}),
            None,
            ctx.ip,
        )?;
    }
    Ok(())
}

/// The escalation's current person acted on the ticket: the chain stops.
/// A department's person who was handed the ticket has answered, even
/// after the chain moved past them: their hand-overs close with the
/// working time they took.
fn acknowledge(c: &mut Conn, t: &mut Ticket, ctx: &Ctx<'_>) -> guanxi_store::Result<()> {
    if ctx.actor.role == Role::Collaborator {
        let cal = ctx.setup.calendar(&t.schedule_code);
        for (id, handed_at) in store_escalation::open_handovers(c, t.id, ctx.actor.id)? {
            let days = cal.working_days_between(handed_at, ctx.now);
            #[allow(clippy::cast_possible_truncation)]
            let milli = (days * 1000.0).round() as i64;
            store_escalation::answer_handover(c, id, ctx.now, milli)?;
        }
    }
    let Some(e) = t.escalation.as_mut() else { return Ok(()) };
    if e.is_running() && e.target_id == Some(ctx.actor.id) {
        e.end(Ended::Answered, ctx.now);
        let detail = json!({"path": e.path_name, "step": e.step + 1, "step_name": e.step_name});
        record(
            c,
            t,
            ctx.now,
            Some(ctx.actor.id),
            "escalation_answered",
            &detail,
            title("escalation_answered"),
            ctx.ip,
        )?;
    }
    Ok(())
}

fn settle_escalation(t: &mut Ticket, now: Timestamp) {
    if let Some(e) = t.escalation.as_mut() {
        e.end(Ended::Settled, now);
    }
}

/// Takes the ticket for the actor when nobody has it and they take tickets.
fn take_if_unassigned(c: &mut Conn, t: &mut Ticket, ctx: &Ctx<'_>) -> guanxi_store::Result<()> {
    if t.assignee_id.is_none() && ctx.actor.role.takes_tickets() {
        t.assignee_id = Some(ctx.actor.id);
        if t.status.is_workload() {
            store_routing::add_load(c, ctx.actor.id, 1, ctx.now)?;
        }
        record(
            c,
            t,
            ctx.now,
            Some(ctx.actor.id),
            "assigned",
            &json!({"to": ctx.actor.id, "to_name": ctx.actor.name, "by": "taken"}),
            title("assigned"),
            ctx.ip,
        )?;
    }
    Ok(())
}

fn sla_facts(t: &Ticket) -> SlaFacts {
    let tier = t.routing.as_ref().and_then(|r| r.tier);
    SlaFacts { channel: t.channel, ticket_type: t.ticket_type, priority: t.priority, tier }
}

/// Moves a ticket through its status flow (T1). Refused with the reason
/// when the status or the user's role does not allow the action.
pub async fn act(
    state: &AppState,
    actor: &User,
    id: i64,
    action: Action,
    note: Option<String>,
    ip: Option<String>,
) -> AppResult<Ticket> {
    let note = match note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => Some(ticket::parse_message(n).map_err(|i| AppError::field("note", i))?),
        None => None,
    };
    // Read before the transaction: how a resolved feedback is told (SPEC O5).
    let outreach_cfg =
        if action == Action::Resolve { Some(crate::service::outreach::settings::load(state).await?) } else { None };
    change(state, actor, id, ip, move |c, t, ctx| {
        let to = match lifecycle::transition(t.status, action, ctx.actor.role.ticket_permissions()) {
            Ok(to) => to,
            Err(e) => return Ok(Err(e.into())),
        };
        let from = t.status;
        let cal = ctx.setup.calendar(&t.schedule_code);
        let now = ctx.now;
        let was_workload = from.is_workload();
        match action {
            Action::Accept | Action::Start => take_if_unassigned(c, t, ctx)?,
            Action::WaitForCustomer => t.sla.pause_all(now, cal),
            Action::Resume => t.sla.resume_all(now, cal),
            Action::Resolve => {
                if t.first_response_at.is_none() {
                    t.first_response_at = Some(now);
                }
                for k in [ClockKind::FirstResponse, ClockKind::Progress, ClockKind::Resolution, ClockKind::Plan] {
                    let o = t.sla.stop(k, now, cal);
                    clock_stopped(c, t, ctx, k, o)?;
                }
                if SlaPolicy::has_revisit(t.ticket_type) {
                    let target = ctx.setup.policy.target(ClockKind::Revisit, &sla_facts(t));
                    t.sla.start(ClockKind::Revisit, target, ctx.setup.policy.warn_percent, now, cal);
                }
                t.resolved_at = Some(now);
                settle_escalation(t, now);
                if t.ticket_type != TicketType::Complaint {
                    // A complaint's satisfaction contact is its repair revisit (SPEC T2).
                    crate::service::outreach::surveys::arm_after_ticket(c, t.id, now)?;
                }
                if let Some(cfg) = &outreach_cfg {
                    tell_feedback_resolved(c, t, ctx, cfg)?;
                }
            }
            Action::Close => {
                if t.ticket_type == TicketType::Need {
                    // The closed loop (SPEC T1): told the outcome before closing.
                    let (status, told) = guanxi_store::needs::get(c, t.id)?
                        .map_or((guanxi_domain::ticket::need::NeedStatus::Submitted, None), |r| {
                            (r.status, r.customer_told_at)
                        });
                    if let Err(e) = guanxi_domain::ticket::need::may_close(status, told) {
                        return Ok(Err(AppError::Refused {
                            code: e.code(),
                            zh: e.message(guanxi_domain::Lang::Zh).into(),
                            en: e.message(guanxi_domain::Lang::En).into(),
                        }));
                    }
                }
                t.sla.stop_all(now, cal);
                t.closed_at = Some(now);
                settle_escalation(t, now);
                if t.ticket_type == TicketType::Complaint {
                    // One satisfaction contact per closed matter: the
                    // complaint-repair revisit (SPEC M1) replaces the
                    // ticket's own, created with the closing.
                    crate::service::maintenance::complaint_closed_in(c, ctx.tz, t.customer_id, now, &t.number, now)?;
                }
            }
            Action::Reopen => {
                t.sla.stop(ClockKind::Revisit, now, cal);
                t.sla.restart(ClockKind::Resolution, now, cal);
                t.resolved_at = None;
                t.closed_at = None;
            }
        }
        t.status = to;
        if let Some(a) = t.assignee_id {
            match (was_workload, to.is_workload()) {
                (true, false) => store_routing::add_load(c, a, -1, now)?,
                (false, true) => store_routing::add_load(c, a, 1, now)?,
                _ => {}
            }
        }
        let detail = json!({"from": from.code(), "to": to.code(), "action": action.code(), "note": note});
        record(c, t, now, Some(ctx.actor.id), "status", &detail, title(&format!("status.{}", to.code())), ctx.ip)?;
        acknowledge(c, t, ctx)?;
        Ok(Ok(()))
    })
    .await
}

/// The idempotency key of the message telling a customer their feedback
/// or suggestion ticket was resolved: one per ticket, so a reopened and
/// again resolved ticket queues nothing new.
pub fn feedback_told_key(ticket_id: i64) -> String {
    format!("feedback-told-{ticket_id}")
}

/// Queues, in the resolving transaction, the `feedback_resolved` message
/// to the customer of a feedback or suggestion ticket (SPEC O5: customer
/// told within 2 h of resolution), on the channel the outreach service
/// picks (consent refused channels excluded, quiet hours respected). No
/// open channel or no template: nothing is queued and the resolution
/// stands.
fn tell_feedback_resolved(
    c: &mut Conn,
    t: &Ticket,
    ctx: &Ctx<'_>,
    cfg: &crate::service::outreach::settings::OutreachSettings,
) -> guanxi_store::Result<()> {
    use crate::service::outreach::{self as outreach, consent, templates};
    use guanxi_domain::outreach::{OutChannel, Scenario};
    if !matches!(t.ticket_type, TicketType::Feedback | TicketType::Suggestion) {
        return Ok(());
    }
    let scenario = Scenario::FeedbackResolved;
    let customer = guanxi_store::customers::get(c, &guanxi_store::customers::Scope::All, t.customer_id)?;
    let refused = consent::refused_in(c, t.customer_id)?;
    let Some(ch) = outreach::channels_for(scenario, None, Some(&customer), &refused, cfg).first().copied() else {
        return Ok(());
    };
    let (recipient_enc, recipient_masked) = match ch {
        OutChannel::Email => (customer.email_ciphertext.clone(), customer.email_masked.clone()),
        OutChannel::Sms => (customer.phone_ciphertext.clone(), customer.phone_masked.clone()),
        OutChannel::Wecom | OutChannel::Webhook => (None, None),
    };
    let Some(recipient_enc) = recipient_enc else { return Ok(()) };
    let Some(tpl) = guanxi_store::outreach::template_for(c, scenario.code(), ch.code())? else {
        return Ok(());
    };
    let vars = std::collections::BTreeMap::from([
        ("customer_name".to_string(), customer.name.clone()),
        ("ticket_number".to_string(), t.number.clone()),
        ("subject".to_string(), t.subject.clone()),
    ]);
    let (Ok(subject), Ok(body)) = (templates::render(&tpl.subject, &vars), templates::render(&tpl.body, &vars)) else {
        return Ok(());
    };
    let m = guanxi_store::outreach::NewMessage {
        idempotency_key: feedback_told_key(t.id),
        channel: ch.code().into(),
        scenario: scenario.code().into(),
        customer_id: Some(customer.id),
        recipient_enc,
        recipient_masked: recipient_masked.unwrap_or_default(),
        subject,
        body,
        status: "queued".into(),
        last_error: None,
        not_before: cfg.quiet_hours.map_or(ctx.now, |q| q.release_at(ctx.now, ctx.tz)),
        created_by: Some(ctx.actor.id),
    };
    outreach::queue(c, std::slice::from_ref(&m), Some(ctx.actor.id), ctx.now)?;
    Ok(())
}

/// A message on a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A public reply to the customer: the first one meets the first
    /// response; each one restarts the progress-update clock.
    Reply,
    /// An internal note (collaborating departments answer with notes).
    Note,
}

impl MessageKind {
    pub fn parse(raw: &str) -> Result<Self, Issue> {
        match raw.trim() {
            "reply" => Ok(MessageKind::Reply),
            "note" => Ok(MessageKind::Note),
            _ => Err(Issue::NotAllowed),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            MessageKind::Reply => "reply",
            MessageKind::Note => "note",
        }
    }
}

/// A public reply or an internal note.
pub async fn reply(
    state: &AppState,
    actor: &User,
    id: i64,
    kind: MessageKind,
    body: &str,
    ip: Option<String>,
) -> AppResult<Ticket> {
    reply_with_files(state, actor, id, kind, body, Vec::new(), ip).await
}

/// A public reply or an internal note with files attached (the text may
/// then be empty). Every file is checked before any is written; the files
/// are written before the transaction that records them, and removed again
/// when it refuses.
pub async fn reply_with_files(
    state: &AppState,
    actor: &User,
    id: i64,
    kind: MessageKind,
    body: &str,
    files: Vec<attachments::Upload>,
    ip: Option<String>,
) -> AppResult<Ticket> {
    let body = if !files.is_empty() && body.trim().is_empty() {
        String::new()
    } else {
        ticket::parse_message(body).map_err(|i| AppError::field("body", i))?
    };
    if kind == MessageKind::Reply && !actor.role.can_create_tickets() {
        return Err(AppError::field("kind", Issue::NotAllowed));
    }
    let files = attachments::check_all(files, state.config.attachment_max_bytes())?;
    if !files.is_empty() {
        // Not one byte on disk for a ticket the user may not see.
        super::get(state, actor, id).await?;
    }
    let created = attachments::write_files(state, &files).await?;
    let result = reply_in(state, actor, id, kind, body, files, ip).await;
    if result.is_err() {
        attachments::forget(state, created).await;
    }
    result
}

async fn reply_in(
    state: &AppState,
    actor: &User,
    id: i64,
    kind: MessageKind,
    body: String,
    files: Vec<attachments::Accepted>,
    ip: Option<String>,
) -> AppResult<Ticket> {
    change(state, actor, id, ip, move |c, t, ctx| {
        if kind == MessageKind::Reply && t.status == Status::Closed {
            return Ok(Err(AppError::Refused {
                code: "ticket_archived",
                zh: "工单已归档，不能再回复客户；如需继续处理，请先重新打开".into(),
                en: "The ticket is archived; reopen it before replying to the customer".into(),
            }));
        }
        let now = ctx.now;
        let message_id = store::add_message(c, t.id, now, Some(ctx.actor.id), kind.code(), &body)?;
        // The green channel's plan (T5) is written down in the first
        // message, to the customer or as an internal note.
        if t.sla.get(ClockKind::Plan).is_some_and(|k| !k.is_stopped()) {
            let cal = ctx.setup.calendar(&t.schedule_code);
            let o = t.sla.stop(ClockKind::Plan, now, cal);
            clock_stopped(c, t, ctx, ClockKind::Plan, o)?;
        }
        if kind == MessageKind::Reply {
            let cal = ctx.setup.calendar(&t.schedule_code);
            if t.first_response_at.is_none() {
                t.first_response_at = Some(now);
                let o = t.sla.stop(ClockKind::FirstResponse, now, cal);
                clock_stopped(c, t, ctx, ClockKind::FirstResponse, o)?;
            }
            if t.status == Status::New {
                take_if_unassigned(c, t, ctx)?;
                t.status = Status::Accepted;
                let detail = json!({"from": "new", "to": "accepted", "action": "accept", "note": null});
                record(c, t, now, Some(ctx.actor.id), "status", &detail, title("status.accepted"), ctx.ip)?;
            }
            if t.status.is_workload() && t.status != Status::WaitingCustomer {
                let target = ctx.setup.policy.target(ClockKind::Progress, &sla_facts(t));
                t.sla.start(ClockKind::Progress, target, ctx.setup.policy.warn_percent, now, cal);
            }
        }
        let timeline = (kind == MessageKind::Reply).then(|| "ticket.reply".to_string());
        record(c, t, now, Some(ctx.actor.id), kind.code(), &json!({"message_id": message_id}), timeline, ctx.ip)?;
        if !files.is_empty() {
            let rows = attachments::insert_rows(c, t.id, message_id, &files, ctx.actor.id, now)?;
            let detail = json!({"message_id": message_id, "kind": kind.code(), "files": rows});
            record(c, t, now, Some(ctx.actor.id), "attachment", &detail, None, ctx.ip)?;
        }
        acknowledge(c, t, ctx)?;
        Ok(Ok(()))
    })
    .await
}

/// The customer's answer, recorded by an agent or sent by another system:
/// a ticket waiting for the customer resumes, and its clocks with it.
pub async fn customer_message(
    state: &AppState,
    actor: &User,
    id: i64,
    body: &str,
    ip: Option<String>,
) -> AppResult<Ticket> {
    let body = ticket::parse_message(body).map_err(|i| AppError::field("body", i))?;
    if !actor.role.can_create_tickets() {
        return Err(AppError::Forbidden);
    }
    change(state, actor, id, ip, move |c, t, ctx| {
        let message_id = store::add_message(c, t.id, ctx.now, None, "customer", &body)?;
        record(
            c,
            t,
            ctx.now,
            Some(ctx.actor.id),
            "customer_message",
            &json!({"message_id": message_id}),
            title("customer_message"),
            ctx.ip,
        )?;
        if t.status == Status::WaitingCustomer {
            let cal = ctx.setup.calendar(&t.schedule_code);
            t.sla.resume_all(ctx.now, cal);
            t.status = Status::InProgress;
            let detail = json!({"from": "waiting_customer", "to": "in_progress", "action": "resume", "note": null});
            record(c, t, ctx.now, Some(ctx.actor.id), "status", &detail, title("status.in_progress"), ctx.ip)?;
        }
        Ok(Ok(()))
    })
    .await
}

/// The revisit after resolution (T2: within 24 h): stops the revisit clock.
pub async fn revisit(state: &AppState, actor: &User, id: i64, note: &str, ip: Option<String>) -> AppResult<Ticket> {
    let note = ticket::parse_message(note).map_err(|i| AppError::field("note", i))?;
    if !actor.role.can_create_tickets() {
        return Err(AppError::Forbidden);
    }
    change(state, actor, id, ip, move |c, t, ctx| {
        let running = t.sla.get(ClockKind::Revisit).is_some_and(|k| !k.is_stopped());
        if !running {
            return Ok(Err(AppError::Refused {
                code: "no_revisit_due",
                zh: "这张工单没有待做的回访（回访在工单解决后进行；投诉由投诉修复回访代替）".into(),
                en: "This ticket has no revisit due (a revisit follows resolution; complaints get the repair revisit instead)".into(),
            }));
        }
        let cal = ctx.setup.calendar(&t.schedule_code);
        let message_id = store::add_message(c, t.id, ctx.now, Some(ctx.actor.id), "note", &note)?;
        let o = t.sla.stop(ClockKind::Revisit, ctx.now, cal);
        clock_stopped(c, t, ctx, ClockKind::Revisit, o)?;
        record(c, t, ctx.now, Some(ctx.actor.id), "revisited", &json!({"message_id": message_id}), title("revisited"), ctx.ip)?;
        Ok(Ok(()))
    })
    .await
}

/// Assigns a ticket (to a user, to nobody) and/or moves it to a group.
/// Supervisors and administrators assign anyone; others may only take a
/// ticket of their group for themselves.
pub async fn assign(
    state: &AppState,
    actor: &User,
    id: i64,
    assignee: Option<i64>,
    group: Option<i64>,
    ip: Option<String>,
) -> AppResult<Ticket> {
    if !actor.role.can_assign_tickets() && (assignee != Some(actor.id) || group.is_some()) {
        return Err(AppError::Forbidden);
    }
    let target = match assignee {
        Some(a) => {
            let u = state.db.read(move |c| Ok(store_users::get(c, a).ok())).await?;
            match u {
                Some(u) if u.active && u.role.can_create_tickets() => Some(u),
                _ => return Err(AppError::field("assignee_id", Issue::Unknown)),
            }
        }
        None => None,
    };
    if let Some(g) = group {
        let ok = state.db.read(move |c| store_routing::group_exists(c, g)).await?;
        if !ok {
            return Err(AppError::field("group_id", Issue::Unknown));
        }
    }
    change(state, actor, id, ip, move |c, t, ctx| {
        if t.status == Status::Closed {
            return Ok(Err(AppError::Refused {
                code: "ticket_archived",
                zh: "工单已归档，不能再分配".into(),
                en: "The ticket is archived and cannot be assigned".into(),
            }));
        }
        let new_assignee = target.as_ref().map(|u| u.id);
        let new_group = group.or(t.group_id).or_else(|| target.as_ref().and_then(|u| u.group_id));
        if new_assignee == t.assignee_id && new_group == t.group_id {
            return Ok(Ok(()));
        }
        if t.status.is_workload() {
            if let Some(old) = t.assignee_id.filter(|o| Some(*o) != new_assignee) {
                store_routing::add_load(c, old, -1, ctx.now)?;
            }
            if let Some(new) = new_assignee.filter(|n| Some(*n) != t.assignee_id) {
                store_routing::add_load(c, new, 1, ctx.now)?;
            }
        }
        let detail = json!({"from": t.assignee_id, "to": new_assignee, "to_name": target.as_ref().map(|u| u.name.clone()),
            "group_from": t.group_id, "group_to": new_group, "by": "manual"});
        t.assignee_id = new_assignee;
        t.group_id = new_group;
        let group_name = new_group.and_then(|g| ctx.setup.groups.get(&g)).map(|g| g.name.clone());
        let previous = t.routing.take();
        t.routing = Some(RoutingReason {
            group_by: if group.is_some() { GroupBy::Manual } else { previous.as_ref().map_or(GroupBy::Manual, |r| r.group_by.clone()) },
            group: group_name,
            skill: None,
            assignee_by: if new_assignee.is_some() { AssigneeBy::Manual } else { AssigneeBy::Unassigned },
            raised: previous.as_ref().and_then(|r| r.raised),
            tier: previous.as_ref().and_then(|r| r.tier),
            tier_schedule: previous.and_then(|r| r.tier_schedule),
        });
        record(c, t, ctx.now, Some(ctx.actor.id), "assigned", &detail, title("assigned"), ctx.ip)?;
        Ok(Ok(()))
    })
    .await
}

/// Escalates a ticket by hand along the path that applies to it (T4).
pub async fn escalate(state: &AppState, actor: &User, id: i64, reason: &str, ip: Option<String>) -> AppResult<Ticket> {
    let reason = ticket::parse_message(reason).map_err(|i| AppError::field("reason", i))?;
    if !actor.role.can_create_tickets() {
        return Err(AppError::Forbidden);
    }
    change(state, actor, id, ip, move |c, t, ctx| {
        if !t.status.is_workload() {
            return Ok(Err(AppError::Refused {
                code: "not_open",
                zh: format!("工单当前为「{}」，不需要升级", t.status.label(guanxi_domain::Lang::Zh)),
                en: format!(
                    "The ticket is {}; there is nothing to escalate",
                    t.status.label(guanxi_domain::Lang::En).to_lowercase()
                ),
            }));
        }
        if t.escalation.as_ref().is_some_and(|e| e.is_running()) {
            return Ok(Err(AppError::Refused {
                code: "already_escalated",
                zh: "工单已在升级中，请等待当前环节响应".into(),
                en: "The ticket is already escalated; wait for the current step to respond".into(),
            }));
        }
        let Some(path) = guanxi_domain::ticket::escalation::path_for(&ctx.setup.paths, t.ticket_type, t.category)
        else {
            return Ok(Err(AppError::Invalid(ValidationErrors::single("path", Issue::Unknown))));
        };
        let path = path.clone();
        clocks::start_escalation(
            c,
            t,
            &path,
            Cause::Manual { reason },
            ctx.now,
            ctx.setup,
            Some(ctx.actor.id),
            ctx.ip,
        )?;
        Ok(Ok(()))
    })
    .await
}

/// The availability and skills an agent sets for routing.
pub async fn set_availability(
    state: &AppState,
    actor: &User,
    available: bool,
    skills: Option<Vec<String>>,
) -> AppResult<store_routing::AgentProfile> {
    let skills = match skills {
        Some(list) => {
            let mut out = Vec::new();
            for s in list {
                let s = guanxi_domain::ticket::routing::parse_skill(&s).map_err(|i| AppError::field("skills", i))?;
                if !out.contains(&s) {
                    out.push(s);
                }
            }
            Some(out)
        }
        None => None,
    };
    let now = state.clock.now();
    let id = actor.id;
    Ok(state
        .db
        .write(move |c| {
            let current = store_routing::agent(c, id)?;
            store_routing::set_agent(c, id, available, skills.as_deref().unwrap_or(&current.skills), now)?;
            store_routing::agent(c, id)
        })
        .await?)
}
