//! Tickets and the service process (SPEC T1–T7): creating a ticket (the
//! customer's tier, the priority, routing to a group and an agent, the SLA
//! clocks on the right calendar, the repeat-inquiry flag), reading one and
//! the queues. Actions on a ticket are in [`actions`], the scheduled SLA
//! and escalation work in [`clocks`], the administrator's settings in
//! [`settings`]. Every change writes its history row, its audit entry and
//! its customer-timeline entry in the transaction that makes it.

pub mod actions;
pub mod attachments;
pub mod clocks;
pub mod settings;
pub mod setup;

use std::sync::Arc;

use guanxi_domain::segment::ValueTier;
use guanxi_domain::ticket::routing::{self, AssigneeBy, GroupBy, RoutingFacts, RoutingReason};
use guanxi_domain::ticket::sla::{ClockKind, SlaClocks, SlaFacts};
use guanxi_domain::ticket::{self, CustomerRef, Status, TicketDraft, TicketInput};
use guanxi_domain::{Issue, ValidationErrors};
use guanxi_store::customers::Scope;
use guanxi_store::tickets::{self as store, NewTicket, QueueOf, QueueQuery, Ticket};
use guanxi_store::timeline::{self, NewEntry, kind};
use guanxi_store::users::{self as store_users, User};
use guanxi_store::{Conn, audit, jobs, routing as store_routing, settings as store_settings};
use jiff::Timestamp;

use self::setup::TicketSetup;
use super::customer_scope;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The job that fires a ticket's SLA warnings and breaches.
pub const SLA_JOB: &str = "ticket.sla";
/// The job that moves a ticket's escalation to its next step.
pub const ESCALATION_JOB: &str = "ticket.escalation";

/// Whether a user may see a ticket: supervisors and administrators all;
/// others their own, their group's, and those escalated to them.
pub fn can_see(c: &mut Conn, user: &User, t: &Ticket) -> guanxi_store::Result<bool> {
    if user.role.sees_all_tickets()
        || t.assignee_id == Some(user.id)
        || (user.group_id.is_some() && t.group_id == user.group_id)
    {
        return Ok(true);
    }
    store::is_participant(c, t.id, user.id)
}

/// A ticket the user may see (404 otherwise: its existence is not told).
pub async fn get(state: &AppState, user: &User, id: i64) -> AppResult<Ticket> {
    let user = user.clone();
    state
        .db
        .read(move |c| {
            let t = store::get(c, id)?;
            if can_see(c, &user, &t)? { Ok(Some(t)) } else { Ok(None) }
        })
        .await?
        .ok_or(AppError::NotFound)
}

/// Everything the ticket page shows.
pub struct TicketDetail {
    pub ticket: Ticket,
    pub messages: Vec<store::TicketMessage>,
    pub events: Vec<store::TicketEvent>,
    pub attachments: Vec<store::TicketAttachment>,
    pub repeat_number: Option<String>,
    pub handovers: Vec<guanxi_store::escalation::Handover>,
}

pub async fn detail(state: &AppState, user: &User, id: i64) -> AppResult<TicketDetail> {
    let user = user.clone();
    state
        .db
        .read(move |c| {
            let t = store::get(c, id)?;
            if !can_see(c, &user, &t)? {
                return Ok(None);
            }
            let messages = store::messages(c, id, 500)?;
            let events = store::events(c, id, 500)?;
            let attachments = store::attachments(c, id, 500)?;
            let repeat_number = match t.repeat_of {
                Some(r) => store::number_of(c, r)?,
                None => None,
            };
            let handovers = guanxi_store::escalation::handovers_of(c, id)?;
            Ok(Some(TicketDetail { ticket: t, messages, events, attachments, repeat_number, handovers }))
        })
        .await?
        .ok_or(AppError::NotFound)
}

/// Records one change: its history row, its audit entry and (with a
/// title) its customer-timeline entry.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record(
    c: &mut Conn,
    t: &Ticket,
    now: Timestamp,
    actor: Option<i64>,
    kind_code: &str,
    detail: &serde_json::Value,
    timeline_title: Option<String>,
    ip: Option<&str>,
) -> guanxi_store::Result<()> {
    let detail = detail.to_string();
    store::add_event(c, t.id, now, actor, kind_code, &detail)?;
    audit::record(
        c,
        now,
        &audit::AuditEntry {
            actor_id: actor,
            action: kind_code,
            entity: "ticket",
            entity_id: Some(t.id),
            detail: format!("{} {detail}", t.number),
            ip,
        },
    )?;
    if let Some(title) = timeline_title {
        timeline::append(
            c,
            &NewEntry {
                customer_id: t.customer_id,
                at: now,
                kind: kind::TICKET,
                ref_id: Some(t.id),
                title,
                body: Some(format!("{} {}", t.number, t.subject)),
                actor_id: actor,
            },
        )?;
    }
    Ok(())
}

/// Arms, moves or disarms a ticket's SLA job after its clocks changed
/// (`before` is the job's instant before the change).
pub(crate) fn sync_sla_job(
    c: &mut Conn,
    t: &Ticket,
    before: Option<Timestamp>,
    now: Timestamp,
) -> guanxi_store::Result<()> {
    let next = t.sla.next_event();
    if next == before {
        return Ok(());
    }
    let key = t.id.to_string();
    match next {
        Some(at) => jobs::schedule(c, SLA_JOB, &key, at, "", now),
        None => jobs::cancel(c, SLA_JOB, &key, now),
    }
}

fn tier_of(raw: Option<&str>) -> Option<ValueTier> {
    raw.and_then(|t| ValueTier::parse(t).ok())
}

/// Decided before the write: the ticket's customer, group, schedule and clocks.
#[derive(Clone)]
struct Plan {
    draft: TicketDraft,
    manual: Option<(i64, String)>,
    customer_id: i64,
    customer_code: String,
    customer_name: String,
    owner_id: Option<i64>,
    tier: Option<ValueTier>,
    group_id: Option<i64>,
    skill: Option<String>,
    schedule: String,
    clocks: SlaClocks,
    reason: RoutingReason,
    repeat_of: Option<i64>,
}

/// The manual assignee, checked: (user, their group, their name).
type ManualAssignee = Option<(i64, Option<i64>, String)>;

fn plan(
    setup: &TicketSetup,
    draft: TicketDraft,
    facts: &store::CustomerFacts,
    actor: &User,
    manual: ManualAssignee,
    repeat_of: Option<i64>,
) -> Plan {
    let tier = tier_of(facts.tier.as_deref());
    let asked = draft.priority;
    let priority = setup.policy.effective_priority(asked, tier);
    let rfacts = RoutingFacts {
        ticket_type: draft.ticket_type,
        category: draft.category,
        channel: draft.channel,
        priority,
        tier,
        tags: &facts.tags,
        subject: &draft.subject,
        description: &draft.description,
    };
    let (group_id, group_by, skill) = match (draft.group_id, &manual) {
        (Some(g), _) => (Some(g), GroupBy::Manual, None),
        (None, Some((_, Some(g), _))) => (Some(*g), GroupBy::Manual, None),
        (None, _) => match routing::first_match(&setup.rules, &rfacts) {
            Some(r) => (Some(r.group_id), GroupBy::Rule { rule: r.name.clone() }, r.skill.clone()),
            None => match (setup.default_group, actor.group_id) {
                (Some(g), _) => (Some(g), GroupBy::Default, None),
                (None, Some(g)) => (Some(g), GroupBy::CreatorGroup, None),
                (None, None) => (None, GroupBy::None, None),
            },
        },
    };
    let high_value = tier == Some(ValueTier::High);
    let schedule = if high_value { setup.policy.high_value_schedule.clone() } else { setup.group_schedule(group_id) };
    let cal = setup.calendar(&schedule);
    let sf = SlaFacts { channel: draft.channel, ticket_type: draft.ticket_type, priority, tier };
    let mut clocks = SlaClocks::default();
    for k in [ClockKind::FirstResponse, ClockKind::Resolution] {
        clocks.start(k, setup.policy.target(k, &sf), setup.policy.warn_percent, draft.received_at, cal);
    }
    if guanxi_domain::ticket::sla::is_green_channel(priority) {
        let k = ClockKind::Plan;
        clocks.start(k, setup.policy.target(k, &sf), setup.policy.warn_percent, draft.received_at, cal);
    }
    let reason = RoutingReason {
        group_by,
        group: group_id.and_then(|g| setup.groups.get(&g)).map(|g| g.name.clone()),
        skill: skill.clone(),
        assignee_by: AssigneeBy::Unassigned,
        raised: (priority != asked).then_some((asked, priority)),
        tier_schedule: high_value.then(|| setup.schedule_name(&schedule).to_string()),
        tier,
    };
    let mut draft = draft;
    draft.priority = priority;
    Plan {
        draft,
        manual: manual.map(|(a, _, name)| (a, name)),
        customer_id: facts.id,
        customer_code: facts.code.clone(),
        customer_name: facts.name.clone(),
        owner_id: facts.owner_id,
        tier,
        group_id,
        skill,
        schedule,
        clocks,
        reason,
        repeat_of,
    }
}

fn in_scope(scope: &Scope, owner: Option<i64>) -> bool {
    match scope {
        Scope::All => true,
        Scope::OwnedBy(ids) => owner.is_some_and(|o| ids.contains(&o)),
    }
}

/// Creates a ticket: from a page, the API, or another system.
pub async fn create(state: &AppState, actor: &User, input: TicketInput, ip: Option<String>) -> AppResult<Ticket> {
    Ok(create_with(state, actor, input, ip, |_, _, _| Ok(())).await?.0)
}

/// Creates a ticket with files attached (SPEC T1): every file is checked
/// before anything is written (field `file`); the files are written before
/// the transaction that records the ticket, as an attachment-only note of
/// the creator, and removed again when it refuses.
pub async fn create_with_files(
    state: &AppState,
    actor: &User,
    input: TicketInput,
    files: Vec<attachments::Upload>,
    ip: Option<String>,
) -> AppResult<Ticket> {
    if files.is_empty() {
        return create(state, actor, input, ip).await;
    }
    if !actor.role.can_create_tickets() {
        return Err(AppError::Forbidden);
    }
    // The ticket's own fields are checked before any byte is written.
    TicketDraft::parse(&input, state.clock.now(), &state.config.time_zone)?;
    let files = attachments::check_all(files, state.config.attachment_max_bytes())?;
    let created = attachments::write_files(state, &files).await?;
    let (actor_id, now, ip2) = (actor.id, state.clock.now(), ip.clone());
    let result = create_with(state, actor, input, ip, move |c, t, _| {
        let message_id = store::add_message(c, t.id, now, Some(actor_id), "note", "")?;
        let rows = attachments::insert_rows(c, t.id, message_id, &files, actor_id, now)?;
        let detail = serde_json::json!({"message_id": message_id, "kind": "note", "files": rows});
        record(c, t, now, Some(actor_id), "attachment", &detail, None, ip2.as_deref())
    })
    .await;
    if result.is_err() {
        attachments::forget(state, created).await;
    }
    Ok(result?.0)
}

/// Creates a ticket and runs `then` on it in the same transaction (a
/// complaint adds its own row there); `then` saves what it changes. The
/// write may run more than once ([`guanxi_store::Db::write_repeatable`]):
/// `then` must change nothing outside the transaction.
pub(crate) async fn create_with<R, F>(
    state: &AppState,
    actor: &User,
    input: TicketInput,
    ip: Option<String>,
    then: F,
) -> AppResult<(Ticket, R)>
where
    R: Send + 'static,
    F: Fn(&mut Conn, &mut Ticket, &TicketSetup) -> guanxi_store::Result<R> + Send + 'static,
{
    if !actor.role.can_create_tickets() {
        return Err(AppError::Forbidden);
    }
    let now = state.clock.now();
    let draft = TicketDraft::parse(&input, now, &state.config.time_zone)?;
    if let Some(a) = draft.assignee_id
        && a != actor.id
        && !actor.role.can_assign_tickets()
    {
        return Err(AppError::field("assignee_id", Issue::NotAllowed));
    }
    let setup = setup::get(state).await?;

    // What decides the ticket is read on a read connection, and the reader
    // queues the write; the write keeps only what must be consistent (the
    // agents' loads, the number) and answers with the ticket as written.
    let (id, code) = match &draft.customer {
        CustomerRef::Id(i) => (Some(*i), None),
        CustomerRef::Code(c) => (None, Some(c.clone())),
    };
    let customer_field = if id.is_some() { "customer_id" } else { "customer_code" };
    let actor = actor.clone();
    let date = guanxi_domain::clock::local_date(now, &state.config.time_zone);
    let written = state
        .db
        .read_then_write(move |c| {
            let manual = check_manual(c, draft.group_id, draft.assignee_id)?;
            let Some(facts) = store::customer_facts(c, id, code.as_deref())? else { return Ok(Err(())) };
            let scope = customer_scope(c, &actor)?;
            if !in_scope(&scope, facts.owner_id) {
                return Ok(Err(()));
            }
            let since = ticket::repeat_window_start(draft.received_at, ticket::REPEAT_WINDOW_DAYS);
            let repeat_of = store::find_repeat(c, facts.id, draft.category, since)?;
            let plan = plan(&setup, draft, &facts, &actor, manual, repeat_of);
            Ok(Ok(move |c: &mut Conn| {
                let mut t = insert_planned(c, &setup, plan.clone(), &actor, date, now, ip.as_deref())?;
                let r = then(c, &mut t, &setup)?;
                Ok((t, r))
            }))
        })
        .await?;
    written.map_err(|()| AppError::field(customer_field, Issue::Unknown))
}

/// The group and assignee chosen by hand must exist (an assignee must be
/// active and take tickets); the assignee's group comes with them.
fn check_manual(c: &mut Conn, group: Option<i64>, assignee: Option<i64>) -> guanxi_store::Result<ManualAssignee> {
    if let Some(g) = group
        && !store_routing::group_exists(c, g)?
    {
        return Err(ValidationErrors::single("group_id", Issue::Unknown).into());
    }
    let Some(a) = assignee else { return Ok(None) };
    match store_users::get(c, a) {
        Ok(u) if u.active && u.role.can_create_tickets() => Ok(Some((a, u.group_id, u.name))),
        Ok(_) | Err(guanxi_store::StoreError::NotFound) => {
            Err(ValidationErrors::single("assignee_id", Issue::Unknown).into())
        }
        Err(e) => Err(e),
    }
}

fn insert_planned(
    c: &mut Conn,
    setup: &Arc<TicketSetup>,
    mut plan: Plan,
    actor: &User,
    date: jiff::civil::Date,
    now: Timestamp,
    ip: Option<&str>,
) -> guanxi_store::Result<Ticket> {
    let (assignee, assignee_name) = match (plan.manual.take(), plan.group_id) {
        (Some((a, name)), _) => {
            plan.reason.assignee_by = AssigneeBy::Manual;
            (Some(a), Some(name))
        }
        (None, Some(g)) => {
            let found = store_routing::candidates(c, g)?;
            let mode = setup.groups.get(&g).map_or(routing::AssignMode::LeastLoaded, |s| s.mode);
            let advisor = plan.owner_id.filter(|_| plan.tier == Some(ValueTier::High));
            let (who, why) = routing::choose(&found.candidates, mode, plan.skill.as_deref(), advisor);
            plan.reason.assignee_by = why;
            (who, who.and_then(|w| found.name_of(w)).map(str::to_string))
        }
        (None, None) => (None, None),
    };
    let seq = store_settings::next(c, &format!("ticket:{}", date.strftime("%Y%m%d")))?;
    let number = ticket::ticket_number(date, seq);
    let d = &plan.draft;
    let new = NewTicket {
        number: &number,
        ticket_type: d.ticket_type,
        channel: d.channel,
        category: d.category,
        priority: d.priority,
        status: Status::New,
        customer_id: plan.customer_id,
        subject: &d.subject,
        description: &d.description,
        group_id: plan.group_id,
        assignee_id: assignee,
        schedule_code: &plan.schedule,
        routing: &plan.reason,
        repeat_of: plan.repeat_of,
        sla: &plan.clocks,
        external_id: d.external_id.as_deref(),
        created_by: Some(actor.id),
        received_at: d.received_at,
        now,
    };
    let id = store::insert(c, &new)?;
    if let Some(a) = assignee {
        store_routing::add_load(c, a, 1, now)?;
    }
    // The row as the helpers need it, without reading it back.
    let t = Ticket {
        id,
        number: number.clone(),
        ticket_type: d.ticket_type,
        channel: d.channel,
        category: d.category,
        priority: d.priority,
        status: Status::New,
        customer_id: plan.customer_id,
        customer_code: plan.customer_code.clone(),
        customer_name: plan.customer_name.clone(),
        subject: d.subject.clone(),
        description: d.description.clone(),
        group_id: plan.group_id,
        group_name: plan.group_id.and_then(|g| setup.groups.get(&g)).map(|g| g.name.clone()),
        assignee_id: assignee,
        assignee_name,
        schedule_code: plan.schedule.clone(),
        routing: Some(plan.reason.clone()),
        repeat_of: plan.repeat_of,
        sla: plan.clocks.clone(),
        sla_due_at: plan.clocks.earliest_due(),
        sla_breached: false,
        escalation: None,
        escalation_level: 0,
        external_id: d.external_id.clone(),
        created_by: Some(actor.id),
        received_at: d.received_at,
        created_at: now,
        updated_at: now,
        first_response_at: None,
        resolved_at: None,
        closed_at: None,
    };
    let detail = serde_json::json!({
        "type": d.ticket_type.code(), "channel": d.channel.code(), "category": d.category.code(),
        "priority": d.priority.code(), "group_id": plan.group_id, "assignee_id": assignee,
        "schedule": plan.schedule, "repeat_of": plan.repeat_of, "routing": plan.reason,
    });
    record(c, &t, now, Some(actor.id), "created", &detail, Some("ticket.created".into()), ip)?;
    if plan.repeat_of.is_some() {
        record(c, &t, now, None, "repeat_inquiry", &serde_json::json!({"repeat_of": plan.repeat_of}), None, None)?;
    }
    if t.ticket_type == guanxi_domain::ticket::TicketType::Need {
        // The need record starts with the ticket, routed to the category's department.
        let dep = guanxi_store::needs::department_for(c, t.category)?;
        let n = guanxi_store::needs::submit(c, id, dep, now)?;
        if let Some(dep) = dep {
            let detail = serde_json::json!({"department_id": dep, "department_name": n.department_name});
            store::add_event(c, id, now, None, "need_routed", &detail.to_string())?;
        }
    }
    sync_sla_job(c, &t, None, now)?;
    Ok(t)
}

/// Which queue a user asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueKind {
    /// 我的工单.
    Mine,
    /// The team queue of a group (the user's own unless they see all).
    Team(Option<i64>),
    /// A group's tickets nobody has.
    Unassigned(Option<i64>),
    /// Escalated to the user.
    Escalated,
    /// Every active ticket (supervisors, administrators).
    All,
}

impl QueueKind {
    pub fn parse(raw: Option<&str>, group: Option<i64>) -> Result<Self, Issue> {
        match raw.map(str::trim).unwrap_or("mine") {
            "" | "mine" => Ok(QueueKind::Mine),
            "team" => Ok(QueueKind::Team(group)),
            "unassigned" => Ok(QueueKind::Unassigned(group)),
            "escalated" => Ok(QueueKind::Escalated),
            "all" => Ok(QueueKind::All),
            _ => Err(Issue::NotAllowed),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            QueueKind::Mine => "mine",
            QueueKind::Team(_) => "team",
            QueueKind::Unassigned(_) => "unassigned",
            QueueKind::Escalated => "escalated",
            QueueKind::All => "all",
        }
    }
}

/// The store's queue for what a user asked; a group other than their own
/// is for those who see every ticket.
pub fn queue_of(user: &User, kind: QueueKind) -> AppResult<QueueOf> {
    let group = |asked: Option<i64>| -> AppResult<i64> {
        match (asked, user.group_id) {
            (Some(g), own) if Some(g) == own || user.role.sees_all_tickets() => Ok(g),
            (Some(_), _) => Err(AppError::Forbidden),
            (None, Some(own)) => Ok(own),
            (None, None) => Err(AppError::field("group_id", Issue::Required)),
        }
    };
    Ok(match kind {
        QueueKind::Mine => QueueOf::Assignee(user.id),
        QueueKind::Team(g) => QueueOf::Group(group(g)?),
        QueueKind::Unassigned(g) => QueueOf::Unassigned(group(g)?),
        QueueKind::Escalated => QueueOf::Participant(user.id),
        QueueKind::All if user.role.sees_all_tickets() => QueueOf::All,
        QueueKind::All => return Err(AppError::Forbidden),
    })
}

/// What a user asks of a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueRequest {
    pub kind: QueueKind,
    pub status: Option<Status>,
    /// Only repeat inquiries (T6).
    pub repeat: bool,
    /// The cursor of the previous page's last row.
    pub after: Option<(i64, i64)>,
    pub limit: i64,
}

/// A page of a queue, the nearest deadline first.
pub async fn queue(state: &AppState, user: &User, r: QueueRequest) -> AppResult<Vec<Ticket>> {
    let of = queue_of(user, r.kind)?;
    let q = QueueQuery { of, status: r.status, repeat: r.repeat, after: r.after, limit: r.limit };
    Ok(state.db.read(move |c| store::queue(c, &q)).await?)
}

/// The cursor after a row: `deadline_id`.
pub fn cursor_of(t: &Ticket) -> String {
    format!("{}_{}", store::due_value(t.sla_due_at), t.id)
}

pub fn parse_cursor(raw: &str) -> Result<(i64, i64), Issue> {
    let (a, b) = raw.split_once('_').ok_or(Issue::NotAllowed)?;
    Ok((a.parse().map_err(|_| Issue::NotAllowed)?, b.parse().map_err(|_| Issue::NotAllowed)?))
}

/// A page of a customer's tickets (the 360 page), newest first; the
/// caller has checked that the user may see the customer.
pub async fn of_customer(
    state: &AppState,
    customer_id: i64,
    before: Option<(i64, i64)>,
    limit: i64,
) -> AppResult<Vec<Ticket>> {
    Ok(state.db.read(move |c| store::of_customer(c, customer_id, before, limit)).await?)
}
