//! The business calendar (SPEC M3): the effective calendar of a schedule —
//! the shipped statutory data, the administrator's day overrides and the
//! lunar festivals — and the administrator's edits (a day's override, a
//! schedule's hours), each with its audit entry.

use guanxi_domain::ValidationErrors;
use guanxi_domain::calendar::{self, BusinessCalendar, CalendarDay, DayOverride, ScheduleHours, WeeklySchedule};
use guanxi_store::audit;
use guanxi_store::calendar::{self as store, StoredOverride, StoredSchedule};
use guanxi_store::users::User;
use jiff::civil::Date;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The company's schedule; the one the calendar endpoint and the admin page show.
pub const DEFAULT_SCHEDULE: &str = "default";

fn admin_only(user: &User) -> AppResult<()> {
    if user.role.can_administer_users() { Ok(()) } else { Err(AppError::Forbidden) }
}

fn to_domain(o: &StoredOverride) -> DayOverride {
    DayOverride { date: o.date, working: o.working, name: o.name.clone() }
}

/// A stored schedule's hours. They were checked before they were written,
/// so a failure here is a damaged row, not bad input.
pub fn parse_hours(s: &StoredSchedule) -> AppResult<WeeklySchedule> {
    let hours: ScheduleHours =
        serde_json::from_str(&s.hours).map_err(|e| AppError::Internal(format!("work_schedules.{}: {e}", s.code)))?;
    hours.parse().map_err(|e| AppError::Internal(format!("work_schedules.{}: {e}", s.code)))
}

/// The calendar of a schedule as it stands.
pub async fn load(state: &AppState, code: &str) -> AppResult<BusinessCalendar> {
    let code_owned = code.to_string();
    let (schedule, overrides) =
        state.db.read(move |c| Ok((store::schedule(c, &code_owned)?, store::overrides(c)?))).await?;
    let schedule = schedule.ok_or(AppError::NotFound)?;
    Ok(BusinessCalendar::new(parse_hours(&schedule)?, overrides.iter().map(to_domain), state.config.time_zone.clone()))
}

/// Every day of a range (query text, errors naming `from` and `to`) on the
/// default schedule.
pub async fn days(state: &AppState, from: Option<&str>, to: Option<&str>) -> AppResult<Vec<CalendarDay>> {
    let (from, to) = calendar::parse_range(from, to)?;
    Ok(load(state, DEFAULT_SCHEDULE).await?.days(from, to))
}

/// Sets a day's override (administrators). Errors name `date`, `working`
/// and `name`.
pub async fn set_override(
    state: &AppState,
    user: &User,
    date: &str,
    working: Option<bool>,
    name: Option<&str>,
) -> AppResult<DayOverride> {
    admin_only(user)?;
    let o = DayOverride::parse(date, working, name)?;
    let now = state.clock.now();
    let actor = user.id;
    let saved = o.clone();
    let detail = serde_json::json!({"date": o.date.to_string(), "working": o.working, "name": o.name}).to_string();
    state
        .db
        .write(move |c| {
            store::set_override(c, o.date, o.working, o.name.as_deref(), actor, now)?;
            audit::record(
                c,
                now,
                &audit::AuditEntry {
                    actor_id: Some(actor),
                    action: "update",
                    entity: "calendar_day",
                    entity_id: None,
                    detail,
                    ip: None,
                },
            )
        })
        .await?;
    state.ticket_setup.invalidate();
    Ok(saved)
}

/// Removes a day's override (administrators): the shipped data decides it
/// again. `NotFound` when the day had none.
pub async fn clear_override(state: &AppState, user: &User, date: &str) -> AppResult<Date> {
    admin_only(user)?;
    let date = calendar::parse_date(date).map_err(|i| ValidationErrors::single("date", i))?;
    let now = state.clock.now();
    let actor = user.id;
    let removed = state
        .db
        .write(move |c| {
            let removed = store::clear_override(c, date)?;
            if removed {
                audit::record(
                    c,
                    now,
                    &audit::AuditEntry {
                        actor_id: Some(actor),
                        action: "delete",
                        entity: "calendar_day",
                        entity_id: None,
                        detail: serde_json::json!({"date": date.to_string()}).to_string(),
                        ip: None,
                    },
                )?;
            }
            Ok(removed)
        })
        .await?;
    state.ticket_setup.invalidate();
    if removed { Ok(date) } else { Err(AppError::NotFound) }
}

/// Every schedule with its hours, the default first.
pub async fn schedules(state: &AppState) -> AppResult<Vec<(StoredSchedule, WeeklySchedule)>> {
    let rows = state.db.read(store::schedules).await?;
    rows.into_iter()
        .map(|s| {
            let w = parse_hours(&s)?;
            Ok((s, w))
        })
        .collect()
}

/// Replaces a schedule's hours (administrators). Errors name the weekday
/// (`mon` … `sun`), or `hours` for a week without any.
pub async fn save_schedule(
    state: &AppState,
    user: &User,
    code: &str,
    hours: &ScheduleHours,
) -> AppResult<(StoredSchedule, WeeklySchedule)> {
    admin_only(user)?;
    let schedule = hours.parse()?;
    let json = serde_json::to_string(&ScheduleHours::from(&schedule)).map_err(|e| AppError::Internal(e.to_string()))?;
    let now = state.clock.now();
    let actor = user.id;
    let code = code.to_string();
    let saved = state
        .db
        .write(move |c| {
            if !store::save_schedule_hours(c, &code, &json, actor, now)? {
                return Ok(None);
            }
            audit::record(
                c,
                now,
                &audit::AuditEntry {
                    actor_id: Some(actor),
                    action: "update",
                    entity: "work_schedule",
                    entity_id: None,
                    detail: serde_json::json!({"code": code, "hours": json}).to_string(),
                    ip: None,
                },
            )?;
            store::schedule(c, &code)
        })
        .await?
        .ok_or(AppError::NotFound)?;
    state.ticket_setup.invalidate();
    Ok((saved, schedule))
}
