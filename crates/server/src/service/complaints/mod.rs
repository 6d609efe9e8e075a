//! Complaint handling (SPEC P1–P7). A complaint is a ticket of type
//! complaint (created through the ticket capability, in the same
//! transaction) with its own row: the CP number, the demand type, the
//! urgency and why, the batch it belongs to, and the workflow in
//! [`workflow`]. Every step writes its ticket history row, audit entry and
//! customer-timeline entry (`complaint.*` titles) through
//! [`crate::service::tickets::record`]; every deadline is armed as a job of
//! the scheduler ([`DEADLINE_JOB`]). The tracking table and its export are
//! in [`table`], the monthly review in [`review`].

pub mod review;
pub mod settings;
pub mod table;
pub mod workflow;

use std::collections::BTreeSet;

use guanxi_domain::complaint::grading::{self, Grading};
use guanxi_domain::complaint::{
    self as domain, ComplaintNumber, DeadlineKind, Deadlines, DemandType, REGISTRATION_WITHIN, SOLUTION_WITHIN, Urgency,
};
use guanxi_domain::ticket::sla::ClockKind;
use guanxi_domain::ticket::{Priority, TicketDraft, TicketInput};
use guanxi_domain::{Issue, Lang, ValidationErrors};
use guanxi_store::complaints::{self as store, Complaint, NewComplaint};
use guanxi_store::tickets::{self as store_tickets, Ticket};
use guanxi_store::users::User;
use guanxi_store::{Conn, jobs, settings as store_settings};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::json;

use super::tickets::{can_see, record, sync_sla_job};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The job that reports a complaint's missed deadlines (and escalates a
/// missed investigation).
pub const DEADLINE_JOB: &str = "complaint.deadline";

/// Raw input to register a complaint (API body or form).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ComplaintInput {
    /// The customer, by id or by code (`KH000123`).
    pub customer_id: Option<i64>,
    pub customer_code: Option<String>,
    /// `phone`, `wechat`, `wecom`, `email`, `sms`, `online_chat` or `visit`.
    pub channel: String,
    /// `product`, `service`, `communication`, `logistics` or `other`.
    pub category: String,
    /// 诉求类型: `refund`, `exchange`, `repair`, `apology`, `compensation` or `other`.
    pub demand_type: String,
    /// At most 200 characters.
    pub subject: String,
    /// The customer's words, at most 5,000 characters; graded for emotion.
    pub description: String,
    /// When the complaint was received, RFC 3339 (default now); registration is due 1 working hour later.
    pub received_at: Option<String>,
}

/// The ticket priority that carries a complaint's urgency.
pub fn priority_of(u: Urgency) -> Priority {
    match u {
        Urgency::Urgent => Priority::Urgent,
        Urgency::General => Priority::High,
        Urgency::Routine => Priority::Normal,
    }
}

/// Whether a user may see a complaint (the rules of its ticket).
pub(crate) fn can_see_complaint(c: &mut Conn, user: &User, p: &Complaint) -> guanxi_store::Result<bool> {
    if user.role.sees_all_tickets() || p.handler_id == Some(user.id) {
        return Ok(true);
    }
    if user.group_id.is_some() && p.department_id == user.group_id {
        return Ok(true);
    }
    let t = store_tickets::get(c, p.ticket_id)?;
    can_see(c, user, &t)
}

/// Records one step of a complaint on its ticket: history, audit, timeline.
#[allow(clippy::too_many_arguments)]
pub(crate) fn step(
    c: &mut Conn,
    t: &Ticket,
    p: &Complaint,
    now: Timestamp,
    actor: Option<i64>,
    kind: &str,
    mut detail: serde_json::Value,
    ip: Option<&str>,
) -> guanxi_store::Result<()> {
    if let Some(o) = detail.as_object_mut() {
        o.insert("complaint".into(), json!(p.number));
    }
    record(c, t, now, actor, &format!("complaint_{kind}"), &detail, Some(format!("complaint.{kind}")), ip)
}

/// Arms the deadline job at the nearest open deadline (or disarms it).
pub(crate) fn sync_deadline_job(c: &mut Conn, p: &Complaint, now: Timestamp) -> guanxi_store::Result<()> {
    let key = p.id.to_string();
    match p.deadlines.next_due() {
        Some(at) => jobs::schedule(c, DEADLINE_JOB, &key, at, "", now),
        None => jobs::cancel(c, DEADLINE_JOB, &key, now),
    }
}

/// Registers a complaint (P1): its ticket, number, grading (P2), batch and deadlines.
pub async fn register(
    state: &AppState,
    actor: &User,
    input: ComplaintInput,
    ip: Option<String>,
) -> AppResult<Complaint> {
    let now = state.clock.now();
    let tz = state.config.time_zone.clone();
    let text = format!("{}\n{}", input.subject, input.description);
    let pre = grading::grade_with(&text, 0, &settings::load(state).await?);
    let ticket_input = TicketInput {
        ticket_type: "complaint".into(),
        channel: input.channel.clone(),
        category: input.category.clone(),
        priority: Some(priority_of(pre.urgency).code().into()),
        customer_id: input.customer_id,
        customer_code: input.customer_code.clone(),
        subject: input.subject.clone(),
        description: input.description.clone(),
        received_at: input.received_at.clone(),
        ..TicketInput::default()
    };
    // Every field's error at once: the ticket's and the complaint's own.
    let mut errors = match TicketDraft::parse(&ticket_input, now, &tz) {
        Ok(_) => ValidationErrors::new(),
        Err(e) => e,
    };
    let demand = if input.demand_type.trim().is_empty() {
        errors.add("demand_type", Issue::Required);
        None
    } else {
        errors.check("demand_type", DemandType::parse(&input.demand_type))
    };
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let demand = demand.ok_or_else(|| AppError::field("demand_type", Issue::Required))?;
    let signature = grading::signature(&text);
    let date = guanxi_domain::clock::local_date(now, &tz);
    let actor_id = actor.id;
    let ip2 = ip.clone();
    let (_, id) = super::tickets::create_with(state, actor, ticket_input, ip, move |c, t, setup| {
        // The thresholds in force; batch: similar complaints of other
        // customers within the window.
        let rules = settings::rules_in(c)?;
        let since = now.checked_sub(SignedDuration::from_hours(rules.batch_window_hours)).unwrap_or(now);
        let similar: Vec<store::Candidate> = store::candidates(c, t.category, since)?
            .into_iter()
            .filter(|x| grading::similar_to_stored(&signature, &x.signature))
            .collect();
        let customers: BTreeSet<i64> = similar.iter().map(|x| x.customer_id).chain([t.customer_id]).collect();
        let batch = customers.len() >= usize::try_from(rules.batch_customers).unwrap_or(usize::MAX);
        let batch_size = if batch { u32::try_from(customers.len()).unwrap_or(0) } else { 0 };
        let graded: Grading = grading::grade_with(&text, batch_size, &rules);
        let urgency = graded.urgency;
        let seq = store_settings::next(c, &domain::counter_name(date))?;
        let number = ComplaintNumber::new(date, seq);
        let cal = setup.calendar(&t.schedule_code);
        let mut deadlines = Deadlines::default();
        deadlines.start(DeadlineKind::Registration, t.received_at, REGISTRATION_WITHIN, cal);
        deadlines.meet(DeadlineKind::Registration, now);
        deadlines.start(DeadlineKind::Solution, t.received_at, SOLUTION_WITHIN, cal);
        // Two clocks on one matter: the sooner of the ticket's first
        // response and the urgency's response target wins (T2).
        let before = t.sla.next_event();
        let respond = urgency.respond_within();
        let current = t.sla.get(ClockKind::FirstResponse).map(|k| k.target_ms);
        if current.is_none_or(|ms| respond.as_millis() < i128::from(ms)) {
            t.sla.start(ClockKind::FirstResponse, respond, setup.policy.warn_percent, t.received_at, cal);
        }
        let priority = priority_of(urgency);
        if priority != t.priority {
            t.priority = priority;
        }
        t.sla_due_at = t.sla.earliest_due();
        store_tickets::save(c, t)?;
        sync_sla_job(c, t, before, now)?;
        let sig = signature.join(" ");
        let id = store::insert(
            c,
            &NewComplaint {
                ticket_id: t.id,
                number: number.as_str(),
                customer_id: t.customer_id,
                category: t.category,
                demand_type: demand,
                urgency,
                grading: &graded,
                signature: &sig,
                batch_id: None,
                handler_id: t.assignee_id,
                deadlines: &deadlines,
                received_at: t.received_at,
                now,
            },
        )?;
        let p = store::get(c, id)?;
        let detail = json!({"number": number.as_str(), "demand_type": demand.code(), "urgency": urgency.code(),
            "reasons": graded.reasons(Lang::Zh), "registration_late": deadlines.any_late()});
        step(c, t, &p, now, Some(actor_id), "registered", detail, ip2.as_deref())?;
        if batch {
            let batch_id = similar
                .iter()
                .filter_map(|x| x.batch_id)
                .min()
                .unwrap_or_else(|| similar.iter().map(|x| x.id).min().unwrap_or(id));
            // The earlier members joining the batch now.
            let joining: Vec<i64> = similar.iter().filter(|x| x.batch_id != Some(batch_id)).map(|x| x.id).collect();
            let ids: Vec<i64> = joining.iter().copied().chain([id]).collect();
            store::set_batch(c, &ids, batch_id, now)?;
            let detail = json!({"batch_id": batch_id, "customers": customers.len(), "linked": ids.len()});
            step(c, t, &p, now, None, "batch", detail, None)?;
            // They are raised as well. Those already in the batch were
            // raised when they joined, and their grading keeps the batch's
            // size of that moment (each complaint lists the batch's
            // members): raising them all again made every registration of
            // a mass incident read and rewrite hundreds of complaints.
            for x in joining {
                raise_for_batch(c, setup, x, batch_size, &rules, batch_id, now)?;
            }
        }
        sync_deadline_job(c, &p, now)?;
        Ok(id)
    })
    .await?;
    Ok(state.db.read(move |c| store::get(c, id)).await?)
}

/// An earlier complaint that a new one made part of a batch: its grading
/// counts the batch and its urgency is raised one step (once), unless an
/// agent set it by hand or it is archived; its ticket's priority and
/// first-response clock follow (the sooner target wins, as at registration).
fn raise_for_batch(
    c: &mut Conn,
    setup: &super::tickets::setup::TicketSetup,
    id: i64,
    customers: u32,
    rules: &grading::Rules,
    batch_id: i64,
    now: Timestamp,
) -> guanxi_store::Result<()> {
    let mut p = store::get_for_update(c, id)?;
    if !p.state.is_open() || p.urgency_override.is_some() {
        return Ok(());
    }
    let graded = p.grading.in_batch(customers, rules);
    if graded == p.grading {
        return Ok(());
    }
    let from = p.urgency;
    p.urgency = graded.urgency;
    p.grading = graded;
    p.updated_at = now;
    store::save(c, &p)?;
    if p.urgency == from {
        return Ok(());
    }
    let mut t = store_tickets::get_for_update(c, p.ticket_id)?;
    let cal = setup.calendar(&t.schedule_code);
    let before = t.sla.next_event();
    let respond = p.urgency.respond_within();
    let running = t.sla.get(ClockKind::FirstResponse).filter(|k| !k.is_stopped()).map(|k| k.target_ms);
    if running.is_some_and(|ms| respond.as_millis() < i128::from(ms)) {
        t.sla.start(ClockKind::FirstResponse, respond, setup.policy.warn_percent, t.received_at, cal);
    }
    // Priority::ALL runs from the most urgent: only ever raised here.
    let rank = |x: Priority| Priority::ALL.iter().position(|y| *y == x);
    let priority = priority_of(p.urgency);
    if rank(priority) < rank(t.priority) {
        t.priority = priority;
    }
    t.sla_due_at = t.sla.earliest_due();
    t.updated_at = now;
    store_tickets::save(c, &t)?;
    sync_sla_job(c, &t, before, now)?;
    let detail = json!({"from": from.code(), "to": p.urgency.code(), "urgency": p.urgency.code(), "batch_id": batch_id, "customers": customers});
    step(c, &t, &p, now, None, "batch_raised", detail, None)
}

/// A complaint the user may see (404 otherwise).
pub async fn get(state: &AppState, user: &User, id: i64) -> AppResult<Complaint> {
    let user = user.clone();
    state
        .db
        .read(move |c| {
            let p = match store::get(c, id) {
                Err(guanxi_store::StoreError::NotFound) => return Ok(None),
                other => other?,
            };
            if can_see_complaint(c, &user, &p)? { Ok(Some(p)) } else { Ok(None) }
        })
        .await?
        .ok_or(AppError::NotFound)
}

/// Everything the complaint page shows.
pub struct ComplaintDetail {
    pub complaint: Complaint,
    pub ticket: Ticket,
    pub events: Vec<store_tickets::TicketEvent>,
    pub notifications: Vec<store::Notification>,
    /// The batch's complaints: (id, number, customer name).
    pub batch: Vec<(i64, String, String)>,
    /// The ticket's files (the investigation's evidence is uploaded there).
    pub attachments: Vec<store_tickets::TicketAttachment>,
}

pub async fn detail(state: &AppState, user: &User, id: i64) -> AppResult<ComplaintDetail> {
    let user = user.clone();
    state
        .db
        .read(move |c| {
            let p = match store::get(c, id) {
                Err(guanxi_store::StoreError::NotFound) => return Ok(None),
                other => other?,
            };
            if !can_see_complaint(c, &user, &p)? {
                return Ok(None);
            }
            let ticket = store_tickets::get(c, p.ticket_id)?;
            let events = store_tickets::events(c, p.ticket_id, 500)?;
            let notifications = store::notifications(c, p.id, 100)?;
            let batch = match p.batch_id {
                Some(b) => store::batch_members(c, b, 200)?,
                None => Vec::new(),
            };
            let attachments = store_tickets::attachments(c, p.ticket_id, 100)?;
            Ok(Some(ComplaintDetail { complaint: p, ticket, events, notifications, batch, attachments }))
        })
        .await?
        .ok_or(AppError::NotFound)
}

/// The label of a `complaint.*` timeline title.
pub fn event_label(code: &str, lang: Lang) -> String {
    let (zh, en) = match code {
        "registered" => ("登记投诉", "Complaint registered"),
        "batch" => ("关联为批量客诉", "Linked as a batch complaint"),
        "urgency" => ("调整紧急程度", "Urgency changed"),
        "deadline_missed" => ("投诉时限超时", "Complaint deadline missed"),
        "escalated" => ("核查超时，已升级", "Investigation overdue, escalated"),
        "notified" => ("已通知客户", "Customer notified"),
        "waiting" => ("等待客户，时限暂停", "Waiting for the customer, deadlines paused"),
        "resumed" => ("客户已回复，时限恢复", "The customer answered, deadlines running again"),
        "batch_raised" => ("批量客诉，紧急程度提升", "Batch complaint, urgency raised"),
        other => match guanxi_domain::complaint::workflow::Action::parse(other) {
            Ok(a) => return format!("{}{}", lang.pick("投诉 · ", "Complaint · "), a.label(lang)),
            Err(_) => return other.to_string(),
        },
    };
    lang.pick(zh, en).to_string()
}
