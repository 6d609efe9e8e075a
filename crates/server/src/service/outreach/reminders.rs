//! Revisit appointments and their reminders (SPEC O3: "客服专员将于明日10:00
//! 回访您"). Scheduling a revisit on a maintenance task queues its
//! reminder in the outbox in the same transaction, to go
//! `reminder_hours_before` the appointment (24 h by default) — or now if
//! that has passed — and after quiet hours, on the customer's channel
//! (consent honoured). A reminder that could only go after the appointment
//! is not sent (kept as `suppressed` with the reason). Moving the
//! appointment withdraws the queued reminder and queues one for the new
//! time; cancelling it, or recording the task done, withdraws it.

use std::collections::BTreeMap;

use guanxi_domain::communication::parse_datetime;
use guanxi_domain::outreach::Scenario;
use guanxi_domain::{Issue, ValidationErrors};
use guanxi_store::customers::{self as store_customers, Scope};
use guanxi_store::jobs;
use guanxi_store::outreach::{self as store, Appointment, NewMessage};
use guanxi_store::users::User;
use guanxi_store::{Conn, audit, users as store_users};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{OUTBOX_JOB, consent, settings, templates};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// A revisit appointment as a user sets it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentInput {
    /// Local time in the business time zone (`2026-11-25 10:00`) or RFC 3339.
    pub at: String,
    /// The agent who calls; absent: the task's owner, else the caller.
    pub agent_id: Option<i64>,
}

/// An appointment with its reminder.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppointmentView {
    pub id: i64,
    pub task_id: i64,
    pub customer_id: i64,
    pub at: String,
    pub agent_id: Option<i64>,
    /// `scheduled`, `cancelled` or `done`.
    pub status: String,
    pub version: i64,
    /// The outbox row of the reminder; absent when none could be queued.
    pub reminder_id: Option<i64>,
    pub reminder_channel: Option<String>,
    pub reminder_status: Option<String>,
    /// When the reminder goes (after quiet hours).
    pub reminder_at: Option<String>,
    pub reminder_body: Option<String>,
    /// Why the reminder is not going (suppressed).
    pub reminder_note: Option<String>,
}

fn view_in(c: &mut Conn, a: Appointment) -> guanxi_store::Result<AppointmentView> {
    let m = a.reminder_id.map(|id| store::get_message(c, id)).transpose()?;
    Ok(AppointmentView {
        id: a.id,
        task_id: a.task_id,
        customer_id: a.customer_id,
        at: a.at.to_string(),
        agent_id: a.agent_id,
        status: a.status,
        version: a.version,
        reminder_id: a.reminder_id,
        reminder_channel: m.as_ref().map(|m| m.channel.clone()),
        reminder_status: m.as_ref().map(|m| m.status.clone()),
        reminder_at: m.as_ref().map(|m| m.not_before.to_string()),
        reminder_body: m.as_ref().map(|m| m.body.clone()),
        reminder_note: m.as_ref().and_then(|m| (m.status == "suppressed").then(|| m.last_error.clone()).flatten()),
    })
}

/// The appointment time as the message says it, seen from when it is
/// sent: 今日10:00, 明日10:00, or 11月27日10:00.
pub fn spoken_time(at: Timestamp, sent: Timestamp, tz: &TimeZone) -> String {
    let (a, s) = (at.to_zoned(tz.clone()), sent.to_zoned(tz.clone()));
    let hm = a.strftime("%H:%M");
    let days = (a.date() - s.date()).get_days();
    match days {
        0 => format!("今日{hm}"),
        1 => format!("明日{hm}"),
        2 => format!("后天{hm}"),
        _ => format!("{}月{}日{hm}", a.month(), a.day()),
    }
}

/// When a reminder of an appointment at `at` goes: `hours` before it, not
/// before now, and out of quiet hours; `None` when that is not before the
/// appointment.
pub fn reminder_time(
    at: Timestamp,
    now: Timestamp,
    hours: i64,
    quiet: Option<guanxi_domain::outreach::QuietHours>,
    tz: &TimeZone,
) -> Option<Timestamp> {
    let want = at.checked_sub(SignedDuration::from_hours(hours)).unwrap_or(at).max(now);
    let go = quiet.map_or(want, |q| q.release_at(want, tz));
    (go < at).then_some(go)
}

const CANCELLED: &str = "预约已取消 / appointment cancelled";
const MOVED: &str = "预约已改期 / appointment moved";
const DONE: &str = "回访已完成 / revisit done";
const TOO_LATE: &str = "免打扰时段结束时已过预约时间 / quiet hours end after the appointment";

/// Withdraws a reminder that has not gone yet.
fn withdraw(c: &mut Conn, reminder: Option<i64>, reason: &str, now: Timestamp) -> guanxi_store::Result<()> {
    if let Some(id) = reminder
        && store::suppress(c, id, reason, now)?
    {
        jobs::cancel(c, OUTBOX_JOB, &id.to_string(), now)?;
    }
    Ok(())
}

fn audit_in(c: &mut Conn, uid: i64, action: &'static str, a: &Appointment, now: Timestamp) -> guanxi_store::Result<()> {
    audit::record(
        c,
        now,
        &audit::AuditEntry {
            actor_id: Some(uid),
            action,
            entity: "revisit_appointment",
            entity_id: Some(a.id),
            detail: format!("task {} at {} v{}", a.task_id, a.at, a.version),
            ip: None,
        },
    )
}

/// The task's appointment, if any.
pub async fn get(state: &AppState, user: &User, task_id: i64) -> AppResult<Option<AppointmentView>> {
    crate::service::maintenance::task_for(state, user, task_id).await?;
    Ok(state.db.read(move |c| store::appointment_of_task(c, task_id)?.map(|a| view_in(c, a)).transpose()).await?)
}

/// Schedules (or moves) the revisit of an open task and queues its reminder.
pub async fn schedule(
    state: &AppState,
    user: &User,
    task_id: i64,
    input: AppointmentInput,
) -> AppResult<AppointmentView> {
    if !user.role.can_edit_customers() {
        return Err(AppError::Forbidden);
    }
    let task = crate::service::maintenance::task_for(state, user, task_id).await?;
    if task.status != "open" {
        return Err(AppError::field("task", Issue::NotAllowed));
    }
    let (tz, now) = (state.config.time_zone.clone(), state.clock.now());
    let mut e = ValidationErrors::new();
    let at = e
        .check("at", parse_datetime(&input.at, &tz).and_then(|t| if t > now { Ok(t) } else { Err(Issue::OutOfRange) }));
    let agent_id = input.agent_id.or(task.owner_id).unwrap_or(user.id);
    let agent = state.db.read(move |c| store_users::get(c, agent_id)).await.ok().filter(|a| a.active);
    if agent.is_none() {
        e.add("agent_id", Issue::Unknown);
    }
    let (Some(at), Some(agent)) = (at, agent) else { return Err(e.into()) };
    if !e.is_empty() {
        return Err(e.into());
    }
    let cfg = settings::load(state).await?;
    let customer_id = task.customer_id;
    let (customer, refused) = state
        .db
        .read(move |c| Ok((store_customers::get(c, &Scope::All, customer_id)?, consent::refused_in(c, customer_id)?)))
        .await?;
    let channel =
        super::channels_for(Scenario::RevisitReminder, None, Some(&customer), &refused, &cfg).first().copied();
    // The reminder, rendered now (its key set in the transaction).
    let mut message = None;
    if let Some(ch) = channel {
        let tpl = state
            .db
            .read(move |c| store::template_for(c, Scenario::RevisitReminder.code(), ch.code()))
            .await?
            .ok_or_else(|| AppError::field("at", Issue::Unknown))?;
        let go = reminder_time(at, now, cfg.reminder_hours_before, cfg.quiet_hours, &tz);
        let vars = BTreeMap::from([
            ("customer_name".to_string(), customer.name.clone()),
            ("agent_name".to_string(), agent.name.clone()),
            ("revisit_time".to_string(), spoken_time(at, go.unwrap_or(now), &tz)),
        ]);
        let (recipient_enc, recipient_masked) = super::recipient(state, ch, Some(&customer), &cfg)?;
        message = Some(NewMessage {
            idempotency_key: String::new(),
            channel: ch.code().into(),
            scenario: Scenario::RevisitReminder.code().into(),
            customer_id: Some(customer.id),
            recipient_enc,
            recipient_masked,
            subject: templates::render(&tpl.subject, &vars).map_err(|i| AppError::field("at", i))?,
            body: templates::render(&tpl.body, &vars).map_err(|i| AppError::field("at", i))?,
            status: if go.is_some() { "queued" } else { "suppressed" }.into(),
            last_error: go.is_none().then(|| TOO_LATE.to_string()),
            not_before: go.unwrap_or(now),
            created_by: Some(user.id),
        });
    }
    let uid = user.id;
    Ok(state
        .db
        .write(move |c| {
            let before = store::appointment_of_task(c, task_id)?;
            if let Some(old) = &before {
                let reason = if old.status == "scheduled" { MOVED } else { CANCELLED };
                withdraw(c, old.reminder_id, reason, now)?;
            }
            let a = store::upsert_appointment(c, task_id, customer_id, at, Some(agent_id), uid, now)?;
            if let Some(mut m) = message {
                m.idempotency_key = format!("revisit-{}-v{}", a.id, a.version);
                let id = super::queue(c, std::slice::from_ref(&m), Some(uid), now)?.first().copied();
                store::set_appointment_reminder(c, a.id, id)?;
            }
            audit_in(c, uid, if before.is_some() { "reschedule" } else { "schedule" }, &a, now)?;
            let a = store::appointment_of_task(c, task_id)?.ok_or(guanxi_store::StoreError::NotFound)?;
            view_in(c, a)
        })
        .await?)
}

/// Cancels the task's appointment; its reminder, if still queued, is withdrawn.
pub async fn cancel(state: &AppState, user: &User, task_id: i64) -> AppResult<AppointmentView> {
    if !user.role.can_edit_customers() {
        return Err(AppError::Forbidden);
    }
    crate::service::maintenance::task_for(state, user, task_id).await?;
    let (uid, now) = (user.id, state.clock.now());
    Ok(state
        .db
        .write(move |c| {
            let a = store::appointment_of_task(c, task_id)?.ok_or(guanxi_store::StoreError::NotFound)?;
            if a.status == "scheduled" {
                withdraw(c, a.reminder_id, CANCELLED, now)?;
                store::close_appointment(c, a.id, "cancelled", now)?;
                audit_in(c, uid, "cancel", &a, now)?;
            }
            let a = store::appointment_of_task(c, task_id)?.ok_or(guanxi_store::StoreError::NotFound)?;
            view_in(c, a)
        })
        .await?)
}

/// A maintenance task was recorded done (in that transaction): its
/// appointment is done and a reminder not yet gone is withdrawn.
pub fn task_done_in(c: &mut Conn, task_id: i64, now: Timestamp) -> guanxi_store::Result<()> {
    if let Some(a) = store::appointment_of_task(c, task_id)?
        && a.status == "scheduled"
    {
        withdraw(c, a.reminder_id, DONE, now)?;
        store::close_appointment(c, a.id, "done", now)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use guanxi_domain::outreach::QuietHours;

    fn tz() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap_or(TimeZone::UTC)
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn the_reminder_says_tomorrow_and_waits_out_quiet_hours() {
        let q = QuietHours::parse("21:00-09:00").ok();
        // Appointment Wed 10:00 Shanghai (02:00Z); now Mon 15:00 (07:00Z): Tue 10:00.
        let at = ts("2026-11-25T02:00:00Z");
        let go = reminder_time(at, ts("2026-11-23T07:00:00Z"), 24, q, &tz());
        assert_eq!(go, Some(ts("2026-11-24T02:00:00Z")));
        assert_eq!(spoken_time(at, ts("2026-11-24T02:00:00Z"), &tz()), "明日10:00");
        assert_eq!(spoken_time(at, ts("2026-11-25T00:00:00Z"), &tz()), "今日10:00");
        assert_eq!(spoken_time(at, ts("2026-11-20T00:00:00Z"), &tz()), "11月25日10:00");
        // Appointment Wed 08:00: 24 h before is Tue 08:00, in quiet hours: Tue 09:00.
        let at = ts("2026-11-25T00:00:00Z");
        assert_eq!(reminder_time(at, ts("2026-11-23T07:00:00Z"), 24, q, &tz()), Some(ts("2026-11-24T01:00:00Z")));
        // Made at 22:00 for 08:00 the next morning: quiet hours end after it.
        assert_eq!(reminder_time(at, ts("2026-11-24T14:00:00Z"), 24, q, &tz()), None);
        // Made 2 h ahead in the day: now.
        let now = ts("2026-11-24T03:00:00Z");
        assert_eq!(reminder_time(ts("2026-11-24T05:00:00Z"), now, 24, q, &tz()), Some(now));
    }
}
