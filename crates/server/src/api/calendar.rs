//! The business calendar over the API (SPEC M3): the days of a range as the
//! default schedule works them, and the administrator's edits — a day's
//! override, a schedule's weekly hours.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use guanxi_domain::calendar::{CalendarDay, ScheduleHours, WeeklySchedule};
use guanxi_store::calendar::StoredSchedule;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::ApiUser;
use crate::error::{AppError, AppResult, Problem};
use crate::service::calendar as svc;
use crate::state::AppState;

/// One day of the calendar.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayView {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Worked on the default schedule.
    pub working: bool,
    /// The holiday (春节), the adjusted working day (春节调休上班), the
    /// administrator's name for the day, and the traditional festival
    /// (中秋节), joined (春节、除夕); `null` for an ordinary day.
    pub name: Option<String>,
    /// `workday`, `rest_day`, `holiday` or `adjusted_workday` (调休上班).
    pub kind: String,
    /// An administrator's override decided the day.
    pub overridden: bool,
}

impl From<&CalendarDay> for DayView {
    fn from(d: &CalendarDay) -> Self {
        Self {
            date: d.date.to_string(),
            working: d.working,
            name: d.name.clone(),
            kind: d.kind.code().into(),
            overridden: d.overridden,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// First day, `YYYY-MM-DD` (1950–2100).
    pub from: Option<String>,
    /// Last day, included; at most 366 days after `from`.
    pub to: Option<String>,
}

/// The days from `from` to `to` (both included): worked or not on the
/// default schedule, and their names — statutory holidays and adjusted
/// working days of 2020–2026 as the State Council published them, the
/// administrator's overrides, and the lunar festivals.
#[utoipa::path(get, path = "/api/v1/calendar/days", tag = "calendar", params(RangeQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<DayView>), (status = 401, body = Problem),
        (status = 422, description = "a bad or missing date, `to` before `from`, or more than 366 days; `errors` names the field", body = Problem)))]
pub async fn days(
    State(state): State<AppState>,
    ApiUser(_user): ApiUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Json<Vec<DayView>>> {
    let q: RangeQuery = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| AppError::BadRequest(format!("query string: {e}")))?;
    let days = svc::days(&state, q.from.as_deref(), q.to.as_deref()).await?;
    Ok(Json(days.iter().map(DayView::from).collect()))
}

/// An administrator's decision about a day.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideInput {
    /// Worked (`true`) or a day off (`false`).
    pub working: Option<bool>,
    /// The name shown for the day (at most 20 characters), e.g. 公司年会.
    pub name: Option<String>,
}

/// Sets a day's override (administrators): it wins over the shipped
/// statutory data. Answers the day as it now is.
#[utoipa::path(put, path = "/api/v1/calendar/overrides/{date}", tag = "calendar", params(("date" = String, Path, description = "YYYY-MM-DD")),
    request_body = OverrideInput, security(("bearer" = [])),
    responses((status = 200, body = DayView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn set_override(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(date): Path<String>,
    crate::api::json::Json(input): crate::api::json::Json<OverrideInput>,
) -> AppResult<Json<DayView>> {
    let o = svc::set_override(&state, &user, &date, input.working, input.name.as_deref()).await?;
    let day = svc::load(&state, svc::DEFAULT_SCHEDULE).await?.day(o.date);
    Ok(Json(DayView::from(&day)))
}

/// Removes a day's override (administrators); the shipped data decides the
/// day again. 404 when the day had none.
#[utoipa::path(delete, path = "/api/v1/calendar/overrides/{date}", tag = "calendar", params(("date" = String, Path, description = "YYYY-MM-DD")),
    security(("bearer" = [])),
    responses((status = 204, description = "removed"), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn clear_override(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(date): Path<String>,
) -> AppResult<StatusCode> {
    svc::clear_override(&state, &user, &date).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A named weekly schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleView {
    /// `default` (the company's), `7x24`, `7x12`, …
    pub code: String,
    pub name: String,
    pub hours: ScheduleHours,
}

fn schedule_view(s: &StoredSchedule, w: &WeeklySchedule) -> ScheduleView {
    ScheduleView { code: s.code.clone(), name: s.name.clone(), hours: ScheduleHours::from(w) }
}

/// The working-hour schedules, the default first.
#[utoipa::path(get, path = "/api/v1/calendar/schedules", tag = "calendar", security(("bearer" = [])),
    responses((status = 200, body = Vec<ScheduleView>), (status = 401, body = Problem)))]
pub async fn schedules(State(state): State<AppState>, ApiUser(_user): ApiUser) -> AppResult<Json<Vec<ScheduleView>>> {
    let all = svc::schedules(&state).await?;
    Ok(Json(all.iter().map(|(s, w)| schedule_view(s, w)).collect()))
}

/// Replaces a schedule's weekly hours (administrators), e.g.
/// `{"mon": ["09:00-12:00", "13:30-18:00"], …, "observes_holidays": true}`.
/// Each weekday's ranges are `HH:MM-HH:MM`, start before end, not
/// overlapping; errors name the weekday (`mon` … `sun`).
#[utoipa::path(put, path = "/api/v1/calendar/schedules/{code}", tag = "calendar", params(("code" = String, Path)),
    request_body = ScheduleHours, security(("bearer" = [])),
    responses((status = 200, body = ScheduleView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn save_schedule(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(code): Path<String>,
    crate::api::json::Json(hours): crate::api::json::Json<ScheduleHours>,
) -> AppResult<Json<ScheduleView>> {
    let (s, w) = svc::save_schedule(&state, &user, &code, &hours).await?;
    Ok(Json(schedule_view(&s, &w)))
}
